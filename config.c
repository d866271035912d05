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
 * Last, everything that can fail before a worker starts is checked, and the
 * first problem ends the program with file:line:col when it came from the
 * file. Clients (start, stop, ...) only need the control socket's path and
 * skip the checks that concern the workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodesockd.h"

#define MAXFILE	65536	/* the largest config file read */
#define MAXTOK	1024

enum { K_SCRIPT, K_TMPDIR, K_SOCKFILE, K_LISTENVAR, K_IPCFILE, K_WORKERS,
	K_NODE, K_ONLINE, K_DRAIN, K_SHUTDOWN, K_ORPHAN, K_ENV, NKEYS };

static const struct key {
	const char *name;	/* in the file */
	const char *lopt;	/* on the command line, NULL if not there */
	int sopt;
	int type;		/* J_STRING, J_NUMBER or J_ARRAY */
} keys[NKEYS] = {
	[K_SCRIPT]    = { "script",          "script",      's', J_STRING },
	[K_TMPDIR]    = { "tmpDir",          "tmp-dir",     't', J_STRING },
	[K_SOCKFILE]  = { "socketFile",      "socket-file", 'o', J_STRING },
	[K_LISTENVAR] = { "listenVar",       "listen-var",  'e', J_STRING },
	[K_IPCFILE]   = { "ipcFile",         "ipc-file",    'i', J_STRING },
	[K_WORKERS]   = { "workers",         "workers",     'w', J_NUMBER },
	[K_NODE]      = { "node",            NULL,          0,   J_STRING },
	[K_ONLINE]    = { "onlineTimeout",   NULL,          0,   J_NUMBER },
	[K_DRAIN]     = { "drainDelay",      NULL,          0,   J_NUMBER },
	[K_SHUTDOWN]  = { "shutdownTimeout", NULL,          0,   J_NUMBER },
	[K_ORPHAN]    = { "orphanTimeout",   NULL,          0,   J_NUMBER },
	[K_ENV]       = { "env",             NULL,          0,   J_ARRAY },
};

static struct setting {
	int set;		/* given, on the command line or in the file */
	int line, col;		/* where in the file; 0 for the command line */
	char str[PATH_MAX];
	long long num;
} settings[NKEYS];

static const char *cmdname[] = {
	[C_DAEMON] = "", [C_START] = "start", [C_STOP] = "stop",
	[C_RESTART] = "restart", [C_RESUME] = "resume", [C_STATUS] = "status",
	[C_CTL] = "ctl",
};

/* Every command and option in the same words as in nodesockd.1, which
 * t/07-ship.bats checks. */
static const char usage[] =
"usage: nodesockd [-c FILE] [-s SCRIPT] [-e VAR] [-t DIR] [-o PATTERN]\n"
"                 [-i FILE] [-w N]\n"
"       nodesockd start [-u] [-c FILE | -i FILE]\n"
"       nodesockd stop [-c FILE | -i FILE]\n"
"       nodesockd restart [-u] [-c FILE | -i FILE]\n"
"       nodesockd resume [-c FILE | -i FILE]\n"
"       nodesockd status [-c FILE | -i FILE]\n"
"       nodesockd ctl [-c FILE | -i FILE]\n"
"       nodesockd -h | -V\n"
"\n"
"The first form runs the daemon in the foreground; the others send it a\n"
"command over its control socket. See nodesockd(1).\n"
"\n"
"commands:\n"
"  start      start the workers if they are stopped\n"
"  stop       stop the workers; the daemon stays up\n"
"  restart    replace every worker with zero downtime (a deploy)\n"
"  resume     let suspended workers serve\n"
"  status     print one line per worker\n"
"  ctl        send control lines from standard input and print every reply\n"
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
"  -u, --suspended            start new workers suspended, until resume\n"
"  -h, --help                 print the usage and exit\n"
"  -V, --version              print the version and exit\n";

static const char *cfgfile;	/* for messages: the -c argument */

/* Die with the place a setting came from in front of the message. */
static void
bad(int k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int saved = errno, n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fmt[strlen(fmt) - 1] == ':' && n > 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, " %s", strerror(saved));
	if (settings[k].line)
		die("%s:%d:%d: \"%s\" %s", cfgfile, settings[k].line,
		    settings[k].col, keys[k].name, msg);
	else if (settings[k].set && keys[k].lopt)
		die("--%s %s", keys[k].lopt, msg);
	else
		die("\"%s\" %s", keys[k].name, msg);
}

