/* See LICENSE file for copyright and license details. */
/*
 * libFuzzer target for json.c.  Each input is parsed with 256 tokens, then
 * with fewer: a success must repeat when the tokens suffice and turn into
 * "too many tokens" when they do not; a failure must stay a failure.  For a
 * success, every token is walked in pre-order and checked against the input:
 * its span lies inside its parent's and after its elder sibling's, its
 * line:col is where its first byte is, json_next() agrees with the walk, and
 * the accessors agree with each other (json_str into buffers of every
 * critical size, json_streq on what json_str gave, json_int with strtoll).
 * For a failure, line:col must name a byte of the input or its end.
 * And json_quote() of the input up to its first NUL parses as one string
 * that json_str() gives back whole; in a buffer too small, cut short, as
 * one string still, that is a beginning of it.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *	    -o fuzz-json t/fuzz/json.c json.c
 *	./fuzz-json -max_total_time=120 CORPUS-COPY
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodesockd.h"

#define NT	256

static const char *s;
static size_t n;
static struct jtok t[NT];

/* The offset of line:col, or -1 if the input has no such place. */
static long
offset(int line, int col)
{
	size_t i = 0;

	if (line < 1 || col < 1)
		return -1;
	for (; line > 1; line--) {
		while (i < n && s[i] != '\n')
			i++;
		if (i++ == n)
			return -1;
	}
	for (; col > 1; col--, i++) {
		if (i == n || s[i] == '\n')
			return -1;
	}
	return (long)i;
}

static int
has(const char *p, size_t len, const char *sub)
{
	size_t i, m = strlen(sub);

	for (i = 0; i + m <= len; i++) {
		if (!memcmp(p + i, sub, m))
			return 1;
	}
	return 0;
}

static void
checkstr(const struct jtok *k)
{
	size_t len = k->end - k->start;
	char *buf = malloc(len + 2), small[8];
	int r;

	assert(buf);
	r = json_str(s, k, buf, len + 1);
	if (r < 0) {
		/* Escapes never lengthen a string, so only U+0000 fails. */
		assert(has(s + k->start, len, "u0000"));
		assert(!json_streq(s, k, ""));
		free(buf);
		return;
	}
	assert((size_t)r <= len && strlen(buf) == (size_t)r);
	assert(json_streq(s, k, buf));
	assert(json_str(s, k, small, 0) == -1);
	assert(json_str(s, k, small, sizeof(small)) == (r < 8 ? r : -1));
	assert(r >= 8 || !strcmp(small, buf));
	assert(json_str(s, k, buf, r) == -1 && buf[0] == '\0');
	assert(json_str(s, k, buf, r + 1) == r && json_streq(s, k, buf));
	buf[r] = 'x';
	buf[r + 1] = '\0';
	assert(!json_streq(s, k, buf));
	if (r > 0) {
		buf[r - 1] = '\0';
		assert(!json_streq(s, k, buf));
	}
	free(buf);
}

