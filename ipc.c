/* See LICENSE file for copyright and license details.
 *
 * Lines over sockets: the control socket (server side and the command line
 * client) and the framing of the worker channel.
 *
 * Both protocols are text lines. struct lines keeps what one read brought
 * until a newline completes it; a line longer than LINEMAX is dropped whole
 * and reported once, so no peer can make us hold more than LINEMAX bytes.
 * A control client gets its replies through an output buffer written as the
 * socket takes it: the daemon never blocks on a slow reader.
 */
#define _GNU_SOURCE	/* struct ucred */
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
#include <unistd.h>

#include "nodesockd.h"

const struct command commands[NCMDS] = {
	[C_START]   = { "start",   A_FLAG, "suspended", "--suspended", F_BUSY,
	    "start the workers if they are stopped" },
	[C_STOP]    = { "stop",    A_NONE, NULL, NULL, F_BUSY,
	    "stop the workers; the daemon stays up" },
	[C_RESTART] = { "restart", A_FLAG, "suspended", "--suspended", F_BUSY,
	    "replace every worker with zero downtime (a deploy)" },
	[C_RESUME]  = { "resume",  A_NONE, NULL, NULL, 0,
	    "let suspended workers serve" },
	[C_SCALE]   = { "scale",   A_COUNT1, "N", NULL, F_BUSY,
	    "grow or shrink to N workers" },
	[C_STANDBY] = { "standby", A_COUNT0, "N", NULL, F_BUSY,
	    "keep N standby workers" },
	[C_RELOAD]  = { "reload",  A_NONE, NULL, NULL, F_BUSY,
	    "read the config file again and apply what changed" },
	[C_STATUS]  = { "status",  A_FLAG, "--json", "--json", 0,
	    "print one line per worker, or with --json one JSON object" },
	[C_CONFIG]  = { "config",  A_NONE, NULL, NULL, 0,
	    "print the running configuration as JSON" },
	[C_NGINX]   = { "nginx",   A_NONE, NULL, NULL, 0,
	    "print an Nginx upstream block of the workers' sockets" },
	[C_CTL]     = { "ctl",     A_NONE, NULL, NULL, F_CLI,
	    "send control lines from standard input and print every reply" },
};

/* A count of workers, min to MAXWORKERS; -1 if s is none. */
int
ipc_count(const char *s, int min)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s >= '0' && *s <= '9' && !*end && v >= min && v <= MAXWORKERS ? v : -1;
}

/* Parse a control line into r, cut into words in place. 1: a command, 0:
 * an empty line, -1: none, and in err why: unknown, or the command's usage. */
