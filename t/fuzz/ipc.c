/* See LICENSE file for copyright and license details. */
/*
 * libFuzzer target for ipc_parse(), the control-line parser.  The input is
 * one line as lines_next() hands it over: cut at its first NUL or newline
 * and at LINEMAX - 1 bytes, in a buffer of its own size so that a read past
 * its end is caught.  The result must be what a model of the protocol says:
 * 0 for a line of blanks; for "start", "stop", "restart", "resume" or
 * "status", that command, with "suspended" allowed (and told) after start
 * and restart only; -1 otherwise, with "unknown command ..." when the first
 * word is no command.  An error is one line of printable ASCII that fits
 * err, whatever its size; the parse is the same for every size of err.
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

static const char *names[] = {
	[C_START] = "start", [C_STOP] = "stop", [C_RESTART] = "restart",
	[C_RESUME] = "resume", [C_STATUS] = "status",
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

/* What ipc_parse() should return for the line s[0..len). */
static int
model(const char *s, size_t len, int *susp, int *unknown)
{
	const char *w[MAXWORD];
	size_t wl[MAXWORD];
	int n, k;

	*susp = *unknown = 0;
	if ((n = words(s, len, w, wl)) == 0)
		return 0;
	for (k = C_START; k <= C_STATUS && !is(w[0], wl[0], names[k]); k++)
		;
	*susp = n >= 2 && is(w[1], wl[1], "suspended");
	if (k > C_STATUS) {
		*unknown = 1;
		return -1;
	}
	if (n == 1)
		return k;
	if (n == 2 && *susp && (k == C_START || k == C_RESTART))
		return k;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	static const size_t errsize[] = { 1, 2, 16, 128, 512 };
	char *line, err[512 + 1];
	size_t len, i, j;
	int want, wsusp, unknown, r, susp, first = -2;

	for (len = 0; len < size && len < LINEMAX - 1 && d[len] != '\n' &&
	    d[len] != '\0'; len++)
		;
	want = model((const char *)d, len, &wsusp, &unknown);
	for (i = 0; i < LEN(errsize); i++) {
		assert((line = malloc(len + 1)));
		memcpy(line, d, len);
		line[len] = '\0';
		memset(err, 'x', sizeof(err));
		susp = -1;
		r = ipc_parse(line, &susp, err, errsize[i]);
		free(line);
		assert(r == want);
		assert(first == -2 || r == first);
		first = r;
		if (r > 0)
			assert(susp == wsusp);
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
