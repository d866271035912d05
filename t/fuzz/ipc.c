/* See LICENSE file for copyright and license details. */
/*
 * libFuzzer target for ipc_parse(), the control-line parser.  The input is
 * one line as lines_next() hands it over: cut at its first NUL or newline
 * and at LINEMAX - 1 bytes, in a buffer of its own size so that a read past
 * its end is caught.  The result must be what a model of the protocol says:
 * 0 for a line of blanks; 1 for a command of the table that is not for the
 * command line only, with its word allowed (and told) after a command that
 * takes one, its count (required: 1 to MAXWORKERS for scale, 0 to it for
 * standby) after one that takes a count, and nothing after the others; -1 otherwise, with "unknown command ..." when
 * the first word is no command.  An error is one line of printable ASCII
 * that fits err, whatever its size; the parse is the same for every size of
 * err.  The model has its own list of the commands.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_XOPEN_SOURCE=700 \
 *	    -DVERSION=\"fuzz\" -I. -o fuzz-ipc t/fuzz/ipc.c t/fuzz/abort.c ipc.c
 *	./fuzz-ipc -max_total_time=120 CORPUS-COPY
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodesockd.h"

#define MAXWORD	4

/* Each command of the control lines, and the word it takes; "N1": a count
 * from 1, "N0": from 0. */
static const char *names[][2] = {
	[C_START] = { "start", "suspended" }, [C_STOP] = { "stop", NULL },
	[C_RESTART] = { "restart", "suspended" }, [C_RESUME] = { "resume", NULL },
	[C_SCALE] = { "scale", "N1" }, [C_STANDBY] = { "standby", "N0" },
	[C_STATUS] = { "status", "--json" }, [C_CONFIG] = { "config", NULL },
	[C_RELOAD] = { "reload", NULL }, [C_NGINX] = { "nginx", NULL },
};

/* Split s at blanks into at most MAXWORD words; return how many there were. */
static int
words(const char *s, size_t len, const char **w, size_t *wl)
{
	size_t i = 0, j;
	int n = 0;

	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			return n;
		for (j = i; j < len && s[j] != ' ' && s[j] != '\t'; j++)
			;
		if (n < MAXWORD) {
			w[n] = s + i;
			wl[n] = j - i;
		}
		n++;
		i = j;
	}
}

static int
is(const char *w, size_t wl, const char *lit)
{
	return wl == strlen(lit) && !memcmp(w, lit, wl);
}

/* The count w[0..wl) says, if all digits and from min to MAXWORKERS; else -1. */
static int
count(const char *w, size_t wl, int min)
{
	long v = 0;
	size_t i;

	for (i = 0; i < wl; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -1;
		if ((v = v * 10 + (w[i] - '0')) > MAXWORKERS)
			v = MAXWORKERS + 1;
	}
	return wl && v >= min && v <= MAXWORKERS ? (int)v : -1;
}

/* What ipc_parse() should return for the line s[0..len). */
static int
model(const char *s, size_t len, struct request *r, int *unknown)
{
	const char *w[MAXWORD], *word;
	size_t wl[MAXWORD];
	int n, k;

	*unknown = 0;
	if ((n = words(s, len, w, wl)) == 0)
		return 0;
	for (k = 1; k < (int)LEN(names) && !is(w[0], wl[0], names[k][0]); k++)
		;
	if (k == (int)LEN(names)) {
		*unknown = 1;
		return -1;
	}
	r->cmd = k;
	word = names[k][1];
	if (word && word[0] == 'N') {
		r->arg = n == 2 ? count(w[1], wl[1], word[1] - '0') : -1;
		return r->arg >= 0 ? 1 : -1;
	}
	r->arg = n >= 2 && word && is(w[1], wl[1], word);
	if (n == 1 || (n == 2 && r->arg))
		return 1;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	static const size_t errsize[] = { 1, 2, 16, 128, 512 };
	char *line, err[512 + 1];
	struct request want, got;
	size_t len, i, j;
	int wanted, unknown, r, first = -2;

	for (len = 0; len < size && len < LINEMAX - 1 && d[len] != '\n' &&
	    d[len] != '\0'; len++)
		;
	wanted = model((const char *)d, len, &want, &unknown);
	for (i = 0; i < LEN(errsize); i++) {
		assert((line = malloc(len + 1)));
		memcpy(line, d, len);
		line[len] = '\0';
		memset(err, 'x', sizeof(err));
		memset(&got, 0xff, sizeof(got));
		r = ipc_parse(line, &got, err, errsize[i]);
		free(line);
		assert(r == wanted);
		assert(first == -2 || r == first);
		first = r;
		if (r > 0)
			assert(got.cmd == want.cmd && got.arg == want.arg);
		/* Nothing past the size it was given. */
		assert(err[errsize[i]] == 'x');
		if (r >= 0)
			continue;
		assert(memchr(err, '\0', errsize[i]));
		for (j = 0; err[j]; j++)
			assert(err[j] >= ' ' && err[j] <= '~');
		if (errsize[i] >= 128)
			assert(!strncmp(err, unknown ? "unknown command '" :
			    "usage: ", unknown ? 17 : 7));
	}
	return 0;
}
