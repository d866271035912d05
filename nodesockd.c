/* See LICENSE file for copyright and license details.
 *
 * nodesockd runs Node.js workers, each on a UNIX socket of its own, and
 * keeps a stable path to each for Nginx.
 *
 * There are cfg.workers slots, as many as scale asks. A slot has at most
 * one published worker (pub: its socket is what the public name points to)
 * and at most one replacement being started (repl). Workers no longer in a
 * slot drain and stop on their own timers until they are reaped. Every
 * worker process is on one list and in one state of enum wstate; every
 * change of state goes through become(), which also arms its deadline.
 *
 * A deploy (the first start, "start", "restart", SIGHUP) gives every slot a
 * replacement and publishes them all only when all are online; if one
 * fails, all are stopped and the old workers keep serving. A published
 * worker that dies, hangs (the watchdog) or asks to go is replaced by the
 * oldest standby at once if there is one: a worker of no slot (id -1),
 * online but suspended; else by a new worker, with a back-off when it died
 * young. The standbys' own back-off is kept in the slot "spare".
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>	/* PR_SET_CHILD_SUBREAPER */
#endif

#include "nodesockd.h"

#define YOUNG		10000	/* ms: a worker dying younger died young */
#define BACKOFF		100	/* ms: the first back-off, doubled per young death */
#define BACKOFFMAX	30000
#define IDLEMAX		60000	/* ms: a control client silent this long goes */
#define RETELL		(1 << 30)	/* in told: the init has not heard the last */
#define HINT		" (a worker must listen on the path in $%s, then send" \
			" \"online\"; the helper's listen() does both)"

enum wstate {
	W_STARTING,	/* forked; must say "online" before its deadline */
	W_ONLINE,	/* listening: published, or waiting for its deploy */
	W_SUSPENDED,	/* online, but holding requests until "resume" */
	W_DRAINING,	/* replaced; sent "shutdown" at its deadline */
	W_STOPPING,	/* asked to exit; killed at its deadline */
	W_KILLED,	/* sent SIGKILL; waiting to be reaped */
	W_REAPED,	/* exited, or an earlier daemon's that got SIGTERM: its
			 * process group lives on, and gets SIGKILL at the deadline */
	W_LEFT,		/* an earlier daemon's, serving on: SIGTERM at the deadline,
			 * drainDelay after our slots are all published */
};

static const char *statename[] = {
	[W_STARTING] = "starting", [W_ONLINE] = "online",
	[W_SUSPENDED] = "suspended", [W_DRAINING] = "draining",
	[W_STOPPING] = "stopping", [W_KILLED] = "killed", [W_REAPED] = "reaped",
	[W_LEFT] = "left",
};

struct worker {
	struct worker *next;
	int id;			/* its slot: the {worker} in socketFile, or: */
#define STANDBY	-1		/* a standby, of no slot */
#define LEFT	-2		/* an earlier daemon's (W_LEFT, then W_REAPED) */
	pid_t pid;
	enum wstate state;
	int suspended;		/* started suspended and not yet resumed */
	int chan;		/* our end of its fd 3, -1 once closed */
	int warned;		/* said something we could not read */
	int hung;		/* missed its heartbeat: killed once replaced */
	int dog;		/* the watchdog it was started with, ms; 0: none */
	long long born;		/* ms on the monotonic clock */
	long long beat;		/* its last heartbeat */
	unsigned long long start;	/* see starttime() */
	long long deadline;	/* 0: none */
	char sock[SUNLEN];	/* its private socket */
	struct lines in;
};

struct slot {
	struct worker *pub;	/* published, NULL if none */
	struct worker *repl;	/* being started to replace it, NULL if none */
	unsigned fails;		/* young deaths in a row */
	unsigned restarts;	/* workers started after a death */
	long long restart;	/* when to start one after a death; 0: not */
	char last[64];		/* how its last worker ended, for status */
	char path[SUNLEN];	/* the public name */
};

/* The signals the daemon handles (SIGPIPE: ignored); a child gets SIG_DFL. */
static const int handled[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGPIPE };

static struct config cfg;
static struct slot slots[MAXWORKERS];
static struct slot spare;	/* the standbys' back-off and restarts */
static struct worker *workers;
static struct client *clients;
static int selfpipe[2] = { -1, -1 };
static int lfd = -1;		/* the control socket */
static int running;		/* the workers should be up */
static int suspend;		/* the slots' workers start suspended */
static int quitting;		/* exit once every worker is gone */
static enum { B_NONE, B_DEPLOY, B_STOP, B_SCALE, B_STANDBY } busy;	/* one at a time */
static int toonline;		/* the deploy's replacements not yet online */
static struct client *waiter;	/* who waits for its answer, its lines held; or NULL */
static const char *busyname[] = { [B_DEPLOY] = "deploy", [B_STOP] = "stop",
	[B_SCALE] = "scale", [B_STANDBY] = "change of standbys" };
static long long acceptpause;	/* out of descriptors: accept again then */
static int starved;		/* and it has been said */
static char pubwhy[256];	/* why the last swap() failed */
static int told;		/* what notify() last told, | RETELL: tell again */
static struct pollfd *pfd;	/* what poll(2) watches, sized by fillpoll() */
static size_t npfd;
static int nargs;		/* the command line, for reload */
static char **args;

/* "nodesockd: " and the message, and errno's if the message ends in ':';
 * die() then exits. */
#define die(...)	(warn(__VA_ARGS__), exit(1))

void
warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fputs("nodesockd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
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
	if (w->id < 0)
		warn(w->id == LEFT ? "worker (pid %d) of an earlier nodesockd: %s"
		    : "standby (pid %d) %s", (int)w->pid, msg);
	else
		warn("worker %d (pid %d) %s", w->id, (int)w->pid, msg);
}

static void
onsignal(int sig)
{
	int saved = errno;
	unsigned char c = sig;

	write(selfpipe[1], &c, 1);	/* if full, a wake-up is pending */
	errno = saved;
}

/* When process pid started, in clock ticks since boot: field 22 of
 * /proc/PID/stat (Linux). With its pid, it names one process: a pid used
 * again gets another. 0 where the system does not say. */
