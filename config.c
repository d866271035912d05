/* See LICENSE file for copyright and license details.
 *
 * The command line and the JSON config file, made one struct config.
 *
 * argv is read first into settings[], one per config key, each remembering
 * where it came from. The file fills in what the command line left unset
 * (the command line wins), then every path is made absolute by the rules of
 * DESIGN.md: with -c, relative paths, the command line's included, are taken
 * from the config file's directory (the base directory); without -c, from
 * the current directory. socketFile and a relative ipcFile live in tmpDir.
 * Last, everything that can fail before a worker starts is checked. Nothing
 * here exits: the first problem is kept, with file:line:col when it came
 * from the file, and config_load() returns -1; the daemon's reload runs the
 * same code on the same argv, with the running configuration as was.
 * Clients (start, stop, ...) only need the control socket's path and skip
 * the checks that concern the workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodesockd.h"

#define MAXFILE	65536	/* the largest config file read */
#define MAXTOK	1024
#define OFF(f)	offsetof(struct config, f)

/* In the order of config's output: what a worker is given at its start,
 * where the sockets are, then the counts and timeouts. */
enum { K_SCRIPT, K_NODE, K_COMMAND, K_ENV, K_LISTENVAR, K_ORPHAN, K_WATCHDOG,
	K_TMPDIR, K_SOCKFILE, K_IPCFILE, K_WORKERS, K_STANDBY, K_ONLINE, K_DRAIN,
	K_SHUTDOWN, K_NOTIFY, K_CONFIG, NKEYS };

/* Each key: its names, its type, and where it goes in struct config (an
 * int for a number, a char[PATH_MAX] or char[64] for a string, a char **
 * for an array of strings; type 0: on the command line only). */
static const struct key {
	const char *name;	/* in the file */
	const char *lopt;	/* on the command line, NULL if not there */
	int sopt;
	int type;		/* J_STRING, J_NUMBER or J_ARRAY */
	size_t off;
} keys[NKEYS] = {
	[K_SCRIPT]    = { "script",          "script",      's', J_STRING, OFF(script) },
	[K_NODE]      = { "node",            NULL,          0,   J_STRING, OFF(node) },
	[K_COMMAND]   = { "command",         NULL,          0,   J_ARRAY,  OFF(cmd) },
	[K_ENV]       = { "env",             NULL,          0,   J_ARRAY,  OFF(env) },
	[K_LISTENVAR] = { "listenVar",       "listen-var",  'e', J_STRING, OFF(listenvar) },
	[K_ORPHAN]    = { "orphanTimeout",   NULL,          0,   J_NUMBER, OFF(orphantimeout) },
	[K_WATCHDOG]  = { "watchdog",        NULL,          0,   J_NUMBER, OFF(watchdog) },
	[K_TMPDIR]    = { "tmpDir",          "tmp-dir",     't', J_STRING, OFF(tmpdir) },
	[K_SOCKFILE]  = { "socketFile",      "socket-file", 'o', J_STRING, OFF(sockpat) },
	[K_IPCFILE]   = { "ipcFile",         "ipc-file",    'i', J_STRING, OFF(ipc) },
	[K_WORKERS]   = { "workers",         "workers",     'w', J_NUMBER, OFF(workers) },
	[K_STANDBY]   = { "standby",         "standby",     'S', J_NUMBER, OFF(standby) },
	[K_ONLINE]    = { "onlineTimeout",   NULL,          0,   J_NUMBER, OFF(onlinetimeout) },
	[K_DRAIN]     = { "drainDelay",      NULL,          0,   J_NUMBER, OFF(draindelay) },
	[K_SHUTDOWN]  = { "shutdownTimeout", NULL,          0,   J_NUMBER, OFF(shutdowntimeout) },
	[K_NOTIFY]    = { "notifyFd",        "notify-fd",   'd', J_NUMBER, OFF(notifyfd) },
	[K_CONFIG]    = { "config",          "config",      'c', 0,        0 },
};