int
ipc_parse(char *line, struct request *r, char *err, size_t n)
{
	static const char *usage[] = { [A_NONE] = "usage: %s", [A_FLAG] = "usage: %s [%s]",
	    [A_COUNT0] = "usage: %s %s, from 0 to %d", [A_COUNT1] = "usage: %s %s, from 1 to %d" };
	const struct command *cmd;
	char *name, *arg, *p;
	int k;

	name = strtok(line, " \t");
	arg = strtok(NULL, " \t");
	if (!name)
		return 0;
	for (p = name; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	for (k = 1; k < NCMDS && (strcmp(name, commands[k].name)
	    || commands[k].flags & F_CLI); k++)
		;
	if (k == NCMDS) {
		snprintf(err, n, "unknown command '%.64s'", name);
		return -1;
	}
	cmd = &commands[k];
	r->cmd = k;
	r->arg = cmd->arg >= A_COUNT0 ? (arg ? ipc_count(arg, cmd->arg - A_COUNT0) : -1)
	    : arg && cmd->arg == A_FLAG && !strcmp(arg, cmd->word);
	if (!strtok(NULL, " \t") && (cmd->arg >= A_COUNT0 ? r->arg >= 0 : !arg || r->arg))
		return 1;
	snprintf(err, n, usage[cmd->arg], cmd->name, cmd->word, MAXWORKERS);
	return -1;
}

/* Compact, then read once. 1: data or nothing yet, 0: end of file, -1: error.
 * At the end of file an unended last line is ended. */
int
lines_fill(int fd, struct lines *l)
{
	ssize_t n;

	memmove(l->buf, l->buf + l->off, l->len - l->off);
	l->len -= l->off;
	l->off = 0;
	if (l->len == sizeof(l->buf))
		return 1;
	if ((n = read(fd, l->buf + l->len, sizeof(l->buf) - l->len)) < 0)
		return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
	if (n == 0 && l->len > 0 && l->buf[l->len - 1] != '\n')
		l->buf[l->len++] = '\n';	/* the end of input ends a line */
	l->len += n;
	return n != 0;
}

/* Take the next whole line, without its newline (nor a CR before it); a
 * NUL byte in it becomes DEL, so that it cannot cut the line short.
 * 1: *line is set, 0: no whole line yet, -1: an overlong line was dropped. */
int
lines_next(struct lines *l, char **line)
{
	char *nl, *p;

	if (l->skip) {	/* the rest of an overlong line, dropped up to its newline */
		nl = memchr(l->buf + l->off, '\n', l->len - l->off);
		l->off = nl ? (size_t)(nl - l->buf + 1) : l->len;
		l->skip = !nl;
	}
	if (!(nl = memchr(l->buf + l->off, '\n', l->len - l->off))) {
		if (l->skip || l->off > 0 || l->len < sizeof(l->buf))
			return 0;
		l->off = l->len;	/* dropped, with the rest of it to come */
		l->skip = 1;
		return -1;
	}
	*nl = '\0';
	*line = l->buf + l->off;
	for (p = *line; (p = memchr(p, '\0', nl - p)); )
		*p = 0x7f;
	l->off = nl - l->buf + 1;
	if (nl > *line && nl[-1] == '\r')
		nl[-1] = '\0';
	return 1;
}

void
nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int
ipc_addr(struct sockaddr_un *sa, const char *path)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path)
	    < (int)sizeof(sa->sun_path))
		return 0;
	errno = ENAMETOOLONG;
	return -1;
}

