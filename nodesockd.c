/* See LICENSE file for copyright and license details.
 *
 * nodesockd runs Node.js workers, each on a UNIX socket of its own, and
 * keeps a stable path to each for Nginx.
 *
 * There are cfg.workers slots. A slot has at most one published worker
 * (pub: its socket is what the public name points to) and at most one
 * replacement being started (repl). Workers no longer in a slot drain and
 * stop on their own timers until they are reaped. Every worker process is
 * on one list and in one state of enum wstate; every change of state goes
 * through become(), which also arms the state's deadline.
 *
 * A deploy (the first start, "start", "restart", SIGHUP) gives every slot a
 * replacement and publishes them all only when all are online; if one
 * fails, all are stopped and the old workers keep serving. A published
 * worker that dies is replaced at once, with a back-off when it died young.
 *
 * Everything happens in one poll(2) loop: signals arrive through a
 * self-pipe, time through deadlines on the monotonic clock, and the rest
 * as lines on the control socket's clients and the workers' channels.
 * Start reading main().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nodesockd.h"

#define YOUNG		10000	/* ms: a worker dying younger died young */
#define BACKOFF		100	/* ms: the first back-off, doubled per young death */
#define BACKOFFMAX	30000

enum wstate {
	W_STARTING,	/* forked; must say "online" before its deadline */
	W_ONLINE,	/* listening: published, or waiting for its deploy */
	W_SUSPENDED,	/* online, but holding requests until "resume" */
	W_DRAINING,	/* replaced; sent "shutdown" at its deadline */
	W_STOPPING,	/* asked to exit; killed at its deadline */
	W_KILLED,	/* sent SIGKILL; waiting to be reaped */
};

static const char *statename[] = {
	[W_STARTING] = "starting", [W_ONLINE] = "online",
	[W_SUSPENDED] = "suspended", [W_DRAINING] = "draining",
	[W_STOPPING] = "stopping", [W_KILLED] = "killed",
};

struct worker {
	struct worker *next;
	int id;			/* its slot: the {worker} in socketFile */
	pid_t pid;
	enum wstate state;
	int suspended;		/* started suspended and not yet resumed */
	int chan;		/* our end of its fd 3, -1 once closed */
	int warned;		/* said something we could not read */
	long long born;		/* ms on the monotonic clock */
	long long deadline;	/* 0: none */
	char sock[SUNLEN];	/* its private socket */
	struct lines in;
};

struct slot {
	struct worker *pub;	/* published, NULL if none */
	struct worker *repl;	/* being started to replace it, NULL if none */
	int suspended;		/* start its workers suspended */
	unsigned fails;		/* young deaths in a row */
	unsigned restarts;	/* workers started after a death */
	long long restart;	/* when to start one after a death; 0: not */
	char path[SUNLEN];	/* the public name */
};

static void become(struct worker *w, enum wstate st);
static void fail(struct worker *w, const char *fmt, ...);
static void stopped(void);
static void onsweep(void);

static struct config cfg;
static struct slot *slots;
static struct worker *workers;
static struct client *clients;
static int selfpipe[2] = { -1, -1 };
static int lfd = -1;		/* the control socket */
static int running;		/* the workers should be up */
static int quitting;		/* exit once every worker is gone */
static struct {
	int active;
	int pending;		/* replacements not yet online */
	int suspended;
	struct client *c;	/* who waits for the answer, or NULL */
} deploy;
static struct {
	int active;
	struct client *c;
} stop;
static struct leftover {
	pid_t pid;
	char path[SUNLEN];
} *left;			/* workers an earlier nodesockd left running */
static int nleft;
static long long sweep;		/* when to signal them; 0: not yet */
static int swept;		/* they have had SIGTERM */
static char pubwhy[256];	/* why the last swap() failed */
static struct pollfd *pfd;	/* what poll(2) watches, sized by fillpoll() */
static size_t npfd;