/* A number's default, least and most. */
static const long long range[NKEYS][3] = {
	[K_WORKERS] = { 1, 1, MAXWORKERS },	[K_ONLINE] = { 10000, 1, MAXMS },
	[K_DRAIN] = { 500, 0, MAXMS },		[K_SHUTDOWN] = { 10000, 0, MAXMS },
	[K_ORPHAN] = { 60000, 0, MAXMS },	[K_WATCHDOG] = { 0, 0, MAXMS },
	[K_STANDBY] = { 0, 0, MAXWORKERS },	[K_NOTIFY] = { 0, 0, 65535 },
};

static struct setting {
	int set;		/* given, on the command line or in the file */
	int line, col;		/* where in the file; 0 for the command line */
	char str[PATH_MAX];
	long long num;
} settings[NKEYS];
#define str(k, def)	(settings[k].set ? settings[k].str : (def))

/* Every command and option in the same words as in nodesockd.1, which
 * t/07-ship.bats checks; the commands come from their table. */
static const char usage[] =
"The first form runs the daemon in the foreground; the others send it a\n"
"command over its control socket. See nodesockd(1).\n"
"\n"
"commands:\n"
"%s"
"\n"
"options:\n"
"  -c, --config FILE          the JSON config file\n"
"  -s, --script SCRIPT        the app's main script, run as node SCRIPT\n"
"  -e, --listen-var VAR       the variable with the socket path\n"
"                             (default LISTEN_ON)\n"
"  -t, --tmp-dir DIR          where the sockets are (default the base directory)\n"
"  -o, --socket-file PATTERN  the socket name in DIR (default app.{worker}.sock)\n"
"  -i, --ipc-file FILE        the control socket, relative to DIR\n"
"                             (default nodesockd.ipc)\n"
"  -w, --workers N            the number of workers (default 1)\n"
"  -S, --standby N            the number of standby workers (default 0)\n"
"  -d, --notify-fd FD         once ready, write a newline to FD and close it\n"
"  -u, --suspended            start new workers suspended, until resume\n"
"  -h, --help                 print the usage and exit\n"
"  -V, --version              print the version and exit\n";

static char *err;		/* the first problem, for the caller */
static size_t errlen;

/* Keep the first problem; -1. */
static int
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (!*err)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The same, with the place a setting came from in front of the message. */
static int
bad(int k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (settings[k].line)
		return fail("%s:%d:%d: \"%s\" %s", settings[K_CONFIG].str,
		    settings[k].line, settings[k].col, keys[k].name, msg);
	if (settings[k].set && keys[k].lopt)
		return fail("--%s %s", keys[k].lopt, msg);
	return fail("\"%s\" %s", keys[k].name, msg);
}

/* A number out of its key's range, in one wording whatever was wrong. */
static int
badnum(int k, long long v)
{
	if (range[k][1] == 1 && range[k][2] == MAXWORKERS)
		return bad(k, v > MAXWORKERS ? "must be at most %d"
		    : "must be a positive integer", MAXWORKERS);
	return bad(k, "must be an integer from %lld to %lld", range[k][1],
	    range[k][2]);
}