static unsigned long long
starttime(pid_t pid)
{
	char buf[1024], *p;
	ssize_t n;
	int fd, i;

	snprintf(buf, sizeof(buf), "/proc/%d/stat", (int)pid);
	if ((fd = open(buf, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* After the name, which may hold spaces and parentheses; a zombie
	 * (state Z, field 3) is no longer running. */
	if (!(p = strrchr(buf, ')')) || p[1] != ' ' || p[2] == 'Z')
		return 0;
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Remove path if it is a file of ours of that type (S_IFSOCK, S_IFLNK,
 * S_IFREG): nodesockd removes only what it made. */
static void
rmours(const char *path, mode_t type)
{
	struct stat st;

	if (lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type
	    && st.st_uid == geteuid())
		unlink(path);
}

/* Is this process one an earlier nodesockd of ours started? Never pid 1,
 * nor us, nor our group; it leads its own group, as our workers do; and
 * it started when the run file says. Where the system gives no start
 * time, its socket, ours, must answer instead. */
static int
ours(const struct worker *w)
{
	struct stat st;

	if (w->pid <= 1 || w->pid == getpid() || w->pid == getpgrp()
	    || getpgid(w->pid) != w->pid)
		return 0;
	if (w->start)
		return starttime(w->pid) == w->start;
	return lstat(w->sock, &st) == 0 && S_ISSOCK(st.st_mode)
	    && st.st_uid == geteuid() && ipc_alive(w->sock);
}

/* The run file says which processes are ours, for the next nodesockd if
 * this one is killed: "PID START SOCKET" a line, written whole under a
 * temporary name, then rename(2)d over the old one. */
static void
saverun(void)
{
	char tmp[PATH_MAX + 4];
	struct worker *w;
	FILE *f = NULL;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", cfg.run);
	rmours(tmp, S_IFREG);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) >= 0 && (f = fdopen(fd, "w"))) {
		for (w = workers; w; w = w->next)
			if (w->state != W_REAPED || w->id == LEFT)
				fprintf(f, "%d %llu %s\n", (int)w->pid, w->start, w->sock);
	}
	if (!f || fclose(f) == EOF || rename(tmp, cfg.run) < 0) {
		warn("%s:", tmp);
		if (fd >= 0 && !f)
			close(fd);
		rmours(tmp, S_IFREG);
	}
}

/* A worker's private socket: its public name, ".PID". config_load and
 * scale made sure that it fits. */
static void
privname(struct worker *w, pid_t pid)
{
	snprintf(w->sock, sizeof(w->sock), "%s.%d", slots[w->id < 0 ? 0 : w->id].path,
	    (int)pid);
}

/* In the child: its socket's name, signals, fd 3, environment, process
 * group, umask; then, once the parent has written us into the run file,
 * exec node SCRIPT or the command. */
static void
child(struct worker *w, int fd, const sigset_t *mask)
{
	extern char **environ;
	char **e, id[16], orphan[16], dog[16], go;
	char *argv[] = { cfg.node, cfg.script, NULL };
	size_t n;
	int i, j, k;

	privname(w, getpid());
	for (i = 0; i < (int)LEN(handled); i++)
		signal(handled[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	close(w->chan);		/* so that the parent's death reads as EOF */
	close(lfd);		/* nor may we keep the control socket alive */
	setpgid(0, 0);
	umask(007);
	if (fd == 3)
		fcntl(3, F_SETFD, 0);
	else if (dup2(fd, 3) < 0)
		_exit(126);
	/* With env, only the variables named, PATH and NODE_ENV: the first
	 * entry of each name (environ may hold one twice), kept in place. */
	for (k = 0, e = environ; cfg.env && *e; e++) {
		n = strcspn(*e, "=");
		for (i = 0; cfg.env[i] && (strncmp(*e, cfg.env[i], n) || cfg.env[i][n]); i++)
			;
		for (j = 0; j < k && strncmp(environ[j], *e, n + 1); j++)
			;
		if (j == k && (*e)[n] == '=' && (cfg.env[i] || !strncmp(*e, "PATH=", 5)
		    || !strncmp(*e, "NODE_ENV=", 9)))
			environ[k++] = *e;
	}
	if (cfg.env)
		environ[k] = NULL;
	snprintf(id, sizeof(id), "%d", w->id);
	snprintf(orphan, sizeof(orphan), "%d", cfg.orphantimeout);
	snprintf(dog, sizeof(dog), "%d", w->dog);
	rmours(w->sock, S_IFSOCK);	/* left by a process of the same pid */
	unsetenv("NOTIFY_SOCKET");	/* the init's, for us */
	if (setenv(cfg.listenvar, w->sock, 1) < 0
	    || setenv("NODESOCKD_LISTEN_VAR", cfg.listenvar, 1) < 0
	    || setenv("NODESOCKD_WORKER_ID", w->id < 0 ? "" : id, 1) < 0
	    || setenv("NODESOCKD_WATCHDOG_MS", dog, 1) < 0
	    || setenv("NODESOCKD_SUSPENDED", w->suspended ? "true" : "", 1) < 0
	    || setenv("NODESOCKD_ORPHAN_MS", orphan, 1) < 0
	    || (cfg.nodejs ? setenv("NODE_CHANNEL_FD", "3", 1) < 0
	    || setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1) < 0
	    : unsetenv("NODE_CHANNEL_FD") < 0 || unsetenv("NODE_CHANNEL_SERIALIZATION_MODE") < 0))
		_exit(126);
	if (read(3, &go, 1) != 1)
		_exit(126);
	/* A command runs in the base directory; node SCRIPT where we are. */
	if (cfg.cmd && chdir(*cfg.base ? cfg.base : "/") < 0)
		warn("chdir %s:", cfg.base);
	else if (execvp(cfg.node, cfg.cmd ? cfg.cmd : argv) < 0)
		warn("exec %s:", cfg.node);
	_exit(errno == ENOENT ? 127 : 126);
}

static void
become(struct worker *w, enum wstate st)
{
	static const int *timeout[W_LEFT + 1] = {
		[W_STARTING] = &cfg.onlinetimeout, [W_DRAINING] = &cfg.draindelay,
		[W_STOPPING] = &cfg.shutdowntimeout, [W_REAPED] = &cfg.shutdowntimeout,
	};

	if (w->state != st && st != W_STARTING && st != W_REAPED)
		logw(w, "%s", statename[st]);
	w->state = st;
	w->deadline = timeout[st] ? now() + *timeout[st] : 0;
	if ((st == W_ONLINE || st == W_SUSPENDED) && w->dog)
		w->deadline = (w->beat = now()) + w->dog;
}

/* Start a worker for slot id. It is the caller's to put in the slot. The
 * signals are blocked from fork() until the child has reset them: a child
 * must never run our handlers. */
static struct worker *
spawn(int id, int suspended)
{
	struct worker *w;
	sigset_t all, mask;
	int sv[2];

	if (!(w = calloc(1, sizeof(*w))) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		warn("cannot start a worker:");
		free(w);
		return NULL;
	}
	nonblock(sv[0]);
	fcntl(sv[1], F_SETFD, FD_CLOEXEC);
	*w = (struct worker){ .next = workers, .id = id, .suspended = suspended,
	    .dog = cfg.watchdog, .chan = sv[0], .born = now() };
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &mask);
	if ((w->pid = fork()) == 0)
		child(w, sv[1], &mask);		/* it never returns */
	sigprocmask(SIG_SETMASK, &mask, NULL);
	close(sv[1]);
	if (w->pid < 0) {
		warn("fork:");
		close(sv[0]);
		free(w);
		return NULL;
	}
	setpgid(w->pid, w->pid);	/* before anyone may signal the group */
	privname(w, w->pid);
	w->start = starttime(w->pid);
	workers = w;
	saverun();
	if (write(w->chan, "", 1) != 1)
		warn("worker %d (pid %d): write:", id, (int)w->pid);
	become(w, W_STARTING);
	logw(w, "started%s", suspended ? " suspended" : "");
	return w;
}

/* A worker is gone for good: off the list. */
static void
drop(struct worker *w)
{
	struct worker **pp;

	for (pp = &workers; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	free(w);
}

/* SIGKILL to a worker and its group. A group outlives its leader, but a
 * live pgid is never reused: once the leader of one of ours is gone (we
 * reaped it; or an earlier daemon's, proven ours when adopted, is gone or
 * a zombie), its group is ours while its pid is not in use again. */
static void
killw(struct worker *w)
{
	if (w->state < W_REAPED || ours(w) || (w->id == LEFT ? w->start
	    && !starttime(w->pid) : kill(w->pid, 0) < 0))
		kill(-w->pid, SIGKILL);
	if (w->state >= W_REAPED) {
		drop(w);
		return;
	}
	kill(w->pid, SIGKILL);
	become(w, W_KILLED);
}

/* Ask a worker to finish and exit: "shutdown" once it listens, else SIGTERM.
 * One asked already, or gone, is left be; an earlier daemon's gets SIGTERM
 * in ondeadlines(). */
static void
stopw(struct worker *w)
{
	if (w->state == W_LEFT)
		w->deadline = now();
	if (w->state >= W_STOPPING)	/* W_STOPPING, W_KILLED, W_REAPED, W_LEFT */
		return;
	if (w->state == W_STARTING || w->chan < 0
	    || dprintf(w->chan, "\"shutdown\"\n") <= 0)
		kill(w->pid, SIGTERM);
	become(w, W_STOPPING);
}

/* What busy was is over: answer the client waiting for it, if any, and
 * let it send again; fmt takes s. */
static void
over(const char *fmt, const char *s)
{
	busy = B_NONE;
	if (waiter)
		ipc_reply(waiter, fmt, s);
	waiter = NULL;
}

/* Tell the init what changed, once a turn: a datagram in sd_notify(3)'s
 * format to $NOTIFY_SOCKET (a path, or @ for an abstract name). READY=1
 * while every slot is published and no deploy runs; RELOADING=1 when a
 * deploy replaces published workers; STOPPING=1 on SIGTERM; and STATUS.
 * The first time it is ready, s6's way too: a newline on notifyFd. */
static void
notify(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	char msg[256];
	int i, up = 0, fd, ready, was = told;

	for (i = 0; i < cfg.workers; i++)
		up += slots[i].pub != NULL;
	if ((i = up << 3 | (busy == B_DEPLOY) << 2 | quitting << 1 | running) == told)
		return;
	/* All up, or some after a deploy, which then is over either way. */
	ready = busy != B_DEPLOY && (up == cfg.workers || (up && told & 4));
	snprintf(msg, sizeof(msg), "%s%s%sMONOTONIC_USEC=%lld\nSTATUS=%d worker%s online, "
	    "%d restarting", busy == B_DEPLOY && up && !(told & 4) ? "RELOADING=1\n" : "",
	    ready ? "READY=1\n" : "", quitting && !(told & 2) ? "STOPPING=1\n" : "",
	    now() * 1000, up, up == 1 ? "" : "s", running ? cfg.workers - up : 0);
	told = i;
	if (ready && up == cfg.workers && cfg.notifyfd > 0) {
		if (write(cfg.notifyfd, "\n", 1) != 1)
			warn("notifyFd %d:", cfg.notifyfd);
		close(cfg.notifyfd);
		cfg.notifyfd = 0;
	}
	if (!path || ipc_addr(&sa, path) < 0)
		return;
	if (*path == '@')
		sa.sun_path[0] = '\0';
	/* The init's queue full, or no descriptor: again a second later,
	 * from what it last heard. */
	if (((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || sendto(fd, msg, strlen(msg),
	    MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)
	    - sizeof(sa.sun_path) + strlen(path)) < 0)
	    && (errno == EAGAIN || errno == EMFILE || errno == ENFILE))
		told = was | RETELL;
	close(fd);
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
	s->restart = now() + delay;	/* ondeadlines() starts it */
	return delay;
}

/* Point slot s's public name at w's socket: symlink(2) under a temporary
 * name, rename(2) over the name. -1 and pubwhy set if it failed. */
static int
point(struct slot *s, struct worker *w)
{
	char tmp[SUNLEN + 4];
	int r;

	snprintf(tmp, sizeof(tmp), "%s.new", s->path);
	rmours(tmp, S_IFLNK);
	if ((r = symlink(strrchr(w->sock, '/') + 1, tmp)) == 0
	    && rename(tmp, s->path) == 0)
		return 0;
	snprintf(pubwhy, sizeof(pubwhy), "%s %s: %s", r ? "symlink" : "rename",
	    tmp, strerror(errno));
	rmours(tmp, S_IFLNK);
	return -1;
}

/* Point the public names of n slots from first at their replacements,
 * all or none: if one fails, those already moved are moved back. The
 * workers replaced drain. -1 and pubwhy set if it failed. */
static int
swap(struct slot *first, int n)
{
	struct worker *old;
	struct slot *s;
	int i, fd;

	for (i = 0; i < n; i++)
		if (point(&first[i], first[i].repl) < 0) {
			while (i-- > 0)
				if (!first[i].pub || point(&first[i], first[i].pub) < 0)
					rmours(first[i].path, S_IFLNK);
			return -1;
		}
	for (s = first; s < first + n; s++) {
		old = s->pub;
		s->pub = s->repl;
		s->repl = NULL;
		logw(s->pub, "published as %s", s->path);
		if (old && old->hung)
			killw(old);
		else if (old)
			become(old, W_DRAINING);
	}
	/* tmpDir removed and made again takes the control socket with it. */
	if (access(cfg.ipc, F_OK) < 0 && errno == ENOENT
	    && (fd = ipc_listen(cfg.ipc)) >= 0) {
		warn("%s was gone: listening there again", cfg.ipc);
		close(lfd);
		lfd = fd;
	}
	return 0;
}

/* What would make a deploy fail half way, checked before it starts: tmpDir
 * must take new files, and every public name be a symlink or absent.
 * 0, or why not in why. */
static int
unpublishable(char *why, size_t n)
{
	struct stat st;
	int i;

	if (access(cfg.tmpdir, W_OK | X_OK) < 0)
		return snprintf(why, n, "tmpDir %s: %s", cfg.tmpdir, strerror(errno));
	for (i = 0; i < cfg.workers; i++)
		if (lstat(slots[i].path, &st) == 0 && !S_ISLNK(st.st_mode))
			return snprintf(why, n, "%s exists and is not a symlink",
			    slots[i].path);
	return 0;
}

/* Keep cfg.standby standbys: those beyond go, starting ones first, then
 * the newest (the list is newest first); start those missing, unless the
 * back-off of a young death holds them. */
static void
spares(void)
{
	struct worker *w;
	int n = 0, pass;

	for (w = workers; w; w = w->next)
		n += w->id == STANDBY && w->state < W_DRAINING;
	for (pass = 0; pass < 2; pass++)
		for (w = workers; w && n > cfg.standby; w = w->next)
			if (w->id == STANDBY && w->state < W_DRAINING
			    && (pass || w->state == W_STARTING)) {
				stopw(w);
				n--;
			}
	while (running && !spare.restart && n++ < cfg.standby && spawn(STANDBY, 1))
		;
	if (n <= cfg.standby && running && !spare.restart)
		spare.restart = now() + BACKOFFMAX;	/* a spawn failed */
}

/* A replacement failed: it died, missed its deadline or could not be
 * published (w is NULL when none was started; else the message is about
 * "worker N", or "a standby"). A scale is answered why; in a deploy, every
 * replacement goes and the published workers stay; a slot with none starts
 * again after its back-off. A standby has a back-off of its own. */
static void
fail(struct worker *w, const char *fmt, ...)
{
	char why[256];
	struct slot *s;
	va_list ap;
	int n = 0;

	if (w)
		n = snprintf(why, 32, w->id < 0 ? "a standby " : "worker %d ", w->id);
	va_start(ap, fmt);
	vsnprintf(why + n, sizeof(why) - n, fmt, ap);
	va_end(ap);
	if (w && w->state < W_KILLED)	/* not yet killed, nor reaped */
		killw(w);
	if (w && w->id < 0) {		/* a standby: on its own back-off */
		warn("%s, restarting in %lldms", why, again(&spare,
		    now() - w->born < YOUNG));
		if (busy == B_STANDBY)
			over("error: %s", why);
		return;
	}
	if (w)
		slots[w->id].repl = NULL;
	if (busy == B_DEPLOY || w)
		warn(busy == B_DEPLOY ? "deploy failed: %s" : "%s", why);
	for (s = slots; busy == B_DEPLOY && s < slots + cfg.workers; s++)
		if (s->repl) {
			stopw(s->repl);
			s->repl = NULL;
		}
	if (busy == B_SCALE || busy == B_DEPLOY)	/* answered why, and over */
		over("error: %s", why);
	for (s = slots; s < slots + cfg.workers; s++)
		if (running && !s->pub && !s->repl && !s->restart)
			warn("worker %d restarting in %lldms", (int)(s - slots),
			    again(s, w && w->id == s - slots));
}

/* The handler of start and restart; r is NULL for main()'s and SIGHUP's. */
static void
deploybegin(struct client *c, const struct request *r)
{
	char why[PATH_MAX + 64];
	struct slot *s;

	if (r && r->cmd == C_START && running) {
		ipc_reply(c, "already running\nok");
		return;
	}
	waiter = c;
	if (unpublishable(why, sizeof(why))) {
		warn("deploy failed: cannot publish: %s", why);
		over("error: cannot publish: %s", why);
		return;
	}
	running = 1;
	busy = B_DEPLOY;
	toonline = cfg.workers;
	suspend = r && r->arg;
	for (s = slots; s < slots + cfg.workers; s++) {
		s->restart = 0;
		if (s->repl)
			stopw(s->repl);
		if (!(s->repl = spawn(s - slots, suspend))) {
			fail(NULL, "worker %d could not be started", (int)(s - slots));
			return;
		}
	}
}

static void
deployend(void)
{
	struct worker *w;

	if (swap(slots, cfg.workers) < 0) {
		fail(NULL, "cannot publish: %s", pubwhy);
		return;
	}
	warn("deploy done: %d worker%s online%s", cfg.workers,
	    cfg.workers > 1 ? "s" : "", suspend ? ", suspended" : "");
	over("ok", NULL);
	/* The standbys, of the code deployed. */
	for (w = workers; w; w = w->next)
		if (w->id == STANDBY)
			stopw(w);
	spares();
}

/* Publish the oldest standby in slot s at once, in place of old (dead,
 * hung, or asking to go), with one rename(2), and start another behind
 * it. The standby learns its slot, then is resumed. 0 if none is ready. */
static int
promote(struct slot *s, struct worker *old, const char *why)
{
	struct timespec t0, t1;
	struct worker *w, *b = NULL;

	for (w = workers; w; w = w->next)
		if (w->id == STANDBY && w->state == W_SUSPENDED
		    && (!b || w->born < b->born))
			b = w;
	if (!b || !running || s->repl)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b->id = s - slots;
	b->suspended = suspend;	/* a suspended deploy's slot: held */
	dprintf(b->chan, "{\"worker\":%d}\n%s", b->id, b->suspended ? "" : "\"resume\"\n");
	become(b, b->suspended ? W_SUSPENDED : W_ONLINE);
	s->repl = b;
	if (swap(s, 1) < 0) {
		fail(b, "cannot be published: %s", pubwhy);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	logw(old ? old : b, "%s; standby (pid %d) published as %s in %.1fms", why,
	    (int)b->pid, s->path, (t1.tv_sec - t0.tv_sec) * 1e3
	    + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	spares();
	return 1;
}

/* A worker said something on its channel. */
static void
message(struct worker *w, char *line)
{
	struct jtok t[1];
	struct jerr e;
	struct stat st;
	struct slot *s = w->id < 0 ? &spare : &slots[w->id];

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
		errno = ENOTSOCK;	/* unless lstat(2) has a better reason */
		if (lstat(w->sock, &st) < 0 || !S_ISSOCK(st.st_mode)
		    || st.st_uid != geteuid() || chmod(w->sock, 0660) < 0) {
			fail(w, "failed to come online: %s: %s" HINT, w->sock,
			    strerror(errno), cfg.listenvar);
			return;
		}
		become(w, w->suspended ? W_SUSPENDED : W_ONLINE);
		if (s->repl != w)
			return;
		if (busy != B_DEPLOY && swap(s, 1) < 0)
			fail(w, "cannot be published: %s", pubwhy);
		else if (busy != B_DEPLOY)
			spares();	/* after a failed first deploy, none runs yet */
		else if (--toonline == 0)
			deployend();
	} else if (json_streq(line, &t[0], "restart")) {
		if (s->pub != w || s->repl || busy
		    || promote(s, w, "asked to be replaced"))
			return;
		logw(w, "asked to be replaced");
		s->repl = spawn(w->id, suspend);
	} else if (json_streq(line, &t[0], "heartbeat") && w->dog
	    && (w->state == W_ONLINE || w->state == W_SUSPENDED)) {
		w->deadline = (w->beat = now()) + w->dog;
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
		if (r > 0)
			message(w, line);
		else if (!w->warned)
			logw(w, "sent a line longer than %d bytes, ignored", LINEMAX - 1);
		w->warned |= r < 0;
	}
}

/* Once a turn, before the daemon waits. Every slot published: a scale is
 * done, and the earlier daemon's workers may go. Every standby ready, or
 * the workers stopped: a change of standbys is done. Every worker gone: a
 * stop is done, and the daemon exits if asked to. */
static void
settled(void)
{
	struct client *c;
	struct worker *w;
	int i, n = 0;

	for (i = 0; i < cfg.workers && slots[i].pub; i++)
		;
	for (w = workers; w; w = w->next) {
		n += w->id == STANDBY && w->state == W_SUSPENDED;
		if (w->state == W_LEFT && !w->deadline && i == cfg.workers)
			w->deadline = now() + cfg.draindelay;
	}
	if ((busy == B_SCALE && i == cfg.workers)
	    || (busy == B_STANDBY && (n >= cfg.standby || !running)))
		over("ok", NULL);
	else if (busy == B_STANDBY && spare.restart)	/* spares() could not spawn */
		over("error: a standby could not be started", NULL);
	if (busy != B_STOP || workers)
		return;
	warn("stopped");
	over("ok", NULL);
	if (!quitting)
		return;
	notify();	/* STOPPING=1, if no turn has told it yet */
	rmours(cfg.ipc, S_IFSOCK);
	rmours(cfg.run, S_IFREG);
	while ((c = clients)) {
		clients = c->next;
		ipc_flush(c);
		ipc_free(c);
	}
	free(pfd);
	exit(0);
}

static void
stopbegin(struct client *c, const struct request *r)
{
	struct worker *w;
	struct slot *s;

	(void)r;
	running = suspend = 0;
	over("error: interrupted by stop", NULL);	/* a deploy's, a scale's */
	busy = B_STOP;
	waiter = c;
	for (s = slots; s < slots + cfg.workers; s++) {
		rmours(s->path, S_IFLNK);
		s->pub = s->repl = NULL;
		s->restart = 0;
	}
	spare.restart = 0;
	for (w = workers; w; w = w->next)
		stopw(w);
}

/* A daemon killed hard leaves its workers running. Its run file, if it is
 * ours (our user's, mode 0600), says which processes were its own; each
 * still running keeps serving (W_LEFT) until all our slots are published,
 * and drainDelay later gets SIGTERM, its group SIGKILL shutdownTimeout
 * after that, as long as it is still ours. Nothing else is signalled; the
 * sockets of those gone are removed. */
static void
adopt(void)
{
	char line[PATH_MAX + 64], *p;
	struct worker *w;
	struct stat st;
	FILE *f;
	int fd;

	if ((fd = open(cfg.run, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			warn("%s: ignored:", cfg.run);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
	    || (st.st_mode & 077) || !(f = fdopen(fd, "r"))) {
		warn("%s: ignored: not a file of ours of mode 0600", cfg.run);
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!(w = calloc(1, sizeof(*w))))
			die("calloc:");
		line[strcspn(line, "\n")] = '\0';
		w->pid = strtol(line, &p, 10);
		w->start = strtoull(p, &p, 10);
		if (*p++ == ' ' && strlen(p) < sizeof(w->sock))
			strcpy(w->sock, p);
		if (!*w->sock || !ours(w)) {
			if (*w->sock && !ipc_alive(w->sock))
				rmours(w->sock, S_IFSOCK);
			free(w);
			continue;
		}
		w->id = LEFT;
		w->chan = -1;
		w->state = W_LEFT;
		w->born = now();
		w->next = workers;
		workers = w;
		logw(w, "still runs, on %s", w->sock);
	}
	fclose(f);
}

/* A worker is gone: say how, and act by its place in its slot. What it
 * left in its process group gets SIGTERM, and SIGKILL at the deadline. */
static void
reaped(struct worker *w, int status)
{
	struct slot *s = w->id < 0 ? &spare : &slots[w->id];
	enum wstate was = w->state;
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	char how[128];

	snprintf(s->last, sizeof(s->last), sig ? "killed by signal %d (%s)"
	    : "exited with status %d", sig ? sig : WEXITSTATUS(status),
	    sig ? strsignal(sig) : "");
	snprintf(how, sizeof(how), "%s%s", sig ? "was " : "", s->last);
	become(w, W_REAPED);
	if (w->chan >= 0)
		close(w->chan);
	w->chan = -1;
	if (w == s->pub && running && !s->repl) {
		s->pub = NULL;
		if (promote(s, w, how))
			s->restarts++;
		else
			logw(w, "%s, restarting in %lldms", how,
			    again(s, now() - w->born < YOUNG));
	} else if (w == s->repl) {
		fail(w, "failed to come online: %s", how);
	} else if (w->id < 0 && was < W_DRAINING && running) {
		fail(w, "(pid %d) %s", (int)w->pid, how);
	} else {
		if (w == s->pub)
			s->pub = NULL;
		logw(w, "%s", how);
	}
	rmours(w->sock, S_IFSOCK);	/* after any standby took its name */
	if (kill(-w->pid, SIGTERM) < 0)
		drop(w);
	saverun();
}

static void
reap(void)
{
	struct worker *w, *next;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (w = workers; w && (w->pid != pid || w->state == W_REAPED);
		    w = w->next)
			;
		if (w)
			reaped(w, status);
	}
	/* A group is empty once its last orphan, ours to reap, is reaped. */
	for (w = workers; w; w = next) {
		next = w->next;
		if (w->state == W_REAPED && kill(-w->pid, 0) < 0)
			drop(w);
	}
}

static void
onsignals(void)
{
	unsigned char sig[64];
	struct worker *w, *next;
	ssize_t n, i;

	while ((n = read(selfpipe[0], sig, sizeof(sig))) > 0)
		for (i = 0; i < n; i++)
			switch (sig[i]) {
			case SIGCHLD:
				reap();
				break;
			case SIGHUP:
				if (busy)
					warn("SIGHUP ignored: busy");
				else
					deploybegin(NULL, NULL);
				break;
			case SIGTERM:
			case SIGINT:
				if (quitting) {	/* again: the stop runs, so just kill */
					warn("killing every worker");
					for (w = workers; w; w = next) {
						next = w->next;
						killw(w);
					}
				}
				quitting = 1;
				if (busy != B_STOP)
					stopbegin(NULL, NULL);
				break;
			}
}

/* A worker silent past the watchdog is hung. A published one is replaced
 * first (by a standby at once, else by a new worker, published when it is
 * online) and then killed with its group: it would not honour "shutdown".
 * A standby fails, as if it died; any other, or one still there a period
 * later, is killed at once. */
static void
hung(struct worker *w)
{
	struct slot *s = &slots[w->id < 0 ? 0 : w->id];
	char why[64];

	snprintf(why, sizeof(why), "hung: no heartbeat in %dms", w->dog);
	if (w->id < 0) {
		fail(w, "(pid %d) %s", (int)w->pid, why);
		return;
	}
	if (w->hung || s->pub != w) {
		logw(w, "%s, killing it", why);
		killw(w);
		return;
	}
	w->hung = 1;
	w->deadline = now() + w->dog;
	if (promote(s, w, why))
		return;
	logw(w, "%s", why);
	if (!s->repl && busy != B_DEPLOY)
		s->repl = spawn(w->id, suspend);
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
			fail(w, "failed to come online: no \"online\" within %dms"
			    HINT, cfg.onlinetimeout, cfg.listenvar);
			break;
		case W_ONLINE:
		case W_SUSPENDED:
			hung(w);
			break;
		case W_DRAINING:
			stopw(w);
			break;
		case W_STOPPING:
			logw(w, "did not exit within %dms, killing it", cfg.shutdowntimeout);
			killw(w);
			break;
		case W_REAPED:
			if (kill(-w->pid, 0) == 0)
				logw(w, "left processes that outlived shutdownTimeout: "
				    "killing its group");
			killw(w);
			break;
		case W_LEFT:
			if (ours(w) || (w->start && !starttime(w->pid))) {
				logw(w, "stopping it");
				rmours(w->sock, S_IFSOCK);
				kill(-w->pid, SIGTERM);
			}
			become(w, W_REAPED);
			break;
		default:
			w->deadline = 0;
		}
	}
	if (acceptpause && acceptpause <= t)
		acceptpause = 0;
	for (s = slots; s < slots + cfg.workers; s++)
		if (s->restart && s->restart <= t) {
			s->restart = 0;
			if (!(s->repl = spawn(s - slots, suspend))) {
				s->restart = t + BACKOFFMAX;
				fail(NULL, "worker %d could not be started", (int)(s - slots));
			}
		}
	if (spare.restart && spare.restart <= t) {
		spare.restart = 0;
		spares();
	}
}

static void
soonest(long long *next, long long t)
{
	if (t && (!*next || t < *next))
		*next = t;
}

/* Has the client sent a whole line not yet run? */
static int
pending(const struct client *c)
{
	return memchr(c->in.buf + c->in.off, '\n', c->in.len - c->in.off) != NULL;
}

/* ms to the next deadline, for poll(2); -1 if none is armed. */
static int
timeout(void)
{
	long long next = 0, t;
	struct worker *w;
	struct client *c;
	struct slot *s;

	for (w = workers; w; w = w->next)
		soonest(&next, w->deadline);
	for (s = slots; s < slots + cfg.workers; s++)
		soonest(&next, s->restart);
	soonest(&next, spare.restart);
	for (c = clients; c; c = c->next)
		if (c != waiter && c->outlen < OUTMAX && pending(c))
			next = 1;	/* lines it sent are all in: run them now */
		else if (c != waiter && !c->eof && !c->outlen)
			soonest(&next, c->seen + IDLEMAX);
	soonest(&next, acceptpause);
	soonest(&next, told & RETELL ? now() + 1000 : 0);
	if (!next)
		return -1;
	t = next - now();
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

/* A row of status: worker w of slot id (-1: a standby), or w NULL for a
 * slot without one. For awk, columns, the last the age of the last
 * heartbeat (watchdog on); for --json, an object of an array, n before it. */
static void
row(struct client *c, int json, int n, int id, const struct worker *w)
{
	const struct slot *s = id < 0 ? &spare : &slots[id];
	const char *no = json ? "null" : "-", *state = !w ? (s->restart ? "restarting"
	    : running ? "down" : "stopped") : id < 0 && w->state == W_SUSPENDED
	    ? "standby" : statename[w->state];
	char ids[16], pid[16], up[24], beat[32] = "", sock[6 * SUNLEN], last[6 * 64];
	long long t = now();

	snprintf(ids, sizeof(ids), id < 0 ? no : "%d", id);
	snprintf(pid, sizeof(pid), w ? "%d" : no, w ? (int)w->pid : 0);
	snprintf(up, sizeof(up), !w ? no : json ? "%lld" : "%llds",
	    w ? (t - w->born) / (json ? 1 : 1000) : 0);
	if (json)
		snprintf(beat, sizeof(beat), w && w->beat ? "%lld" : no, w ? t - w->beat : 0);
	else if (w && cfg.watchdog)
		snprintf(beat, sizeof(beat), w->beat ? " %lldms" : " -", t - w->beat);
	if (!json)
		ipc_reply(c, "%-6s %-7s %-10s %-7s %-8u %s%s", ids, pid, state, up,
		    s->restarts, id < 0 ? "-" : s->path, beat);
	else
		ipc_reply(c, "%s{\"worker\":%s,\"pid\":%s,\"state\":\"%s\",\"uptime_ms\":%s,"
		    "\"restarts\":%u,\"socket\":%s,\"last_exit\":%s,\"heartbeat_ms\":%s}",
		    n ? "," : "", ids, pid, state, up, s->restarts, id < 0 ? no :
		    json_quote(sock, sizeof(sock), s->path), *s->last ? json_quote(last,
		    sizeof(last), s->last) : no, beat);
}

/* One row a worker, a row for a slot without one, then the standbys; for
 * --json, one JSON object, a row a line. config: what the daemon runs. */
static void
status(struct client *c, const struct request *r)
{
	struct worker *w;
	struct slot *s;
	int pass, i, id, n = 0;

	if (r->cmd == C_CONFIG) {
		config_json(&cfg, c);
		return;
	}
	if (r->arg)	/* the version, the deploy if one runs, then the rows */
		ipc_reply(c, busy == B_DEPLOY ? "{\"version\":\"" VERSION "\",\"deploy\":"
		    "{\"suspended\":%s,\"pending\":%d},\"workers\":[" : "{\"version\":\""
		    VERSION "\",\"deploy\":null,\"workers\":[", suspend ? "true" : "false",
		    toonline);
	else
		ipc_reply(c, "worker pid     state      uptime  restarts socket%s",
		    cfg.watchdog ? " heartbeat" : "");
	for (i = 0; i <= cfg.workers; i++) {
		s = i < cfg.workers ? &slots[i] : &spare;
		if ((id = i < cfg.workers ? i : -1) < 0 && r->arg) {
			ipc_reply(c, "],\"standby\":[");
			n = 0;
		}
		if (id >= 0 && !s->pub && !s->repl)
			row(c, r->arg, n++, id, NULL);
		/* The published one, its replacement, then those leaving. */
		for (pass = 0; pass < 3; pass++)
			for (w = workers; w; w = w->next)
				if (w->id == id && (pass == 0) == (w == s->pub)
				    && (pass == 1) == (w == s->repl))
					row(c, r->arg, n++, id, w);
	}
	ipc_reply(c, r->arg ? "]}\nok" : "ok");
}

static void
resume(struct client *c, const struct request *r)
{
	struct worker *w;
	int n = 0;

	(void)r;
	suspend = 0;
	for (w = workers; w; w = w->next) {
		if (!w->suspended || w->id < 0 || w->state > W_SUSPENDED)
			continue;
		w->suspended = 0;
		if (w->chan < 0 || dprintf(w->chan, "\"resume\"\n") < 0) {
			logw(w, "could not be sent \"resume\"");
			continue;
		}
		n++;
		if (w->state == W_SUSPENDED)
			become(w, W_ONLINE);
	}
	ipc_reply(c, "resumed %d worker%s\nok", n, n == 1 ? "" : "s");
}

/* An upstream block for Nginx, as the README advises: every public name,
 * never marked down, the next one tried on an error. */
static void
nginx(struct client *c, const struct request *r)
{
	int i;

	(void)r;
	ipc_reply(c, "upstream app {");
	for (i = 0; i < cfg.workers; i++)
		ipc_reply(c, "\tserver unix:%s max_fails=0;", slots[i].path);
	ipc_reply(c, "}\n# in the location: proxy_pass http://app; "
	    "proxy_next_upstream error timeout;\nok");
}

/* Grow or shrink to r->arg slots. The slots removed, the highest, lose
 * their public names first; then their workers drain, as in a deploy. A
 * slot added starts as after a death, a standby first, and is published
 * once online. The answer comes when every slot is published. */
static void
scale(struct client *c, const struct request *r)
{
	char why[PATH_MAX + 64] = "";
	struct slot *s, *end = slots + r->arg;
	int was = cfg.workers;

	for (s = slots + was; s < end; s++)
		config_sockpath(&cfg, s - slots, s->path, sizeof(s->path));
	cfg.workers = r->arg;
	if (r->arg > 1 && !strstr(cfg.sockpat, "{worker}"))
		snprintf(why, sizeof(why), "socketFile %s has no {worker}", cfg.sockpat);
	else if (strlen(end[-1].path) + 8 >= SUNLEN)
		snprintf(why, sizeof(why), "%s.PID: socket path longer than %d bytes",
		    end[-1].path, SUNLEN - 1);
	if (*why || (r->arg > was && unpublishable(why, sizeof(why)))) {
		cfg.workers = was;
		ipc_reply(c, "error: cannot scale: %s", why);
		return;
	}
	if (was != cfg.workers)
		warn("scale: from %d to %d worker%s", was, cfg.workers, cfg.workers > 1 ? "s" : "");
	for (s = end; s < slots + was; s++) {
		rmours(s->path, S_IFLNK);
		if (s->pub && s->pub->hung)
			killw(s->pub);
		else if (s->pub)
			become(s->pub, W_DRAINING);
		if (s->repl)
			stopw(s->repl);
		memset(s, 0, sizeof(*s));
	}
	if (!running || r->arg <= was) {
		ipc_reply(c, "ok");
		return;
	}
	busy = B_SCALE;		/* until settled() sees every slot published */
	waiter = c;
	/* A slot added: a standby, else a worker as after a death; none due if
	 * a standby was published, though a failed promotion armed one. */
	for (s = slots + was; s < end; s++)
		s->restart = promote(s, NULL, "scaled up") ? 0 : now();
}

/* Keep r->arg standbys: the newest of those beyond go; those missing start
 * at once, back-off or not. The answer comes once all are ready. */
static void
standby(struct client *c, const struct request *r)
{
	warn("standby: from %d to %d", cfg.standby, r->arg);
	cfg.standby = r->arg;
	spare.restart = 0;
	spares();
	busy = B_STANDBY;
	waiter = c;
}

/* Become what the config file says now, on the command line of the start;
 * config_load refused what cannot change. Timeouts count from the next
 * deadline; workers and standby change as by scale (answering) and standby. */
static void
reload(struct client *c, const struct request *r)
{
	static struct config n;
	char why[PATH_MAX + 64];
	struct request grow = { C_SCALE, 0 }, keep = { C_STANDBY, 0 };

	(void)r;
	if (config_load(&n, nargs, args, &cfg, why, sizeof(why)) < 0) {
		free(n.env);
		free(n.cmd);
		ipc_reply(c, "error: %s", why);
		return;
	}
	warn("reload: %s%s", *n.later ? "restart to apply: " : "done", n.later);
	if (*n.later)
		ipc_reply(c, "restart to apply: %s", n.later);
	grow.arg = n.workers;
	keep.arg = n.standby;
	n.workers = cfg.workers;	/* as scale and standby left them */
	n.standby = cfg.standby;
	n.notifyfd = cfg.notifyfd;	/* closed once used */
	free(cfg.env);
	free(cfg.cmd);
	cfg = n;
	if (grow.arg == cfg.workers && keep.arg != cfg.standby) {
		standby(c, &keep);
		return;
	}
	cfg.standby = keep.arg;
	spares();
	scale(c, &grow);
}

/* The daemon's side of each command of the table in ipc.c. */
static void (*const handler[NCMDS])(struct client *, const struct request *) = {
	[C_START] = deploybegin, [C_STOP] = stopbegin, [C_RESTART] = deploybegin,
	[C_RESUME] = resume, [C_SCALE] = scale, [C_STANDBY] = standby, [C_RELOAD] = reload,
	[C_STATUS] = status, [C_CONFIG] = status, [C_NGINX] = nginx,
};

/* What a control client sent: each whole line is a command. */
static void
onclient(struct client *c, short revents)
{
	struct request req;
	char *line, err[256];
	int r;

	if (revents & POLLIN) {
		if ((r = lines_fill(c->fd, &c->in)) <= 0)
			c->eof = r < 0 ? 2 : 1;	/* gone, or shut down its side */
		c->seen = now();
	}
	while (c != waiter && c->outlen < OUTMAX && (r = lines_next(&c->in, &line)) != 0) {
		if (r < 0) {
			ipc_reply(c, "error: line too long");
			c->eof = 1;
			c->in.len = c->in.off = 0;
		} else if ((r = ipc_parse(line, &req, err, sizeof(err))) < 0) {
			ipc_reply(c, "error: %s", err);
		} else if (r && (commands[req.cmd].flags & F_BUSY) && busy) {
			ipc_reply(c, "error: busy: a %s is under way", busyname[busy]);
		} else if (r) {		/* (0: an empty line) */
			handler[req.cmd](c, &req);
		}
	}
}

/* Once a turn, after all else: replies are written, the lines held back
 * by a busy or slow client go on, and the clients that are done or gone
 * go: nothing of theirs runs or waits to run (every line a client sent is
 * run, even after it hung up), and their replies are written or cannot
 * be. Idle ones go after IDLEMAX. */
static void
onclients(void)
{
	struct client **pp, *c;
	long long t = now();

	for (pp = &clients; (c = *pp); ) {
		if (c != waiter && !c->eof && !c->outlen && !pending(c)
		    && c->seen + IDLEMAX <= t) {
			ipc_reply(c, "error: idle for %ds: closed", IDLEMAX / 1000);
			c->eof = 1;
		}
		ipc_flush(c);
		onclient(c, 0);
		ipc_flush(c);
		if (c != waiter && !pending(c) && (c->eof == 2 || (c->eof && !c->outlen))) {
			*pp = c->next;
			ipc_free(c);
			acceptpause = 0;	/* a descriptor is free again */
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
	if (n > npfd && !(pfd = realloc(pfd, (npfd = n * 2) * sizeof(*pfd))))
		die("realloc:");
	/* Every revents 0 too: a poll(2) that fails (EINTR) leaves them. */
	pfd[0] = (struct pollfd){ .fd = selfpipe[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = acceptpause ? -1 : lfd, .events = POLLIN };
	n = 2;
	for (c = clients; c; c = c->next) {
		pfd[n].events = (c != waiter && !c->eof && c->outlen < OUTMAX ? POLLIN : 0)
		    | (c->outlen ? POLLOUT : 0);
		pfd[n].fd = pfd[n].events ? c->fd : -1;
		pfd[n++].revents = 0;
	}
	for (w = workers; w; w = w->next)
		pfd[n++] = (struct pollfd){ .fd = w->chan, .events = POLLIN };
	return n;
}

static void
onio(struct pollfd *pfd, int n)
{
	struct client *c;
	struct worker *w;
	int i;

	if (pfd[1].revents & POLLIN) {
		while ((c = ipc_accept(lfd))) {
			c->seen = now();
			c->next = clients;
			clients = c;
			starved = 0;
		}
		/* Out of descriptors: poll(2) would say POLLIN at once, forever. */
		if (errno == EMFILE || errno == ENFILE) {
			if (!starved++)
				warn("accept: %s: accepting again in 1s or when a "
				    "client goes", strerror(errno));
			acceptpause = now() + 1000;
		}
	}
	for (i = 2; i < n; i++) {
		if (!pfd[i].revents || pfd[i].fd < 0)
			continue;
		for (c = clients; c && c->fd != pfd[i].fd; c = c->next)
			;
		for (w = workers; !c && w && w->chan != pfd[i].fd; w = w->next)
			;
		if (c)
			onclient(c, pfd[i].revents);
		else if (w)
			readchan(w);
	}
}

static void
setup(void)
{
	struct sigaction sa = { .sa_handler = onsignal,
	    .sa_flags = SA_RESTART };
	struct dirent *e;
	DIR *d;
	int i, fd;

	/* Workers inherit 0, 1 and 2; fd 3 must not be one of them. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
		;
	if (fd >= 3)
		close(fd);
	/* Nor may any other descriptor we were given reach them. */
	if ((d = opendir("/dev/fd"))) {
		while ((e = readdir(d)))
			if ((fd = atoi(e->d_name)) > 2 && fd != dirfd(d))
				fcntl(fd, F_SETFD, FD_CLOEXEC);
		closedir(d);
	}
	if (pipe(selfpipe) < 0)
		die("pipe:");
	for (i = 0; i < 2; i++)
		nonblock(selfpipe[i]);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < (int)LEN(handled); i++)
		sigaction(handled[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a write(2) fails with EPIPE, no wake-up */
#ifdef PR_SET_CHILD_SUBREAPER
	prctl(PR_SET_CHILD_SUBREAPER, 1);	/* workers' orphans come to us */
#endif
	for (i = 0; i < cfg.workers; i++)
		config_sockpath(&cfg, i, slots[i].path, sizeof(slots[i].path));
}

int
main(int argc, char *argv[])
{
	char why[PATH_MAX + 64];
	int n;

	if (config_load(&cfg, nargs = argc, args = argv, NULL, why, sizeof(why)) < 0)
		die("%s", why);
	if (cfg.req.cmd == C_HELP)
		return config_usage();
	if (cfg.req.cmd == C_VERSION)
		return puts("nodesockd " VERSION) < 0 || fflush(stdout) == EOF;
	if (cfg.req.cmd)
		return ipc_run(cfg.ipc, &cfg.req, cfg.located ? "" :
		    " (give -c FILE, the daemon's config, or -i FILE, its control socket)");
	setup();
	if (unpublishable(why, sizeof(why)))
		die("cannot publish: %s", why);
	if ((lfd = ipc_listen(cfg.ipc)) < 0)
		return 1;
	adopt();
	warn("version %s, %d worker%s of %s, control socket %s", VERSION,
	    cfg.workers, cfg.workers > 1 ? "s" : "", cfg.cmd ? cfg.node : cfg.script, cfg.ipc);
	deploybegin(NULL, NULL);
	for (;;) {
		settled();
		notify();	/* what the last turn changed, before we wait */
		n = fillpoll();
		if (poll(pfd, n, timeout()) < 0 && errno != EINTR)
			die("poll:");
		/* What came in before a deadline is taken before it is judged. */
		if (pfd[0].revents & POLLIN)
			onsignals();
		onio(pfd, n);
		ondeadlines();
		onclients();
	}
	/* NOTREACHED */
}