static int
number(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return (*s < '0' || *s > '9' || *end || errno) ? -1 : 0;
}

static void
setopt(int k, const char *arg)
{
	settings[k].set = 1;
	if (!*arg)
		bad(k, "must not be empty");
	if (strlen(arg) >= sizeof(settings[k].str))
		bad(k, "is too long");
	strcpy(settings[k].str, arg);
	if (keys[k].type == J_NUMBER && number(arg, &settings[k].num) < 0)
		bad(k, "must be a non-negative integer, not '%s'", arg);
}

/* Read argv: a command word, options in short, long and --long=VALUE forms. */
static void
readargs(struct config *c, int argc, char *argv[])
{
	const char *a, *arg, *eq;
	size_t n;
	int i, k;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || !a[1]) {
			if (c->cmd != C_DAEMON || i > 1)
				die("unexpected argument '%s' (see nodesockd --help)", a);
			for (k = C_START; k <= C_CTL; k++)
				if (!strcmp(a, cmdname[k]))
					break;
			if (k > C_CTL)
				die("unknown command '%s' (see nodesockd --help)", a);
			c->cmd = k;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			puts("nodesockd " VERSION);
			exit(0);
		}
		if (!strcmp(a, "-u") || !strcmp(a, "--suspended")) {
			c->suspended = 1;
			continue;
		}
		arg = NULL;
		if (a[1] == '-') {
			eq = strchr(a, '=');
			n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			if (n == 6 && !strncmp(a + 2, "config", 6))
				k = -1;
			else
				for (k = 0; k < NKEYS; k++)
					if (keys[k].lopt && strlen(keys[k].lopt) == n
					    && !strncmp(a + 2, keys[k].lopt, n))
						break;
			if (eq)
				arg = eq + 1;
		} else {
			if (a[1] == 'c')
				k = -1;
			else
				for (k = 0; k < NKEYS; k++)
					if (keys[k].sopt && keys[k].sopt == a[1])
						break;
			if (a[2])
				arg = a + 2;
		}
		if (k == NKEYS)
			die("unknown option '%s' (see nodesockd --help)", a);
		if (!arg && (arg = argv[++i]) == NULL)
			die("option '%s' needs a value", a);
		if (k < 0)
			cfgfile = arg;
		else
			setopt(k, arg);
	}
	if (c->suspended && c->cmd != C_START && c->cmd != C_RESTART)
		die("--suspended goes with start or restart");
}

/* Fill what the command line left unset from the config file. */
static void
readfile(struct config *c, const char *path)
{
	static char buf[MAXFILE];
	static struct jtok t[MAXTOK];
	struct jerr e;
	struct setting *st;
	ssize_t n;
	int fd, i, j, k, m, val;

	if ((fd = open(path, O_RDONLY)) < 0)
		die("%s:", path);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		die("%s:", path);
	if (n == sizeof(buf))
		die("%s: larger than %d bytes", path, MAXFILE - 1);
	if (json_parse(buf, n, t, MAXTOK, &e) < 0)
		die("%s:%d:%d: %s", path, e.line, e.col, e.msg);
	if (t[0].type != J_OBJECT)
		die("%s:%d:%d: expected an object", path, t[0].line, t[0].col);
	for (i = 1, m = 0; m < t[0].size; m++, i = json_next(t, val)) {
		val = i + 1;
		for (k = 0; k < NKEYS; k++)
			if (json_streq(buf, &t[i], keys[k].name))
				break;
		if (k == NKEYS)
			die("%s:%d:%d: unknown key \"%.*s\"", path, t[i].line,
			    t[i].col, t[i].end - t[i].start, buf + t[i].start);
		st = &settings[k];
		if (st->set && !st->line)
			continue;	/* the command line wins */
		if (st->set)
			die("%s:%d:%d: \"%s\" given twice", path, t[i].line,
			    t[i].col, keys[k].name);
		st->set = 1;
		st->line = t[val].line;
		st->col = t[val].col;
		switch (keys[k].type) {
		case J_STRING:
			if (t[val].type != J_STRING)
				bad(k, "must be a string");
			if (json_str(buf, &t[val], st->str, sizeof(st->str)) <= 0)
				bad(k, "must be a non-empty string without NUL");
			break;
		case J_NUMBER:
			if (t[val].type != J_NUMBER
			    || json_int(buf, &t[val], &st->num) < 0)
				bad(k, "must be an integer");
			break;
		case J_ARRAY:
			if (t[val].type != J_ARRAY)
				bad(k, "must be an array of variable names");
			c->nenv = t[val].size;
			if (!(c->env = calloc(c->nenv + 1, sizeof(*c->env))))
				die("calloc:");
			for (j = 0; j < c->nenv; j++) {
				if (t[val + 1 + j].type != J_STRING
				    || json_str(buf, &t[val + 1 + j], st->str,
				    sizeof(st->str)) <= 0
				    || strchr(st->str, '='))
					bad(k, "must be an array of variable names");
				if (!(c->env[j] = strdup(st->str)))
					die("strdup:");
			}
			break;
		}
	}
}