/* Read argv: a command word, options in short, long and --long=VALUE forms. */
static int
readargs(struct config *c, int argc, char *argv[])
{
	const char *a, *arg, *flag = NULL;
	char with[128], *end;
	size_t n;
	int i, k;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if ((a[0] != '-' || !a[1]) && i == 2 && commands[c->req.cmd].arg >= A_COUNT0) {
			c->req.arg = ipc_count(a, commands[c->req.cmd].arg - A_COUNT0);
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			if (c->req.cmd || i > 1)
				return fail("unexpected argument '%s' (see nodesockd --help)", a);
			for (k = 1; k < NCMDS && strcmp(a, commands[k].name); k++)
				;
			if (k == NCMDS)
				return fail("unknown command '%s' (see nodesockd --help)", a);
			c->req.cmd = k;
			c->req.arg = -(commands[k].arg >= A_COUNT0);	/* no count yet */
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")
		    || !strcmp(a, "-V") || !strcmp(a, "--version")) {
			c->req.cmd = a[1] == 'V' || a[2] == 'v' ? C_VERSION : C_HELP;
			return 0;
		}
		if (!strcmp(a, "-u"))
			a = "--suspended";
		for (n = 0, k = 1; k < NCMDS; k++)	/* a flag: the commands it goes with */
			if (commands[k].opt && !strcmp(a, commands[k].opt))
				n += snprintf(with + n, sizeof(with) - n, "%s%s",
				    n ? " or " : "", commands[k].name);
		if (n) {
			flag = a;
			continue;
		}
		if (a[1] == '-') {
			n = strcspn(a + 2, "=");
			for (k = 0; k < NKEYS && (!keys[k].lopt
			    || strncmp(a + 2, keys[k].lopt, n) || keys[k].lopt[n]); k++)
				;
			arg = a[2 + n] ? a + 3 + n : NULL;
		} else {
			for (k = 0; k < NKEYS && keys[k].sopt != a[1]; k++)
				;
			arg = a[2] ? a + 2 : NULL;
		}
		if (k == NKEYS)
			return fail("unknown option '%s' (see nodesockd --help)", a);
		if (!arg && (arg = argv[++i]) == NULL)
			return fail("option '%s' needs a value", a);
		settings[k].set = 1;
		if (!*arg)
			return bad(k, "must not be empty");
		if (snprintf(settings[k].str, PATH_MAX, "%s", arg) >= PATH_MAX)
			return bad(k, "is too long");
		errno = 0;
		settings[k].num = strtoll(arg, &end, 10);
		if (keys[k].type == J_NUMBER && (*arg < '0' || *arg > '9' || *end || errno))
			return badnum(k, range[k][1] - 1);
	}
	if (flag && (!c->req.cmd || !commands[c->req.cmd].opt
	    || strcmp(flag, commands[c->req.cmd].opt)))
		return fail("%s goes with %s", flag, with);
	if (commands[c->req.cmd].arg >= A_COUNT0 && c->req.arg < 0)
		return fail("%s needs N, from %d to %d", argv[1],
		    commands[c->req.cmd].arg - A_COUNT0, MAXWORKERS);
	c->req.arg |= flag != NULL;
	return 0;
}

/* Fill what the command line left unset from the config file. */
static int
readfile(struct config *c, const char *path)
{
	static char buf[MAXFILE];
	static struct jtok t[MAXTOK];
	static const char *what[] = { "strings, the first not empty", "variable names" };
	struct jerr e;
	char **v, *p;
	struct setting *st;
	ssize_t n;
	int fd, i, j, k, m, val;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) < 0)	/* a FIFO: no hang */
		return fail("%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return fail("%s: %s", path, strerror(errno));
	if (n == sizeof(buf))
		return fail("%s: larger than %d bytes", path, MAXFILE - 1);
	if (json_parse(buf, n, t, MAXTOK, &e) < 0)
		return fail("%s:%d:%d: %s", path, e.line, e.col, e.msg);
	if (t[0].type != J_OBJECT)
		return fail("%s:%d:%d: expected an object", path, t[0].line, t[0].col);
	for (i = 1, m = 0; m < t[0].size; m++, i = json_next(t, val)) {
		val = i + 1;
		for (k = 0; k < NKEYS; k++)
			if (keys[k].type && json_streq(buf, &t[i], keys[k].name))
				break;
		if (k == NKEYS)
			return fail("%s:%d:%d: unknown key \"%.*s\"", path, t[i].line,
			    t[i].col, t[i].end - t[i].start, buf + t[i].start);
		st = &settings[k];
		if (st->set && !st->line)
			continue;	/* the command line wins */
		if (st->set)
			return fail("%s:%d:%d: \"%s\" given twice", path, t[i].line,
			    t[i].col, keys[k].name);
		st->set = 1;
		st->line = t[val].line;
		st->col = t[val].col;
		switch (keys[k].type) {
		case J_STRING:
			if (t[val].type != J_STRING)
				return bad(k, "must be a string");
			if (json_str(buf, &t[val], st->str, sizeof(st->str)) <= 0)
				return bad(k, "must be a non-empty string without NUL");
			break;
		case J_NUMBER:
			if (json_int(buf, &t[val], &st->num) < 0)
				return badnum(k, range[k][1] - 1);
			break;
		case J_ARRAY:	/* env: names, maybe none; command: a program first */
			if (t[val].type != J_ARRAY || (k == K_COMMAND && !t[val].size))
				return bad(k, "must be an array of %s", what[k == K_ENV]);
			/* One block, one free(3): the pointers, then the strings,
			 * none longer decoded than between its quotes. */
			n = (t[val].size + 1) * sizeof(*v);
			if (!(v = calloc(1, n + t[val].end - t[val].start)))
				return fail("calloc: %s", strerror(errno));
			*(char ***)((char *)c + keys[k].off) = v;
			for (p = (char *)v + n, j = 0; j < t[val].size; p += strlen(p) + 1, j++)
				if (json_str(buf, &t[val + 1 + j], v[j] = p, t[val + 1 + j].end
				    - t[val + 1 + j].start + 1) < (j == 0))
					return bad(k, "must be an array of %s", what[k == K_ENV]);
			break;
		}
	}
	return 0;
}

