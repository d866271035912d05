/* See LICENSE file for copyright and license details. */
/*
 * A strict JSON tokenizer in the manner of jsmn: the caller owns the token
 * array, nothing is allocated, and a token holds byte offsets into the input,
 * never a copy.  json_parse() reads exactly one value by recursive descent,
 * one function per kind of value, and fills the tokens in pre-order: a
 * container comes before its children.  The children of an object are its
 * keys; as in jsmn each key has size 1 and is followed by the tokens of its
 * value, so json_next() skips a key together with its value:
 *
 *	for (i = 1, k = 0; k < t[0].size; k++, i = json_next(t, i))
 *		if (json_streq(s, &t[i], "workers")) ... t[i + 1] ...
 *
 * Unlike jsmn it checks all that RFC 8259 asks: literals and numbers in full,
 * escapes and surrogate pairs, control characters, text after the value.  It
 * counts lines as it skips whitespace, the one place a newline may occur, so
 * an error can say where it is: at the offending byte, or at the end of the
 * input, except that a bad number or literal is reported where it starts, an
 * unterminated string at its opening quote, and a token that finds the array
 * full where it starts.  No token but a container spans lines, which is why
 * the current line is always the right one.  Nesting is limited to MAXDEPTH,
 * which also bounds the recursion.
 *
 * The accessors trust their token to come from json_parse() on the same
 * input and decode escapes without checking them again.  Start reading
 * json_parse().
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodesockd.h"

#define MAXDEPTH	64
#define MAXLEN		(INT_MAX - 8)	/* room to look a few bytes ahead */

struct parser {
	const char *s;
	int len, pos;
	int line, bol;		/* the current line, the offset it begins at */
	struct jtok *t;
	int nt, n;		/* tokens available, tokens used */
	struct jerr *e;
};

static int container(struct parser *p, int depth);

/* The byte each one-letter escape stands for; 0: not an escape. */
static const char esc[256] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

static const char *litname[] = {
	[J_TRUE] = "true", [J_FALSE] = "false", [J_NULL] = "null",
};

static int
fail(struct parser *p, int pos, const char *msg)
{
	p->e->line = p->line;
	p->e->col = pos - p->bol + 1;
	snprintf(p->e->msg, sizeof(p->e->msg), "%s", msg);
	return -1;
}

/* Report msg at the current byte, or the end of the input if there is none. */
static int
bad(struct parser *p, const char *msg)
{
	return fail(p, p->pos, p->pos >= p->len ? "unexpected end of input" : msg);
}

/* Skip whitespace, counting lines; return the next byte, or -1 at the end. */
static int
peek(struct parser *p)
{
	for (; p->pos < p->len; p->pos++) {
		if (p->s[p->pos] == '\n') {
			p->line++;
			p->bol = p->pos + 1;
		} else if (!memchr(" \t\r", p->s[p->pos], 3)) {
			return (unsigned char)p->s[p->pos];
		}
	}
	return -1;
}

static int
newtok(struct parser *p, int type, int start, int end)
{
	if (p->n >= p->nt)
		return fail(p, start, "too many tokens");
	p->t[p->n] = (struct jtok){ .type = type, .start = start, .end = end,
	    .line = p->line, .col = start - p->bol + 1 };
	return p->n++;
}

/* The value of four hex digits, already checked. */
static int
hex4(const char *s)
{
	char b[5] = "";

	return (int)strtol(memcpy(b, s, 4), NULL, 16);
}