/* An integer's value is strtoll's; a fraction, exponent or overflow is -1. */
static void
checknum(const struct jtok *k)
{
	const char *p = s + k->start;
	size_t len = k->end - k->start;
	char buf[64];
	long long v = 0, w;
	int r = json_int(s, k, &v);

	if (memchr(p, '.', len) || memchr(p, 'e', len) || memchr(p, 'E', len) ||
	    len >= sizeof(buf)) {
		assert(r == -1);
		return;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	errno = 0;
	w = strtoll(buf, NULL, 10);
	assert(errno == ERANGE ? r == -1 : r == 0 && v == w);
}

/* Where the next sibling may start: a string's closing quote is its own. */
static long
after(const struct jtok *k)
{
	return k->end + (k->type == J_STRING);
}

/* Check token i lying in [lo, hi) and its descendants; return the next. */
static int
walk(int i, int r, long lo, long hi)
{
	const struct jtok *k = &t[i];
	long first = k->type == J_STRING ? k->start - 1 : k->start;
	long prev;
	int j, c, cj;

	assert(i < r);
	assert(k->type >= J_OBJECT && k->type <= J_NULL);
	assert(0 <= k->start && k->start <= k->end && (size_t)k->end <= n);
	assert(lo <= first && k->end <= hi);
	assert(offset(k->line, k->col) == first);
	assert(k->size >= 0);
	switch (k->type) {
	case J_OBJECT:
	case J_ARRAY:
		assert(s[k->start] == (k->type == J_OBJECT ? '{' : '['));
		assert(s[k->end - 1] == (k->type == J_OBJECT ? '}' : ']'));
		prev = k->start + 1;
		for (j = i + 1, c = 0; c < k->size; c++) {
			assert(j < r);
			assert(t[j].type == J_STRING || k->type == J_ARRAY);
			assert(k->type == J_ARRAY || t[j].size == 1);
			cj = j;
			j = walk(j, r, prev, k->end - 1);
			prev = after(&t[k->type == J_OBJECT ? cj + 1 : cj]);
		}
		break;
	case J_STRING:
		assert(s[k->start - 1] == '"' && s[k->end] == '"');
		assert(k->size <= 1);
		checkstr(k);
		j = i + 1;
		if (k->size)
			j = walk(j, r, after(k), hi);
		break;
	default:
		assert(k->size == 0);
		if (k->type == J_NUMBER)
			checknum(k);
		else
			assert(json_int(s, k, &(long long){0}) == -1);
		j = i + 1;
		break;
	}
	if (k->type != J_STRING) {
		assert(json_str(s, k, (char[4]){0}, 4) == -1);
		assert(!json_streq(s, k, ""));
	}
	assert(json_next(t, i) == j && j <= r);
	return j;
}

/* json_quote's output is one string token that decodes to a prefix of in,
 * the whole of it if the buffer had six bytes a byte and three more. */
static void
checkquote(const char *in, size_t bufsize)
{
	char *q = malloc(bufsize), *back = malloc(strlen(in) + 1);
	struct jtok k[1];
	struct jerr e;
	int r;

	assert(q && back);
	assert(json_quote(q, bufsize, in) == q);
	assert(json_parse(q, strlen(q), k, 1, &e) == 1 && k[0].type == J_STRING);
	r = json_str(q, &k[0], back, strlen(in) + 1);
	assert(r >= 0 && !strncmp(back, in, r));
	assert(bufsize < 6 * strlen(in) + 3 || (size_t)r == strlen(in));
	free(q);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	char *in;
	static const int less[] = { 0, 1, 2, 8 };
	struct jerr e;
	struct jtok few[8];
	unsigned i;
	int r, r2;

	in = malloc(size + 1);
	assert(in);
	memcpy(in, d, size);
	in[size] = '\0';
	checkquote(in, 6 * strlen(in) + 3);
	checkquote(in, 16);
	free(in);
	s = (const char *)d;
	n = size;
	memset(&e, 0, sizeof(e));
	r = json_parse(s, n, t, NT, &e);
	if (r < 0) {
		assert(e.msg[0] && memchr(e.msg, '\0', sizeof(e.msg)));
		assert(offset(e.line, e.col) >= 0);
	} else {
		assert(r >= 1 && r <= NT);
		assert(walk(0, r, 0, n) == r && json_next(t, 0) == r);
	}
	for (i = 0; i < sizeof(less) / sizeof(less[0]); i++) {
		r2 = json_parse(s, n, few, less[i], &e);
		if (r >= 0 && r <= less[i])
			assert(r2 == r && !memcmp(few, t, r * sizeof(*t)));
		else if (r >= 0)
			assert(r2 == -1 && !strcmp(e.msg, "too many tokens"));
		else
			assert(r2 == -1);
		assert(r2 >= 0 || offset(e.line, e.col) >= 0);
	}
	return 0;
}