/* Two NULL-ended arrays, or NULLs, alike. */
static int
same(char **a, char **b)
{
	for (; a && b && *a && *b && !strcmp(*a, *b); a++, b++)
		;
	return a == b || (a && b && !*a && !*b);
}

/* Make p absolute against base, into dst. */
static int
resolve(int k, char *dst, const char *base, const char *p)
{
	return snprintf(dst, PATH_MAX, "%s%s%s", p[0] == '/' ? "" : base,
	    p[0] == '/' ? "" : "/", p) >= PATH_MAX ? bad(k, "path is too long") : 0;
}

static int
varname(const char *s)
{
	return *s && (*s < '0' || *s > '9') && !s[strspn(s, "_0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")];
}

void
config_sockpath(const struct config *c, int id, char *buf, size_t n)
{
	const char *p, *s;
	size_t len;

	len = snprintf(buf, n, "%s/", c->tmpdir);
	for (p = c->sockpat; (s = strstr(p, "{worker}")); p = s + 8)
		len += snprintf(buf + (len < n ? len : n), len < n ? n - len : 0,
		    "%.*s%d", (int)(s - p), p, id);
	snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%s", p);
}

/* The configuration, resolved, as a JSON object a key a line, which
 * config_load takes back: the program in full, no notifyFd (used once). */
void
config_json(const struct config *c, struct client *to)
{
	char buf[LINEMAX - 64];	/* a key and its value on one reply line */
	char *p, **v;
	int k, i, n = 0;

	for (k = 0; k < K_NOTIFY; k++) {
		p = (char *)c + keys[k].off;
		v = keys[k].type == J_ARRAY ? *(char ***)p : NULL;
		if (keys[k].type == J_NUMBER)
			ipc_reply(to, "%c\"%s\":%d", n++ ? ',' : '{', keys[k].name, *(int *)p);
		else if (keys[k].type == J_STRING && *p && !(c->cmd && k == K_NODE))
			ipc_reply(to, "%c\"%s\":%s", n++ ? ',' : '{', keys[k].name,
			    json_quote(buf, sizeof(buf), p));
		else if (v)
			ipc_reply(to, "%c\"%s\":[%s", n++ ? ',' : '{', keys[k].name, *v ? "" : "]");
		for (i = 0; v && v[i]; i++)
			ipc_reply(to, "%s%s%s", i ? "," : "", json_quote(buf, sizeof(buf),
			    k == K_COMMAND && !i ? c->node : v[i]), v[i + 1] ? "" : "]");
	}
	ipc_reply(to, "}\nok");
}

/* The usage, its commands from their table. */
int
config_usage(void)
{
	char list[1024], *p = list;
	const struct command *cmd;

	fputs("usage: nodesockd [-c FILE] [-s SCRIPT] [-e VAR] [-t DIR] [-o PATTERN]\n"
	    "                 [-i FILE] [-w N] [-S N] [-d FD]\n", stdout);
	for (cmd = commands + 1; cmd < commands + NCMDS; cmd++) {
		printf("       nodesockd %s%s%s%s [-c FILE | -i FILE]\n", cmd->name,
		    cmd->arg >= A_COUNT0 ? " N" : cmd->opt ? " [" : "", !cmd->opt ? "" :
		    strcmp(cmd->opt, "--suspended") ? cmd->opt : "-u", cmd->opt ? "]" : "");
		p += snprintf(p, list + sizeof(list) - p, "  %-10s %s\n",
		    cmd->name, cmd->help);
	}
	fputs("       nodesockd -h | -V\n\n", stdout);
	return printf(usage, list) < 0 || fflush(stdout) == EOF;
}