/* Does something accept connections at path? If not, errno says why. */
int
ipc_alive(const char *path)
{
	struct sockaddr_un sa;
	int fd, r, e;

	if (ipc_addr(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(fd);
	errno = e;
	return r == 0;
}

/* Listen on the control socket, mode 0600. A live daemon there is an
 * error; a socket file nobody answers on is left over and replaced.
 * -1 and a message if it cannot be done. */
int
ipc_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t mask;
	int fd, r;

	if (ipc_alive(path))
		warn("%s: already running: another nodesockd answers there", path);
	else if (errno == ECONNREFUSED && lstat(path, &st) == 0
	    && !S_ISSOCK(st.st_mode))
		warn("%s: exists and is not a socket", path);
	else if (errno == ECONNREFUSED && unlink(path) < 0)
		warn("unlink %s:", path);
	else if (errno != ECONNREFUSED && errno != ENOENT)
		warn("connect %s:", path);
	else if (ipc_addr(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		warn("socket %s:", path);
	else {
		mask = umask(0177);
		r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(mask);
		if (r == 0 && listen(fd, SOMAXCONN) == 0) {
			nonblock(fd);
			return fd;
		}
		warn("bind %s:", path);
		close(fd);
	}
	return -1;
}

/* Who is at the other end? Only our own user and root may command us. */
static int
allowed(int fd)
{
	uid_t uid;
#ifdef SO_PEERCRED
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	uid = cr.uid;
#else
	gid_t gid;

	if (getpeereid(fd, &uid, &gid) < 0)
		return 0;
#endif
	return uid == 0 || uid == geteuid();
}

struct client *
ipc_accept(int lfd)
{
	struct client *c;
	int fd;

	if ((fd = accept(lfd, NULL, NULL)) < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED
		    && errno != EMFILE && errno != ENFILE)
			warn("accept:");
		return NULL;
	}
	nonblock(fd);
	if (!allowed(fd))
		write(fd, "error: permission denied\n", 25);
	else if (!(c = calloc(1, sizeof(*c))))
		warn("calloc:");
	else {
		c->fd = fd;
		return c;
	}
	close(fd);
	return NULL;
}

/* Queue one reply line. */
void
ipc_reply(struct client *c, const char *fmt, ...)
{
	char line[LINEMAX], *p;
	va_list ap;
	size_t n, size;

	if (c->eof == 2)
		return;		/* gone: nobody reads it */
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* Doubled, not a realloc(3) per line: no copying in n squared. */
	if (c->outlen + n > c->outsize) {
		size = c->outsize ? c->outsize * 2 : LINEMAX;	/* once: n < LINEMAX */
		if (!(p = realloc(c->out, size))) {
			warn("realloc:");
			return;
		}
		c->out = p;
		c->outsize = size;
	}
	memcpy(c->out + c->outlen, line, n);
	c->outlen += n;
}

/* Write what the socket takes. A client that cannot be written to is gone:
 * what it was to get is dropped, so that nothing polls it any more. */
void
ipc_flush(struct client *c)
{
	ssize_t n;

	while (c->outlen > 0) {
		if ((n = write(c->fd, c->out, c->outlen)) < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				c->outlen = 0;
				c->eof = 2;
			}
			return;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
}

void
ipc_free(struct client *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/* The command line client: send the command (or, for ctl, standard
 * input), print the replies. 0: all ok, 1: an error reply, 2: no daemon.
 * Sending never blocks reading: a daemon that holds back our commands
 * until we read its replies gets them read. When it closes first (a
 * refusal, a line too long), what it said is read all the same. */
int
ipc_run(const char *path, const struct request *r, const char *hint)
{
	const struct command *cmd = &commands[r->cmd];
	struct sockaddr_un sa;
	struct lines in = { 0 };
	struct pollfd pfd[2];
	char out[LINEMAX], *line;
	size_t off = 0, len = 0;
	ssize_t n;
	int fd, status = 0, ctl = r->cmd == C_CTL, rd = 1;

	signal(SIGPIPE, SIG_IGN);
	if (ipc_addr(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		warn("cannot reach the daemon at %s: %s%s", path, strerror(errno), hint);
		return 2;
	}
	if (!ctl && cmd->arg >= A_COUNT0)
		len = snprintf(out, sizeof(out), "%s %d\n", cmd->name, r->arg);
	else if (!ctl)
		len = snprintf(out, sizeof(out), "%s%s%s\n", cmd->name,
		    r->arg ? " " : "", r->arg ? cmd->word : "");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pfd[0].fd = fd;
	pfd[1].fd = ctl ? 0 : -1;
	while (rd > 0) {
		pfd[0].events = POLLIN | (off < len ? POLLOUT : 0);
		pfd[1].events = off < len ? 0 : POLLIN;
		while (poll(pfd, 2, -1) < 0)
			if (errno != EINTR) {
				warn("poll:");
				return 2;
			}
		/* (POLLHUP comes even when not asked for.) */
		if (off >= len && pfd[1].revents && (n = read(0, out, sizeof(out))) > 0) {
			off = 0;
			len = n;
		} else if (off >= len && pfd[1].revents) {
			shutdown(fd, SHUT_WR);
			pfd[1].fd = -1;
		}
		if (off < len && (n = write(fd, out + off, len - off)) > 0) {
			off += n;
		} else if (off < len && errno != EAGAIN && errno != EINTR) {
			off = len = 0;		/* it closed: read what it said */
			pfd[1].fd = -1;
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((rd = lines_fill(fd, &in)) < 0 && errno != ECONNRESET) {
			warn("read %s:", path);
			return 2;
		}
		while (lines_next(&in, &line) > 0) {
			if (!ctl && !strcmp(line, "ok"))
				return 0;
			if (!ctl && !strncmp(line, "error: ", 7)) {
				warn("%s: %s", cmd->name, line + 7);
				return 1;
			}
			puts(line);
			if (ctl)
				fflush(stdout);
			status |= !strncmp(line, "error", 5);	/* ctl's status */
		}
	}
	if (ctl)
		return status;
	warn("%s: the daemon closed the connection without an answer", path);
	return 2;
}