static void
vwarn(const char *fmt, va_list ap)
{
	int saved = errno;

	fputs("nodesockd: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(1);
}

static long long
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Log an event of a worker: "worker 1 (pid 4242) online". */
static void
logw(const struct worker *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn("worker %d (pid %d) %s", w->id, (int)w->pid, msg);
}

static void
describe(char *buf, size_t n, int status)
{
	if (WIFSIGNALED(status))
		snprintf(buf, n, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
}

static void
onsignal(int sig)
{
	int saved = errno;
	unsigned char c = sig;
	ssize_t r;

	r = write(selfpipe[1], &c, 1);	/* if full, a wake-up is pending */
	(void)r;
	errno = saved;
}

/* In the child: fd 3, environment, process group, umask; then exec node. */
static void
child(struct worker *w, int fd)
{
	extern char **environ;
	static const char *always[] = { "PATH", "NODE_ENV" };
	char **keep, **e, id[16];
	size_t n;
	int i, k;

	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	umask(007);
	if (fd == 3)
		fcntl(3, F_SETFD, 0);
	else if (dup2(fd, 3) < 0)
		_exit(126);
	if (cfg.env) {
		if (!(keep = calloc(cfg.nenv + LEN(always) + 1, sizeof(*keep))))
			_exit(126);
		for (k = 0, e = environ; *e; e++)
			for (i = 0; i < cfg.nenv + (int)LEN(always); i++) {
				const char *name = i < cfg.nenv ? cfg.env[i] : always[i - cfg.nenv];

				n = strlen(name);
				if (!strncmp(*e, name, n) && (*e)[n] == '=') {
					keep[k++] = *e;
					break;
				}
			}
		environ = keep;
	}
	snprintf(id, sizeof(id), "%d", w->id);
	unlink(w->sock);	/* left by a process of the same pid */
	if (setenv(cfg.listenvar, w->sock, 1) < 0
	    || setenv("NODESOCKD_LISTEN_VAR", cfg.listenvar, 1) < 0
	    || setenv("NODESOCKD_WORKER_ID", id, 1) < 0
	    || setenv("NODESOCKD_SUSPENDED", w->suspended ? "true" : "", 1) < 0
	    || setenv("NODE_CHANNEL_FD", "3", 1) < 0
	    || setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1) < 0)
		_exit(126);
	execlp(cfg.node, cfg.node, cfg.script, (char *)NULL);
	warn("exec %s:", cfg.node);
	_exit(errno == ENOENT ? 127 : 126);
}

/* Start a worker for slot id. It is the caller's to put in the slot. */
static struct worker *
spawn(int id, int suspended)
{
	struct worker *w;
	int sv[2];

	if (!(w = calloc(1, sizeof(*w)))) {
		warn("calloc:");
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		warn("socketpair:");
		free(w);
		return NULL;
	}
	fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	fcntl(sv[1], F_SETFD, FD_CLOEXEC);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	w->id = id;
	w->suspended = suspended;
	w->chan = sv[0];
	w->born = now();
	switch ((w->pid = fork())) {
	case -1:
		warn("fork:");
		close(sv[0]);
		close(sv[1]);
		free(w);
		return NULL;
	case 0:
		/* config_load made sure that the name fits. */
		if (snprintf(w->sock, sizeof(w->sock), "%s.%d", slots[id].path,
		    (int)getpid()) >= (int)sizeof(w->sock))
			_exit(126);
		child(w, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	if (snprintf(w->sock, sizeof(w->sock), "%s.%d", slots[id].path,
	    (int)w->pid) >= (int)sizeof(w->sock))
		warn("%s: name too long", w->sock);
	w->next = workers;
	workers = w;
	become(w, W_STARTING);
	logw(w, "started%s", suspended ? " suspended" : "");
	return w;
}

static void
become(struct worker *w, enum wstate st)
{
	static const int *timeout[W_KILLED + 1] = {
		[W_STARTING] = &cfg.onlinetimeout, [W_DRAINING] = &cfg.draindelay,
		[W_STOPPING] = &cfg.shutdowntimeout,
	};

	if (w->state != st && st != W_STARTING)
		logw(w, "%s", statename[st]);
	w->state = st;
	w->deadline = timeout[st] ? now() + *timeout[st] : 0;
}

static void
killw(struct worker *w)
{
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	become(w, W_KILLED);
}

/* Ask a worker to finish and exit: "shutdown" once it listens, else SIGTERM. */
static void
stopw(struct worker *w)
{
	switch (w->state) {
	case W_ONLINE:
	case W_SUSPENDED:
	case W_DRAINING:
		if (w->chan >= 0 && chan_send(w->chan, "shutdown") == 0)
			break;
		/* FALLTHROUGH */
	case W_STARTING:
		kill(w->pid, SIGTERM);
		break;
	case W_STOPPING:
	case W_KILLED:
		return;
	}
	become(w, W_STOPPING);
}

static void
reply(struct client **cp, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!*cp)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ipc_reply(*cp, "%s", msg);
	(*cp)->waiting = 0;
	*cp = NULL;
}

/* After a death: start the slot again, at once or after its back-off,
 * which doubles with every young death in a row. Returns the delay. */
static long long
again(struct slot *s, int young)
{
	long long delay;

	if (!young)
		s->fails = 0;
	delay = s->fails ? (long long)BACKOFF << (s->fails - 1) : 0;
	if (delay > BACKOFFMAX)
		delay = BACKOFFMAX;
	else
		s->fails++;
	s->restarts++;
	if (delay)
		s->restart = now() + delay;
	else if (!(s->repl = spawn(s - slots, s->suspended)))
		s->restart = now() + (delay = BACKOFFMAX);
	return delay;
}

/* Point the public names at the replacements of n slots from first, and
 * let the workers they replace drain. Every symlink(2) is made first under
 * a temporary name, so that a full or read-only directory fails before
 * anything changed; then each is rename(2)d over its name. A slot whose
 * rename fails keeps its worker. -1 and pubwhy set if any failed. */
static int
swap(struct slot *first, int n)
{
	char tmp[SUNLEN + 4];
	struct worker *old;
	struct slot *s;
	int err = 0;

	for (s = first; s < first + n && !err; s++) {
		snprintf(tmp, sizeof(tmp), "%s.new", s->path);
		unlink(tmp);
		if (symlink(strrchr(s->repl->sock, '/') + 1, tmp) < 0)
			err = snprintf(pubwhy, sizeof(pubwhy), "symlink %s: %s",
			    tmp, strerror(errno));
	}
	for (s = first; s < first + n; s++) {
		snprintf(tmp, sizeof(tmp), "%s.new", s->path);
		if (err) {
			unlink(tmp);
			continue;
		}
		if (rename(tmp, s->path) < 0) {
			snprintf(pubwhy, sizeof(pubwhy), "rename %s: %s", tmp,
			    strerror(errno));
			unlink(tmp);
			stopw(s->repl);
			s->repl = NULL;
			continue;
		}
		old = s->pub;
		s->pub = s->repl;
		s->repl = NULL;
		logw(s->pub, "published as %s", s->path);
		if (old)
			become(old, W_DRAINING);
	}
	for (s = slots; s < slots + cfg.workers && s->pub; s++)
		;
	if (s == slots + cfg.workers && nleft && !swept && !sweep)
		sweep = now() + cfg.draindelay;
	return err || *pubwhy ? -1 : 0;
}

static void
deploybegin(struct client *c, int suspended)
{
	struct slot *s;

	running = 1;
	deploy.active = 1;
	deploy.pending = cfg.workers;
	deploy.suspended = suspended;
	deploy.c = c;
	if (c)
		c->waiting = 1;
	for (s = slots; s < slots + cfg.workers; s++) {
		s->restart = 0;
		s->suspended = suspended;
		if (s->repl)
			stopw(s->repl);
		if (!(s->repl = spawn(s - slots, suspended))) {
			fail(NULL, "worker %d could not be started", (int)(s - slots));
			return;
		}
	}
}

static void
deployend(void)
{
	*pubwhy = '\0';
	if (swap(slots, cfg.workers) < 0) {
		fail(NULL, "cannot publish: %s", pubwhy);
		return;
	}
	deploy.active = 0;
	warn("deploy done: %d worker%s online%s", cfg.workers,
	    cfg.workers > 1 ? "s" : "", deploy.suspended ? ", suspended" : "");
	reply(&deploy.c, "ok");
}

/* A replacement failed: it died, missed its deadline or could not be
 * published (w is NULL when none was started). In a deploy, every
 * replacement goes and the published workers stay; a slot with none
 * starts again after its back-off. */
static void
fail(struct worker *w, const char *fmt, ...)
{
	char why[256];
	struct slot *s;
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (w) {
		slots[w->id].repl = NULL;
		if (w->pid && w->state != W_KILLED)
			killw(w);
	}
	if (deploy.active) {
		deploy.active = 0;
		warn("deploy failed: %s", why);
		reply(&deploy.c, "error: %s", why);
		for (s = slots; s < slots + cfg.workers; s++)
			if (s->repl) {
				stopw(s->repl);
				s->repl = NULL;
			}
	} else if (w) {
		warn("%s", why);
	}
	for (i = 0; i < cfg.workers; i++) {
		s = &slots[i];
		if (running && !s->pub && !s->repl && !s->restart)
			warn("worker %d restarting in %lldms", i,
			    again(s, w && w->id == i));
	}
}

/* A worker said something on its channel. */
static void
message(struct worker *w, char *line)
{
	struct jtok t[1];
	struct jerr e;
	struct slot *s = &slots[w->id];

	line += strspn(line, " \t");
	if (*line != '"')
		return;		/* Node's own {"cmd":"NODE_..."}, the app's */
	if (json_parse(line, strlen(line), t, LEN(t), &e) < 0) {
		if (!w->warned)
			logw(w, "sent a line that is not JSON (%d:%d: %s), ignored",
			    e.line, e.col, e.msg);
		w->warned = 1;
		return;
	}
	if (json_streq(line, &t[0], "online") && w->state == W_STARTING) {
		if (chmod(w->sock, 0660) < 0) {
			fail(w, "worker %d failed to come online: %s: %s", w->id,
			    w->sock, strerror(errno));
			return;
		}
		become(w, w->suspended ? W_SUSPENDED : W_ONLINE);
		if (s->repl != w)
			return;
		*pubwhy = '\0';
		if (!deploy.active) {
			if (swap(s, 1) < 0)
				fail(w, "worker %d cannot be published: %s", w->id, pubwhy);
		} else if (--deploy.pending == 0) {
			deployend();
		}
	} else if (json_streq(line, &t[0], "restart")) {
		if (s->pub != w || s->repl || deploy.active || stop.active)
			return;
		logw(w, "asked to be replaced");
		s->repl = spawn(w->id, s->suspended);
	}
}

static void
readchan(struct worker *w)
{
	char *line;
	int r;

	if (lines_fill(w->chan, &w->in) <= 0) {
		close(w->chan);
		w->chan = -1;
		return;
	}
	while ((r = lines_next(&w->in, &line)) != 0) {
		if (r < 0 && !w->warned)
			logw(w, "sent a line longer than %d bytes, ignored", LINEMAX - 1);
		if (r < 0)
			w->warned = 1;
		else
			message(w, line);
		if (w->chan < 0)
			return;
	}
}

/* Once a stop has seen every worker go: answer, and exit if asked to. */
static void
stopped(void)
{
	struct client *c;

	if (!stop.active || workers)
		return;
	stop.active = 0;
	warn("stopped");
	reply(&stop.c, "ok");
	if (!quitting)
		return;
	unlink(cfg.ipc);
	while ((c = clients)) {
		clients = c->next;
		ipc_flush(c);
		ipc_free(c);
	}
	free(slots);
	free(pfd);
	exit(0);
}

static void
stopbegin(struct client *c)
{
	struct worker *w;
	struct slot *s;

	running = 0;
	if (deploy.active) {
		deploy.active = 0;
		reply(&deploy.c, "error: interrupted by stop");
	}
	stop.active = 1;
	stop.c = c;
	if (c)
		c->waiting = 1;
	for (s = slots; s < slots + cfg.workers; s++) {
		unlink(s->path);
		s->pub = s->repl = NULL;
		s->restart = 0;
		s->suspended = 0;
	}
	for (w = workers; w; w = w->next)
		stopw(w);
	if (nleft && !swept)
		onsweep();
	stopped();
}

/* If name is a private socket of the pattern, NAME.PID, the PID; else 0. */
static pid_t
sockpid(const char *pat, const char *name)
{
	char *end;
	long pid;

	while (*pat)
		if (!strncmp(pat, "{worker}", 8)) {
			if (*name < '0' || *name > '9')
				return 0;
			while (*name >= '0' && *name <= '9')
				name++;
			pat += 8;
		} else if (*pat++ != *name++) {
			return 0;
		}
	if (*name++ != '.' || *name < '1' || *name > '9')
		return 0;
	pid = strtol(name, &end, 10);
	return *end || pid > INT_MAX ? 0 : (pid_t)pid;
}

/* A daemon killed hard leaves its workers running, on sockets still in
 * tmpDir. Sockets no one answers on are removed now. A live one, whose
 * process still leads its own group as our workers do, keeps serving
 * until all our slots are published; drainDelay later it gets SIGTERM
 * (see onsweep()). */
static void
findleft(void)
{
	char path[SUNLEN + NAME_MAX];
	struct leftover *l;
	struct dirent *e;
	DIR *d;
	pid_t pid;

	if (!(d = opendir(cfg.tmpdir)))
		die("opendir %s:", cfg.tmpdir);
	while ((e = readdir(d)))
		if ((pid = sockpid(cfg.sockpat, e->d_name))) {
			if (snprintf(path, sizeof(path), "%s/%s", cfg.tmpdir,
			    e->d_name) >= SUNLEN)
				continue;
			if (!ipc_alive(path) || getpgid(pid) != pid) {
				unlink(path);
				continue;
			}
			if (!(l = realloc(left, (nleft + 1) * sizeof(*left))))
				die("realloc:");
			left = l;
			left[nleft].pid = pid;
			memcpy(left[nleft++].path, path, strlen(path) + 1);
			warn("worker (pid %d) of an earlier nodesockd still "
			    "serves on %s", (int)pid, path);
		}
	closedir(d);
}

/* The leftovers' time has come: SIGTERM, then SIGKILL shutdownTimeout
 * later to those still there. */
static void
onsweep(void)
{
	int i;

	for (i = 0; i < nleft; i++)
		if (!swept) {
			warn("worker (pid %d) of an earlier nodesockd: stopping it",
			    (int)left[i].pid);
			unlink(left[i].path);
			kill(-left[i].pid, SIGTERM);
		} else if (kill(-left[i].pid, SIGKILL) == 0) {
			warn("worker (pid %d) of an earlier nodesockd: killed it",
			    (int)left[i].pid);
		}
	if (!swept++) {
		sweep = now() + cfg.shutdowntimeout;
		return;
	}
	free(left);
	left = NULL;
	nleft = 0;
	sweep = 0;
}

/* A worker is gone: say how, and act by its place in its slot. */
static void
reaped(struct worker *w, int status)
{
	struct worker **pp;
	struct slot *s = &slots[w->id];
	char how[128];

	describe(how, sizeof(how), status);
	for (pp = &workers; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	if (w->chan >= 0)
		close(w->chan);
	unlink(w->sock);
	kill(-w->pid, SIGTERM);	/* what it left behind in its group */
	if (w == s->pub && running && !s->repl) {
		s->pub = NULL;
		logw(w, "%s, restarting in %lldms", how,
		    again(s, now() - w->born < YOUNG));
	} else if (w == s->repl) {
		w->pid = 0;
		fail(w, "worker %d failed to come online: %s", w->id, how);
	} else {
		if (w == s->pub)
			s->pub = NULL;
		logw(w, "%s", how);
	}
	free(w);
	stopped();
}

static void
reap(void)
{
	struct worker *w;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (w = workers; w && w->pid != pid; w = w->next)
			;
		if (w)
			reaped(w, status);
	}
}

static void
onsignals(void)
{
	unsigned char sig[64];
	struct worker *w;
	ssize_t n, i;

	while ((n = read(selfpipe[0], sig, sizeof(sig))) > 0)
		for (i = 0; i < n; i++)
			switch (sig[i]) {
			case SIGCHLD:
				reap();
				break;
			case SIGHUP:
				if (deploy.active || stop.active)
					warn("SIGHUP ignored: busy");
				else
					deploybegin(NULL, 0);
				break;
			case SIGTERM:
			case SIGINT:
				if (quitting) {
					warn("killing every worker");
					for (w = workers; w; w = w->next)
						killw(w);
					break;
				}
				quitting = 1;
				if (stop.active)
					stopped();
				else
					stopbegin(NULL);
				break;
			}
}

static void
ondeadlines(void)
{
	long long t = now();
	struct worker *w, *next;
	struct slot *s;

	for (w = workers; w; w = next) {
		next = w->next;
		if (!w->deadline || w->deadline > t)
			continue;
		switch (w->state) {
		case W_STARTING:
			fail(w, "worker %d failed to come online: no \"online\" within %dms",
			    w->id, cfg.onlinetimeout);
			break;
		case W_DRAINING:
			stopw(w);
			break;
		case W_STOPPING:
			logw(w, "did not exit within %dms, killing it", cfg.shutdowntimeout);
			killw(w);
			break;
		default:
			w->deadline = 0;
		}
	}
	if (sweep && sweep <= t)
		onsweep();
	for (s = slots; s < slots + cfg.workers; s++)
		if (s->restart && s->restart <= t) {
			s->restart = 0;
			if (!(s->repl = spawn(s - slots, s->suspended)))
				s->restart = t + BACKOFFMAX;
		}
}

static int
timeout(void)
{
	long long next = 0, t;
	struct worker *w;
	struct slot *s;

	for (w = workers; w; w = w->next)
		if (w->deadline && (!next || w->deadline < next))
			next = w->deadline;
	for (s = slots; s < slots + cfg.workers; s++)
		if (s->restart && (!next || s->restart < next))
			next = s->restart;
	if (sweep && (!next || sweep < next))
		next = sweep;
	if (!next)
		return -1;
	t = next - now();
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

/* One row a worker, a row for a slot without one; columns for awk. */
#define ROW "%-6s %-7s %-10s %-7s %-8s %s"
static void
status(struct client *c)
{
	char id[16], pid[16], up[24], restarts[16];
	struct worker *w;
	struct slot *s;
	long long t = now();
	int pass;

	ipc_reply(c, ROW, "worker", "pid", "state", "uptime", "restarts", "socket");
	for (s = slots; s < slots + cfg.workers; s++) {
		snprintf(id, sizeof(id), "%d", (int)(s - slots));
		snprintf(restarts, sizeof(restarts), "%u", s->restarts);
		if (!s->pub && !s->repl)
			ipc_reply(c, ROW, id, "-", s->restart ? "restarting" :
			    running ? "down" : "stopped", "-", restarts, s->path);
		/* The published one, its replacement, then those leaving. */
		for (pass = 0; pass < 3; pass++)
			for (w = workers; w; w = w->next) {
				if (w->id != s - slots || (pass == 0) != (w == s->pub)
				    || (pass == 1) != (w == s->repl))
					continue;
				snprintf(pid, sizeof(pid), "%d", (int)w->pid);
				snprintf(up, sizeof(up), "%llds", (t - w->born) / 1000);
				ipc_reply(c, ROW, id, pid, statename[w->state], up,
				    restarts, s->path);
			}
	}
	ipc_reply(c, "ok");
}

static void
resume(struct client *c)
{
	struct worker *w;
	int i, n = 0;

	for (i = 0; i < cfg.workers; i++)
		slots[i].suspended = 0;
	deploy.suspended = 0;
	for (w = workers; w; w = w->next) {
		if (!w->suspended || (w->state != W_STARTING
		    && w->state != W_SUSPENDED))
			continue;
		w->suspended = 0;
		if (w->chan < 0 || chan_send(w->chan, "resume") < 0) {
			logw(w, "could not be sent \"resume\"");
			continue;
		}
		n++;
		if (w->state == W_SUSPENDED)
			become(w, W_ONLINE);
	}
	ipc_reply(c, "resumed %d worker%s", n, n == 1 ? "" : "s");
	ipc_reply(c, "ok");
}

/* One line from a control client. */
static void
command(struct client *c, char *line)
{
	char err[128];
	int cmd, susp;

	cmd = ipc_parse(line, &susp, err, sizeof(err));
	if (cmd < 0)
		ipc_reply(c, "error: %s", err);
	else if (cmd == C_STATUS)
		status(c);
	else if (cmd == C_RESUME)
		resume(c);
	else if (cmd && (deploy.active || stop.active))
		ipc_reply(c, "error: busy: a %s is under way",
		    deploy.active ? "deploy" : "stop");
	else if (cmd == C_STOP)
		stopbegin(c);
	else if (cmd == C_START && running)
		ipc_reply(c, "already running\nok");
	else if (cmd)
		deploybegin(c, susp);
}

static void
onclient(struct client *c, short revents)
{
	char *line;
	int r;

	if (revents & POLLIN) {
		if ((r = lines_fill(c->fd, &c->in)) < 0)
			c->eof = 2;
		else if (r == 0)
			c->eof = 1;
	}
	while (!c->waiting && c->outlen < OUTMAX && (r = lines_next(&c->in, &line)) != 0) {
		if (r > 0) {
			command(c, line);
		} else {
			ipc_reply(c, "error: line too long");
			c->eof = 1;
			c->in.len = c->in.off = 0;
		}
	}
}

/* The clients that are done or gone. */
static void
reapclients(void)
{
	struct client **pp, *c;

	for (pp = &clients; (c = *pp); ) {
		if (ipc_flush(c) < 0)
			c->eof = 2;
		if ((c->eof == 2 && !c->waiting) || (c->eof && !c->waiting && !c->outlen)) {
			*pp = c->next;
			if (deploy.c == c)
				deploy.c = NULL;
			if (stop.c == c)
				stop.c = NULL;
			ipc_free(c);
		} else {
			pp = &c->next;
		}
	}
}

static int
fillpoll(void)
{
	struct client *c;
	struct worker *w;
	size_t n = 2;

	for (c = clients; c; c = c->next)
		n++;
	for (w = workers; w; w = w->next)
		n++;
	if (n > npfd) {
		free(pfd);
		if (!(pfd = calloc(n * 2, sizeof(*pfd))))
			die("calloc:");
		npfd = n * 2;
	}
	n = 0;
	pfd[n].fd = selfpipe[0];
	pfd[n++].events = POLLIN;
	pfd[n].fd = lfd;
	pfd[n++].events = POLLIN;
	for (c = clients; c; c = c->next) {
		pfd[n].fd = c->fd;
		pfd[n].events = (!c->waiting && !c->eof && c->outlen < OUTMAX ? POLLIN : 0)
		    | (c->outlen ? POLLOUT : 0);
		if (!pfd[n].events)
			pfd[n].fd = -1;
		n++;
	}
	for (w = workers; w; w = w->next) {
		pfd[n].fd = w->chan;
		pfd[n++].events = POLLIN;
	}
	return n;
}

static void
onio(struct pollfd *pfd, int n)
{
	struct client *c;
	struct worker *w;
	int i;

	if (pfd[1].revents & POLLIN)
		while ((c = ipc_accept(lfd))) {
			c->next = clients;
			clients = c;
		}
	for (i = 2; i < n; i++) {
		if (!pfd[i].revents || pfd[i].fd < 0)
			continue;
		for (c = clients; c && c->fd != pfd[i].fd; c = c->next)
			;
		if (c) {
			onclient(c, pfd[i].revents);
			continue;
		}
		for (w = workers; w && w->chan != pfd[i].fd; w = w->next)
			;
		if (w)
			readchan(w);
	}
	/* Commands held back by a busy client may go on now. */
	for (c = clients; c; c = c->next)
		if (!c->waiting && c->in.len > c->in.off)
			onclient(c, 0);
	reapclients();
}

static void
setup(void)
{
	struct sigaction sa;
	int i, fd;

	/* Workers inherit 0, 1 and 2; fd 3 must not be one of them. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
		;
	if (fd >= 3)
		close(fd);
	if (pipe(selfpipe) < 0)
		die("pipe:");
	for (i = 0; i < 2; i++) {
		fcntl(selfpipe[i], F_SETFL, O_NONBLOCK);
		fcntl(selfpipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!(slots = calloc(cfg.workers, sizeof(*slots))))
		die("calloc:");
	for (i = 0; i < cfg.workers; i++)
		config_sockpath(&cfg, i, slots[i].path, sizeof(slots[i].path));
}

int
main(int argc, char *argv[])
{
	int n;

	config_load(&cfg, argc, argv);
	if (cfg.cmd != C_DAEMON)
		return ipc_run(&cfg);
	setup();
	lfd = ipc_listen(cfg.ipc);
	findleft();
	warn("version %s, %d worker%s of %s, control socket %s", VERSION,
	    cfg.workers, cfg.workers > 1 ? "s" : "", cfg.script, cfg.ipc);
	deploybegin(NULL, 0);
	for (;;) {
		n = fillpoll();
		if (poll(pfd, n, timeout()) < 0 && errno != EINTR)
			die("poll:");
		if (pfd[0].revents & POLLIN)
			onsignals();
		ondeadlines();
		onio(pfd, n);
	}
	/* NOTREACHED */
}