static int
digits(const char *s, int i, int end)
{
	while (i < end && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* Whether s[i..end) is exactly -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
numeric(const char *s, int i, int end)
{
	int j;

	if (i < end && s[i] == '-')
		i++;
	if ((j = digits(s, i, end)) == i || (s[i] == '0' && j > i + 1))
		return 0;	/* no digit, or a leading zero */
	i = j;
	if (i < end && s[i] == '.' && (i = digits(s, i + 1, end)) == j + 1)
		return 0;	/* no digit after the '.', at j */
	if (i < end && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < end && (s[i] == '+' || s[i] == '-'))
			i++;
		return i < end && digits(s, i, end) == end;
	}
	return i == end;
}

/*
 * A string is checked before its token is taken: n is the length of the
 * character or escape at b, u a \u escape's code unit, and hi where a high
 * surrogate escape was, for the low one that must follow it at once.
 */
static int
string(struct parser *p)
{
	const char *s = p->s;
	int quote, i, b, c, k, n, u, hi, lo;

	quote = p->pos++;
	for (hi = -1, c = 0; c != '"'; p->pos += n) {
		if ((b = p->pos) >= p->len)
			return fail(p, quote, "unterminated string");
		if ((c = (unsigned char)s[b]) < 0x20)
			return fail(p, b, "control character in string");
		n = c != '\\' ? 1 : b + 1 < p->len && s[b + 1] == 'u' ? 6 : 2;
		for (k = 1; k < n; k++)
			if (b + k >= p->len)
				return fail(p, quote, "unterminated string");
			else if (k > 1 && !isxdigit((unsigned char)s[b + k]))
				return fail(p, b, "invalid \\u escape");
		if (n == 2 && !esc[(unsigned char)s[b + 1]])
			return fail(p, b, "invalid escape in string");
		u = n == 6 ? hex4(s + b + 2) : -1;
		lo = u >= 0xdc00 && u <= 0xdfff;
		if ((hi >= 0) != lo)
			return fail(p, lo ? b : hi, "invalid surrogate pair");
		hi = (u >= 0xd800 && u <= 0xdbff) ? b : -1;
	}
	if ((i = newtok(p, J_STRING, quote, p->pos - 1)) >= 0)
		p->t[i].start = quote + 1;
	return i;
}

/* An object member's key and the ':' after it; the key's child is the value. */
static int
key(struct parser *p)
{
	int k;

	if (peek(p) != '"')
		return bad(p, "expected string as object key");
	if ((k = string(p)) < 0)
		return -1;
	p->t[k].size = 1;
	if (peek(p) != ':')
		return bad(p, "expected ':' after object key");
	p->pos++;
	return k;
}

/* A number or a literal: the whole run of word bytes must be one. */
static int
scalar(struct parser *p)
{
	int start = p->pos, end, type;

	/* The bytes that may continue one: "1x" is one bad token. */
	for (end = start; end < p->len && (isalnum((unsigned char)p->s[end])
	    || memchr(".+-", p->s[end], 3)); end++)
		;
	for (type = J_NULL; type > J_NUMBER; type--)	/* J_NUMBER if none */
		if ((int)strlen(litname[type]) == end - start &&
		    !memcmp(p->s + start, litname[type], end - start))
			break;
	if (type == J_NUMBER && !numeric(p->s, start, end))
		return fail(p, start, isalpha((unsigned char)p->s[start])
		    ? "invalid literal" : "invalid number");
	p->pos = end;
	return newtok(p, type, start, end);
}

/* Parse one value at depth containers down; return its token or -1. */
static int
value(struct parser *p, int depth)
{
	char msg[32];
	int c = peek(p);

	if (c == '{' || c == '[')
		return container(p, depth);
	if (c == '"')
		return string(p);
	if (c == 't' || c == 'f' || c == 'n' || c == '-' || isdigit(c))
		return scalar(p);
	snprintf(msg, sizeof(msg), isprint(c) ? "unexpected character '%c'"
	    : "unexpected character '\\x%02x'", c);
	return bad(p, msg);	/* or the end of the input, if c is -1 */
}

/* An object or an array: the same but for the key and ':' before a member. */
static int
container(struct parser *p, int depth)
{
	int obj = p->s[p->pos] == '{', close = obj ? '}' : ']';
	int i, c;

	if (depth >= MAXDEPTH)
		return fail(p, p->pos, "nesting too deep");
	if ((i = newtok(p, obj ? J_OBJECT : J_ARRAY, p->pos, p->pos)) < 0)
		return -1;
	p->pos++;
	for (c = peek(p); c != close;) {
		if ((obj && key(p) < 0) || value(p, depth + 1) < 0)
			return -1;
		p->t[i].size++;
		if ((c = peek(p)) == ',')
			p->pos++;
		else if (c != close)
			return bad(p, obj ? "expected ',' or '}' after object member"
			    : "expected ',' or ']' after array element");
	}
	p->t[i].end = ++p->pos;
	return i;
}

int
json_parse(const char *s, size_t len, struct jtok *t, int nt, struct jerr *e)
{
	struct parser p = { .s = s, .line = 1, .t = t, .nt = nt, .e = e };

	if (len > MAXLEN)
		return fail(&p, 0, "input too long");
	p.len = (int)len;
	if (value(&p, 0) < 0)
		return -1;
	if (peek(&p) >= 0)
		return fail(&p, p.pos, "trailing characters after value");
	return p.n;
}

/* Each token visited is one fewer to go and its children more. */
int
json_next(const struct jtok *t, int i)
{
	int left;

	for (left = 1; left > 0; i++)
		left += t[i].size - 1;
	return i;
}

/*
 * Decode the character at s[*i] into u as UTF-8 and step past it; return
 * its length in bytes, or 0 for U+0000.
 */
static int
decode(const char *s, int *i, unsigned char *u)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	long c;
	int n, k;

	if (s[*i] != '\\' || s[*i + 1] != 'u') {
		u[0] = s[*i] == '\\' ? esc[(unsigned char)s[*i + 1]] : s[*i];
		*i += s[*i] == '\\' ? 2 : 1;
		return 1;
	}
	c = hex4(s + *i + 2);
	*i += 6;
	if (c >= 0xd800 && c <= 0xdbff) {
		c = 0x10000 + (c - 0xd800) * 0x400 + hex4(s + *i + 2) - 0xdc00;
		*i += 6;
	}
	if (c == 0)
		return 0;
	n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
	for (k = n - 1; k > 0; k--, c >>= 6)
		u[k] = 0x80 | (c & 0x3f);
	u[0] = lead[n] | c;
	return n;
}

