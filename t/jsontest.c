/* See LICENSE file for copyright and license details. */
/*
 * Test driver for json.c: jsontest FILE [NTOK [KEY]] reads FILE ("-" for
 * stdin) and prints one line per token, "TYPE START END SIZE LINE:COL", a
 * string's json_str() result in brackets ("(-1)" if it fails) and an integer
 * number's json_int() value after '='.  Given KEY it prints only the value of
 * that member of the top-level object, found with json_streq() and
 * json_next() as config.c does, or "no KEY".  On a parse error it prints
 * "LINE:COL: MSG" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nodesockd.h"

static const char *tname[] = {
	[J_OBJECT] = "object", [J_ARRAY] = "array", [J_STRING] = "string",
	[J_NUMBER] = "number", [J_TRUE] = "true", [J_FALSE] = "false",
	[J_NULL] = "null",
};

static void
show(const char *s, const struct jtok *t)
{
	char buf[4096];
	long long v;

	printf("%s %d %d %d %d:%d", tname[t->type], t->start, t->end, t->size,
	    t->line, t->col);
	if (t->type == J_STRING) {
		if (json_str(s, t, buf, sizeof(buf)) < 0)
			printf(" (-1)");
		else
			printf(" [%s]", buf);
	}
	if (json_int(s, t, &v) == 0)
		printf(" =%lld", v);
	putchar('\n');
}

int
main(int argc, char *argv[])
{
	FILE *f = stdin;
	struct jtok *t;
	struct jerr e;
	char *s = NULL;
	size_t len = 0, cap = 0;
	int i, k, n, nt = argc > 2 ? atoi(argv[2]) : 128;

	if (argc < 2) {
		fprintf(stderr, "usage: jsontest FILE [NTOK [KEY]]\n");
		return 2;
	}
	if (strcmp(argv[1], "-") && !(f = fopen(argv[1], "rb"))) {
		perror(argv[1]);
		return 2;
	}
	do {
		if (len == cap && !(s = realloc(s, cap = cap * 2 + 4096)))
			return 2;
		len += fread(s + len, 1, cap - len, f);
	} while (!feof(f) && !ferror(f));
	/* Quotes past the end: reading beyond len would close a cut string. */
	if (!(s = realloc(s, len + 16)))
		return 2;
	if (!(t = calloc(nt > 0 ? nt : 1, sizeof(*t))))
		return 2;
	memset(s + len, '"', 16);
	if ((n = json_parse(s, len, t, nt, &e)) < 0) {
		printf("%d:%d: %s\n", e.line, e.col, e.msg);
		return 1;
	}
	if (argc < 4) {
		for (i = 0; i < n; i++)
			show(s, &t[i]);
		return 0;
	}
	for (i = 1, k = 0; t[0].type == J_OBJECT && k < t[0].size; k++) {
		if (json_streq(s, &t[i], argv[3])) {
			show(s, &t[i + 1]);
			return 0;
		}
		i = json_next(t, i + 1);
	}
	printf("no %s\n", argv[3]);
	return 0;
}
