/* See LICENSE file for copyright and license details. */
/*
 * libFuzzer target for the line framing of ipc.c: lines_fill() and
 * lines_next(), as the daemon uses them on the control socket and the
 * worker channel.  The first two bytes of the input seed the schedule, the
 * rest is the stream.  It goes through a pipe in chunks of 1 to 16 or of up
 * to LINEMAX bytes, never more than the buffer has room for; after each chunk lines_fill() reads once and
 * lines_next() is called 1 to 4 times or until it has no more, as a client
 * that stops taking commands while it waits leaves lines in the buffer.
 * At the end the pipe is closed and lines_fill() is called until it says
 * end of file, taking every line after each call.
 *
 * What comes out must be what a model of ipc.c's comment says: every line
 * ended by a newline whose text (a CR before the newline not counted) is at
 * most LINEMAX - 1 bytes comes out once, in order, in place in the buffer,
 * NUL-terminated, CR removed, each NUL byte in it made DEL; a longer line,
 * or an unended one that fills the buffer, is dropped and reported once
 * with -1; an unended line at the end, once lines_fill() has seen the end
 * of file, is taken as if a newline ended it.  The offsets never leave the buffer, which is allocated
 * to its exact size so that a write past it is caught.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_XOPEN_SOURCE=700 \
 *	    -DVERSION=\"fuzz\" -I. -o fuzz-lines t/fuzz/lines.c t/fuzz/abort.c ipc.c
 *	./fuzz-lines -max_total_time=120 -max_len=20000 CORPUS-COPY
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodesockd.h"

static const char *s;	/* the stream */
static size_t n, pos;	/* its length, where the model is in it */
static int atend;	/* lines_fill() saw the end of file */
static unsigned seed;

static unsigned
rnd(void)
{
	seed = seed * 1103515245 + 12345;
	return seed >> 16;
}

/*
 * What lines_next() must give next, the buffer having taken s[0..got) and
 * the lines before s[pos]: 1 and the line's place (its CR dropped), -1 for
 * a line that has no newline and fills the buffer, or 0.
 */
static int
model(size_t got, size_t *start, size_t *len)
{
	const char *nl = memchr(s + pos, '\n', got - pos);

	assert(got - pos <= LINEMAX);
	*start = pos;
	if (!nl && atend && got > pos && got - pos < LINEMAX) {
		*len = got - pos - (s[got - 1] == '\r');
		return 1;
	}
	if (!nl)
		return got - pos == LINEMAX ? -1 : 0;
	*len = nl - (s + pos);
	if (*len > 0 && nl[-1] == '\r')
		(*len)--;
	return 1;
}

/* Move pos past the newline of a line being dropped, if it has come. */
static void
skip(size_t got, int *skipping)
{
	const char *nl = memchr(s + pos, '\n', got - pos);

	pos = nl ? (size_t)(nl - s) + 1 : got;
	*skipping = !nl;
}

static void
check(const struct lines *l)
{
	assert(l->off <= l->len && l->len <= sizeof(l->buf));
	assert(l->skip == 0 || l->skip == 1);
}

/* Call lines_next() up to max times (0: until it has nothing) and check. */
static void
take(struct lines *l, size_t got, int max, int *skipping)
{
	char *line;
	size_t start, len = 0, k;
	int r, want, i;

	for (i = 0; max == 0 || i < max; i++) {
		if (*skipping)
			skip(got, skipping);
		want = *skipping ? 0 : model(got, &start, &len);
		line = NULL;
		r = lines_next(l, &line);
		check(l);
		assert(r == want);
		if (r == 0)
			return;
		if (r < 0) {
			assert(l->skip);
			skip(got, skipping);
			continue;
		}
		assert(line >= l->buf && line + len < l->buf + l->len);
		for (k = 0; k < len; k++)
			assert(line[k] == (s[start + k] ? s[start + k] : 0x7f));
		assert(line[len] == '\0');
		pos = start + len + 1 + (start + len < n && s[start + len] == '\r');
		if (pos > n)
			pos = n;	/* the line ended by the end of file */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	struct lines *l;
	size_t got, chunk, room;
	int fd[2], skipping = 0, r;

	if (size < 2)
		return -1;
	seed = d[0] | d[1] << 8;
	s = (const char *)d + 2;
	n = size - 2;
	pos = got = 0;
	assert((l = calloc(1, sizeof(*l))));
	assert(pipe(fd) == 0);
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	while (got < n) {
		/* No more than lines_fill() reads at once, so it takes all. */
		chunk = rnd() % 4 ? 1 + rnd() % 16 : 1 + rnd() % LINEMAX;
		room = sizeof(l->buf) - (l->len - l->off);
		if (chunk > n - got)
			chunk = n - got;
		if (chunk > room)
			chunk = room;
		if (chunk > 0)
			assert(write(fd[1], s + got, chunk) == (ssize_t)chunk);
		assert(lines_fill(fd[0], l) == 1);
		check(l);
		got += chunk;
		take(l, got, rnd() % 2 ? 0 : 1 + rnd() % 4, &skipping);
	}
	close(fd[1]);
	while ((r = lines_fill(fd[0], l)) > 0) {
		check(l);
		take(l, n, 0, &skipping);
	}
	assert(r == 0);
	atend = 1;
	take(l, n, 0, &skipping);
	atend = 0;
	close(fd[0]);
	free(l);
	return 0;
}