/* The paths, and for the daemon the checks: everything set from settings[]. */
static int
derive(struct config *c, const char *base, const struct config *was)
{
	char path[PATH_MAX];
	const char *prog, *pat, *s;
	struct stat st;
	size_t n;
	int i, k;

	if (resolve(K_TMPDIR, c->tmpdir, base, str(K_TMPDIR, base)) < 0
	    || resolve(K_IPCFILE, c->ipc, c->tmpdir, str(K_IPCFILE, "nodesockd.ipc")) < 0)
		return -1;
	/* Too long: blame the key that made it so, tmpDir unless ipcFile. */
	if (strlen(c->ipc) >= SUNLEN)
		return bad(settings[K_IPCFILE].set && (*str(K_IPCFILE, "") == '/'
		    || !settings[K_TMPDIR].set) ? K_IPCFILE : K_TMPDIR,
		    "%s: socket path longer than %d bytes", c->ipc, SUNLEN - 1);
	strcat(strcpy(c->run, c->ipc), ".run");
	c->located = settings[K_CONFIG].set || settings[K_IPCFILE].set;
	if (c->req.cmd)
		return 0;

	/* The worker: node running a script, or a command. */
	if (c->cmd && (settings[K_SCRIPT].set || settings[K_NODE].set))
		return bad(K_COMMAND, "replaces \"script\" and \"node\": give one or the other");
	if (!c->cmd && !settings[K_SCRIPT].set)
		return fail("no script: give -s SCRIPT, or \"script\" or \"command\" in the config file");
	if (!c->cmd && (resolve(K_SCRIPT, c->script, base, settings[K_SCRIPT].str) < 0
	    || stat(c->script, &st) < 0))
		return bad(K_SCRIPT, "%s: %s", c->script, strerror(errno));
	if (!c->cmd && !S_ISREG(st.st_mode))
		return bad(K_SCRIPT, "%s: not a regular file", c->script);
	errno = ENOTDIR;	/* unless stat(2) has a better reason */
	if (stat(c->tmpdir, &st) < 0 || !S_ISDIR(st.st_mode))
		return bad(K_TMPDIR, "%s: %s", c->tmpdir, strerror(errno));

	for (k = 0; k < NKEYS; k++) {
		if (keys[k].type != J_NUMBER)
			continue;
		if (!settings[k].set)
			settings[k].num = range[k][0];
		if (settings[k].num < range[k][1] || settings[k].num > range[k][2])
			return badnum(k, settings[k].num);
		*(int *)((char *)c + keys[k].off) = settings[k].num;
	}
	if (c->notifyfd && !was && (c->notifyfd < 3 || fcntl(c->notifyfd, F_GETFD) < 0))
		return bad(K_NOTIFY, "must be 0 or a descriptor open from 3 on");

	/* The socketFile pattern: a plain name, {worker} its only placeholder. */
	pat = strcpy(c->sockpat, str(K_SOCKFILE, "app.{worker}.sock"));
	if (strchr(pat, '/') || !strcmp(pat, ".") || !strcmp(pat, ".."))
		return bad(K_SOCKFILE, "must be a file name (no '/', not . or ..)");
	for (s = pat; (s = strchr(s, '{')); s += 8)
		if (strncmp(s, "{worker}", 8))
			return bad(K_SOCKFILE, "has an unknown placeholder; only {worker} is known");
	if (strchr(pat, '}') && !strchr(pat, '{'))
		return bad(K_SOCKFILE, "has a stray '}'");
	if (!strchr(pat, '{') && c->workers > 1)
		return bad(K_SOCKFILE, "must contain {worker} when there are %d workers",
		    c->workers);
	/* The longest path a worker binds: its public name plus ".PID". */
	config_sockpath(c, c->workers - 1, path, sizeof(path));
	if (strlen(path) + 8 >= SUNLEN)
		return bad(settings[K_SOCKFILE].set && !settings[K_TMPDIR].set
		    ? K_SOCKFILE : K_TMPDIR, "%s.PID: socket path longer than %d bytes",
		    path, SUNLEN - 1);
	/* The control socket and the run file must not be among the names
	 * of the sockets, NAME, NAME.PID and NAME.new, nor these among them. */
	for (i = 0; i < (strstr(c->sockpat, "{worker}") ? MAXWORKERS : 1); i++) {
		config_sockpath(c, i, path, sizeof(path));
		n = strlen(path) < strlen(c->ipc) ? strlen(path) : strlen(c->ipc);
		if (!strncmp(path, c->ipc, n) && (path[n] == c->ipc[n]
		    || path[n] == '.' || c->ipc[n] == '.'))
			return bad(K_IPCFILE, "%s: collides with socketFile's %s", c->ipc, path);
	}

	if (snprintf(c->listenvar, sizeof(c->listenvar), "%s", str(K_LISTENVAR,
	    "LISTEN_ON")) >= (int)sizeof(c->listenvar) || !varname(c->listenvar))
		return bad(K_LISTENVAR, "must be a variable name");
	if (!strcmp(c->listenvar, "PATH") || !strncmp(c->listenvar, "NODE_", 5)
	    || !strncmp(c->listenvar, "NODESOCKD_", 10))
		return bad(K_LISTENVAR, "must not be PATH, NODE_* or NODESOCKD_*: "
		    "nodesockd and node set those");
	for (i = 0; c->env && c->env[i]; i++)
		if (!varname(c->env[i]))
			return bad(K_ENV, "has '%s', not a variable name", c->env[i]);

	/* The program, as node is: a path with '/' from the base directory. */
	strcpy(c->base, base);
	prog = c->cmd ? c->cmd[0] : str(K_NODE, "node");
	k = c->cmd ? K_COMMAND : K_NODE;
	if (!strchr(prog, '/'))
		strcpy(c->node, prog);
	else if (resolve(k, c->node, base, prog) < 0)
		return -1;
	prog = strrchr(c->node, '/');
	c->nodejs = !c->cmd || !strncmp(prog ? prog + 1 : c->node, "node", 4);
	/* Is the program something we can execute, directly or through PATH? */
	if (prog)
		return access(c->node, X_OK) < 0 ? bad(k, "%s: %s", c->node,
		    strerror(errno)) : 0;
	if (!(s = getenv("PATH")))
		s = "/usr/bin:/bin";
	do {	/* an empty entry is ".", as for execvp(3) */
		n = strcspn(s, ":");
		if (snprintf(path, sizeof(path), "%.*s/%s", n ? (int)n : 1, n ? s : ".",
		    c->node) < (int)sizeof(path) && access(path, X_OK) == 0)
			return 0;
		s += n;
	} while (*s++);
	return bad(k, "%s: not found in PATH", c->node);
}