/* Make p absolute against base, into dst. */
static void
resolve(int k, char *dst, const char *base, const char *p)
{
	int n;

	if (p[0] == '/')
		n = snprintf(dst, PATH_MAX, "%s", p);
	else
		n = snprintf(dst, PATH_MAX, "%s/%s", base, p);
	if (n >= PATH_MAX)
		bad(k, "path is too long");
}

static const char *
str(int k, const char *def)
{
	return settings[k].set ? settings[k].str : def;
}

static long long
num(int k, long long def, long long min, long long max)
{
	long long v = settings[k].set ? settings[k].num : def;

	if (v < min || v > max) {
		if (min == 1 && max == MAXWORKERS)
			bad(k, v < 1 ? "must be a positive integer" : "must be at most %d", MAXWORKERS);
		bad(k, "must be an integer from %lld to %lld", min, max);
	}
	return v;
}

static int
varname(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z')
		    || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* Check a socketFile pattern: a plain name, {worker} its only placeholder. */
static void
checkpattern(const char *p, int workers)
{
	const char *s;
	int n = 0;

	if (strchr(p, '/') || !strcmp(p, ".") || !strcmp(p, ".."))
		bad(K_SOCKFILE, "must be a file name (no '/', not . or ..)");
	for (s = p; (s = strchr(s, '{')); s += 8, n++)
		if (strncmp(s, "{worker}", 8))
			bad(K_SOCKFILE, "has an unknown placeholder; only {worker} is known");
	if (strchr(p, '}') && !n)
		bad(K_SOCKFILE, "has a stray '}'");
	if (!n && workers > 1)
		bad(K_SOCKFILE, "must contain {worker} when there are %d workers", workers);
}

/* Is the interpreter something we can execute, directly or through PATH? */
static void
checknode(const char *node)
{
	char buf[PATH_MAX];
	const char *path, *p, *end;
	size_t n;

	if (strchr(node, '/')) {
		if (access(node, X_OK) < 0)
			bad(K_NODE, "%s:", node);
		return;
	}
	if (!(path = getenv("PATH")))
		path = "/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		if ((int)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n,
		    n ? p : ".", node) < (int)sizeof(buf)
		    && access(buf, X_OK) == 0)
			return;
		if (!end)
			break;
	}
	bad(K_NODE, "%s: not found in PATH", node);
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