/* On failure buf holds the empty string, if it holds anything. */
int
json_str(const char *s, const struct jtok *t, char *buf, size_t n)
{
	unsigned char u[4];
	size_t len = 0;
	int i, k;

	if (n > 0)
		buf[0] = '\0';
	if (n == 0 || t->type != J_STRING)
		return -1;
	for (i = t->start; i < t->end; len += k) {
		if ((k = decode(s, &i, u)) == 0 || len + k >= n) {
			buf[0] = '\0';
			return -1;
		}
		memcpy(buf + len, u, k);
	}
	buf[len] = '\0';
	return (int)len;
}

/* Decoded into a buffer one byte longer than lit: a longer string fails. */
int
json_streq(const char *s, const struct jtok *t, const char *lit)
{
	char buf[strlen(lit) + 1];

	return json_str(s, t, buf, sizeof(buf)) >= 0 && !strcmp(buf, lit);
}

/* By strtoll(3), on a copy: the input goes on after the token. */
int
json_int(const char *s, const struct jtok *t, long long *v)
{
	char buf[64], *end;
	int n = t->end - t->start;

	if (t->type != J_NUMBER || n >= (int)sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", n, s + t->start);
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return *end || errno ? -1 : 0;
}

/* s as a JSON string, quoted and escaped, into buf: six bytes an input
 * byte and three are enough, else it is cut short. */
char *
json_quote(char *buf, size_t n, const char *s)
{
	size_t i = 1;

	for (buf[0] = '"'; *s && i + 8 <= n; s++)
		i += snprintf(buf + i, n - i, *s == '"' || *s == '\\' ? "\\%c"
		    : (unsigned char)*s < 0x20 ? "\\u%04x" : "%c", *s);
	snprintf(buf + i, n - i, "\"");
	return buf;
}