int
config_load(struct config *c, int argc, char *argv[], const struct config *was,
    char *e, size_t n)
{
	char base[PATH_MAX], cwd[PATH_MAX], *p, *q;
	int k;

	/* Start afresh: reload and t/fuzz/config.c load many times over. */
	memset(c, 0, sizeof(*c));
	memset(settings, 0, sizeof(settings));
	err = e;
	errlen = n;
	*err = '\0';
	if (readargs(c, argc, argv) < 0 || c->req.cmd >= C_HELP)
		return *err ? -1 : 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return fail("getcwd: %s", strerror(errno));
	strcpy(base, cwd);
	if (settings[K_CONFIG].set) {
		/* The base directory: the file's, made absolute; "" for "/". */
		if (resolve(K_CONFIG, base, cwd, settings[K_CONFIG].str) < 0
		    || readfile(c, settings[K_CONFIG].str) < 0)
			return -1;
		*strrchr(base, '/') = '\0';
	}
	if (derive(c, base, was) < 0)
		return -1;
	/* A reload: where the sockets are cannot change; what a worker is given
	 * at its start changes for workers started from now on, named in later. */
	for (k = 0; was && k < K_WORKERS; k++) {
		p = (char *)c + keys[k].off;
		q = (char *)was + keys[k].off;
		if (keys[k].type == J_NUMBER ? *(int *)p == *(int *)q : keys[k].type
		    == J_STRING ? !strcmp(p, q) : same(*(char ***)p, *(char ***)q))
			continue;
		if (k >= K_TMPDIR)
			return bad(k, "cannot change while the daemon runs: stop it first");
		strcat(strcat(c->later, *c->later ? " " : ""), keys[k].name);
	}
	return 0;
}
