/* See LICENSE file for copyright and license details. */
/*
 * libFuzzer target for config.c: config_load() on a command line and a
 * config file both made of the input.  The input is cut at NUL bytes: the
 * first piece is the config file (none if it is empty), each further piece
 * one argument, so "\0-w\0002" is `nodesockd -w 2` and
 * "{\"script\":\"app.js\"}\0start" is `nodesockd start -c DIR/c.json`.
 * The file and an app.js, an executable ./node and a directory sub/ live
 * in a private directory made at start-up, the current one while loading.
 *
 * config_load() returns its first problem instead of exiting.  Inputs
 * naming -c, -h or -V are skipped: they would read any file or print.
 *
 * Every load runs twice and must end the same way, with the same message
 * or the same struct config: nothing may carry over from the load before,
 * and a reload (the second, after a success) of what did not change
 * changes nothing.
 * A failure must have a message.  A success must hold what config_load
 * promises: absolute paths, the control socket and every worker's socket
 * (with its ".PID") short enough for sun_path, numbers in their ranges, a
 * variable name for listenVar, NULL-terminated env and command arrays, and
 * a script exactly when there is no command.  All that was
 * allocated is freed, so the leak checker watches config.c too.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_XOPEN_SOURCE=700 \
 *	    -DVERSION=\"fuzz\" -I. -o fuzz-config t/fuzz/config.c config.c json.c \
 *	    ipc.c t/fuzz/abort.c
 *	./fuzz-config -max_total_time=120 CORPUS-COPY
 */
#include <assert.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodesockd.h"

#define MAXARG	16

static char dir[] = "/tmp/nodesockd-fuzz-XXXXXX", file[64];
static int home;	/* the current directory, left for dir while loading */
static char msg[2][1024];
static struct config cfg[2];

static void
cleanup(void)
{
	char p[64];

	unlink(file);
	snprintf(p, sizeof(p), "%s/app.js", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/node", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

static void
mkfile(const char *name, int mode)
{
	char p[64];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode)) >= 0);
	close(fd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[64];

	(void)argc;
	(void)argv;
	assert(mkdtemp(dir));
	atexit(cleanup);
	mkfile("app.js", 0644);
	mkfile("node", 0755);
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert(mkdir(p, 0755) == 0);
	snprintf(file, sizeof(file), "%s/c.json", dir);
	assert((home = open(".", O_RDONLY)) >= 0);
	return 0;
}

/* An array is one block, its strings after its pointers. */
static void
freeenv(struct config *c)
{
	free(c->env);
	free(c->cmd);
}

/* Two NULL-ended arrays hold the same strings. */
static int
samev(char **a, char **b)
{
	int i;

	if (!a || !b)
		return a == b;
	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return a[i] == b[i];
}

static int
varname(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (*s != '_' && !(*s >= 'a' && *s <= 'z') &&
		    !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9'))
			return 0;
	return 1;
}

/* What a loaded config must hold. */
static void
check(const struct config *c)
{
	char path[PATH_MAX];
	int i;

	assert(c->req.cmd >= C_NONE && c->req.cmd < NCMDS);
	assert(!c->req.arg || commands[c->req.cmd].arg != A_NONE);
	assert(commands[c->req.cmd].arg < A_COUNT0 || (c->req.arg <= MAXWORKERS
	    && c->req.arg >= commands[c->req.cmd].arg - A_COUNT0));
	assert(c->tmpdir[0] == '/' && c->ipc[0] == '/');
	assert(strlen(c->ipc) < SUNLEN);
	if (c->req.cmd != C_NONE)
		return;
	assert(c->cmd ? c->cmd[0] && !c->script[0] : c->script[0] == '/');
	assert(c->node[0] && (c->cmd || c->nodejs));
	assert(c->workers >= 1 && c->workers <= MAXWORKERS);
	assert(c->onlinetimeout >= 1 && c->onlinetimeout <= MAXMS);
	assert(c->draindelay >= 0 && c->draindelay <= MAXMS);
	assert(c->shutdowntimeout >= 0 && c->shutdowntimeout <= MAXMS);
	assert(varname(c->listenvar));
	assert(!strchr(c->sockpat, '/'));
	assert(c->workers == 1 || strstr(c->sockpat, "{worker}"));
	for (i = 0; i < c->workers; i++) {
		config_sockpath(c, i, path, sizeof(path));
		assert(strlen(path) + 8 < SUNLEN);
	}
	for (i = 0; c->env && c->env[i]; i++)
		assert(varname(c->env[i]));
	assert(!c->cmd || c->cmd[0][0]);	/* the program; an argument may be "" */
}

/* Load twice; the second load must end as the first did. After a success
 * it is a reload of the first, which must find nothing to refuse and
 * nothing for workers started from now on. */
static void
load(int argc, char *argv[])
{
	char **env, **cmd;
	int k;

	for (k = 0; k < 2; k++) {
		if (config_load(&cfg[k], argc, argv, k && !msg[1][0] ? &cfg[0] : NULL,
		    msg[0], sizeof(msg[0])) < 0) {
			assert(msg[0][0]);
			freeenv(&cfg[k]);
			memset(&cfg[k], 0, sizeof(cfg[k]));
		} else {
			assert(!msg[0][0]);
			check(&cfg[k]);
		}
		if (k == 0)
			memcpy(msg[1], msg[0], sizeof(msg[1]));
	}
	assert(!strcmp(msg[0], msg[1]));
	assert(samev(cfg[0].env, cfg[1].env) && samev(cfg[0].cmd, cfg[1].cmd));
	env = cfg[0].env;
	cmd = cfg[0].cmd;
	cfg[0].env = cfg[1].env;
	cfg[0].cmd = cfg[1].cmd;
	assert(!memcmp(&cfg[0], &cfg[1], sizeof(cfg[0])));
	cfg[0].env = env;
	cfg[0].cmd = cmd;
	freeenv(&cfg[0]);
	freeenv(&cfg[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	char *buf, *p, *end, *argv[MAXARG + 4];
	int argc = 0, fd;

	if (!(buf = malloc(size + 1)))
		return 0;
	memcpy(buf, d, size);
	buf[size] = '\0';
	end = buf + size;
	argv[argc++] = "nodesockd";
	for (p = buf + strlen(buf) + 1; p <= end; p += strlen(p) + 1) {
		if (argc > MAXARG || !strncmp(p, "-c", 2) ||
		    !strncmp(p, "--c", 3) || !strncmp(p, "--h", 3) ||
		    !strncmp(p, "--v", 3) || !strcmp(p, "-h") ||
		    !strcmp(p, "-V")) {
			free(buf);
			return -1;
		}
		argv[argc++] = p;
	}
	if (buf[0]) {
		assert((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
		assert(write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
		close(fd);
		argv[argc++] = "-c";
		argv[argc++] = file;
	}
	argv[argc] = NULL;
	assert(chdir(dir) == 0);
	load(argc, argv);
	assert(fchdir(home) == 0);
	free(buf);
	return 0;
}