void
config_load(struct config *c, int argc, char *argv[])
{
	char base[PATH_MAX], cwd[PATH_MAX], path[PATH_MAX];
	const char *slash;
	struct stat st;
	size_t n;
	int i, client;

	/* Start afresh: t/fuzz/config.c loads a config many times over. */
	memset(c, 0, sizeof(*c));
	memset(settings, 0, sizeof(settings));
	cfgfile = NULL;
	readargs(c, argc, argv);
	client = c->cmd != C_DAEMON;
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd:");
	strcpy(base, cwd);
	if (cfgfile) {
		if (strlen(cfgfile) >= sizeof(c->file))
			die("%s: path is too long", cfgfile);
		strcpy(c->file, cfgfile);
		if ((slash = strrchr(cfgfile, '/'))) {
			if (slash == cfgfile)
				strcpy(base, "/");
			else if (cfgfile[0] == '/')
				snprintf(base, sizeof(base), "%.*s",
				    (int)(slash - cfgfile), cfgfile);
			else if (snprintf(base, sizeof(base), "%s/%.*s", cwd,
			    (int)(slash - cfgfile), cfgfile) >= (int)sizeof(base))
				die("%s: path is too long", cfgfile);
		}
		readfile(c, cfgfile);
	}

	resolve(K_TMPDIR, c->tmpdir, base, str(K_TMPDIR, base));
	resolve(K_IPCFILE, c->ipc, c->tmpdir, str(K_IPCFILE, "nodesockd.ipc"));
	/* Too long: blame the key that made it so, tmpDir unless ipcFile. */
	if (strlen(c->ipc) >= SUNLEN)
		bad(settings[K_IPCFILE].set && (*str(K_IPCFILE, "") == '/'
		    || !settings[K_TMPDIR].set) ? K_IPCFILE : K_TMPDIR,
		    "%s: socket path longer than %d bytes", c->ipc, SUNLEN - 1);
	strcat(strcpy(c->run, c->ipc), ".run");
	if (client)
		return;

	if (!settings[K_SCRIPT].set)
		die("no script: give -s SCRIPT or \"script\" in the config file");
	resolve(K_SCRIPT, c->script, base, settings[K_SCRIPT].str);
	if (stat(c->script, &st) < 0)
		bad(K_SCRIPT, "%s:", c->script);
	if (!S_ISREG(st.st_mode))
		bad(K_SCRIPT, "%s: not a regular file", c->script);
	if (stat(c->tmpdir, &st) < 0)
		bad(K_TMPDIR, "%s:", c->tmpdir);
	if (!S_ISDIR(st.st_mode))
		bad(K_TMPDIR, "%s: not a directory", c->tmpdir);

	c->workers = num(K_WORKERS, 1, 1, MAXWORKERS);
	c->onlinetimeout = num(K_ONLINE, 10000, 1, MAXMS);
	c->draindelay = num(K_DRAIN, 500, 0, MAXMS);
	c->shutdowntimeout = num(K_SHUTDOWN, 10000, 0, MAXMS);
	c->orphantimeout = num(K_ORPHAN, 60000, 0, MAXMS);

	strcpy(c->sockpat, str(K_SOCKFILE, "app.{worker}.sock"));
	checkpattern(c->sockpat, c->workers);
	/* The longest path a worker binds: its public name plus ".PID". */
	config_sockpath(c, c->workers - 1, path, sizeof(path));
	if (strlen(path) + 8 >= SUNLEN)
		bad(settings[K_SOCKFILE].set && !settings[K_TMPDIR].set ? K_SOCKFILE
		    : K_TMPDIR, "%s.PID: socket path longer than %d bytes",
		    path, SUNLEN - 1);
	/* The control socket and the run file must not be among the names
	 * of the sockets, NAME, NAME.PID and NAME.new, nor these among them. */
	for (i = 0; i < (strstr(c->sockpat, "{worker}") ? MAXWORKERS : 1); i++) {
		config_sockpath(c, i, path, sizeof(path));
		n = strlen(path) < strlen(c->ipc) ? strlen(path) : strlen(c->ipc);
		if (!strncmp(path, c->ipc, n) && (path[n] == c->ipc[n]
		    || path[n] == '.' || c->ipc[n] == '.'))
			bad(K_IPCFILE, "%s: collides with socketFile's %s", c->ipc, path);
	}

	if (strlen(str(K_LISTENVAR, "LISTEN_ON")) >= sizeof(c->listenvar)
	    || !varname(str(K_LISTENVAR, "LISTEN_ON")))
		bad(K_LISTENVAR, "must be a variable name");
	strcpy(c->listenvar, str(K_LISTENVAR, "LISTEN_ON"));
	if (!strcmp(c->listenvar, "PATH") || !strncmp(c->listenvar, "NODE_", 5)
	    || !strncmp(c->listenvar, "NODESOCKD_", 10))
		bad(K_LISTENVAR, "must not be PATH, NODE_* or NODESOCKD_*: "
		    "nodesockd and node set those");
	for (i = 0; i < c->nenv; i++)
		if (!varname(c->env[i]))
			bad(K_ENV, "has '%s', not a variable name", c->env[i]);

	if (strchr(str(K_NODE, "node"), '/'))
		resolve(K_NODE, c->node, base, settings[K_NODE].str);
	else
		strcpy(c->node, str(K_NODE, "node"));
	checknode(c->node);
}
