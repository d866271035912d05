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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nodesockd.h"

static const char *reqname[] = {
	[C_START] = "start", [C_STOP] = "stop", [C_RESTART] = "restart",
	[C_RESUME] = "resume", [C_STATUS] = "status",
};

/* Parse a control line. Returns its command, 0 for an empty line, or -1
 * with a message in err. The line is cut into words in place. */
int
ipc_parse(char *line, int *suspended, char *err, size_t n)
{
	char *cmd, *arg, *p;
	int k;

	cmd = strtok(line, " \t");
	arg = strtok(NULL, " \t");
	if (!cmd)
		return 0;
	for (p = cmd; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	for (k = C_START; k < C_CTL && strcmp(cmd, reqname[k]); k++)
		;
	*suspended = arg && !strcmp(arg, "suspended");
	if (k == C_CTL)
		snprintf(err, n, "unknown command '%.64s'", cmd);
	else if (strtok(NULL, " \t") || (arg && (!*suspended
	    || (k != C_START && k != C_RESTART))))
		snprintf(err, n, "usage: start [suspended] | stop | "
		    "restart [suspended] | resume | status");
	else
		return k;
	return -1;
}

/* Compact, then read once. 1: data or nothing yet, 0: end of file, -1: error. */
int
lines_fill(int fd, struct lines *l)
{
	ssize_t n;

	memmove(l->buf, l->buf + l->off, l->len - l->off);
	l->len -= l->off;
	l->off = 0;
	if (l->len == sizeof(l->buf))
		return 1;
	n = read(fd, l->buf + l->len, sizeof(l->buf) - l->len);
	if (n > 0)
		l->len += n;
	else if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
	return n != 0;
}

/* Take the next whole line, without its newline (nor a CR before it).
 * 1: *line is set, 0: no whole line yet, -1: an overlong line was dropped. */
int
lines_next(struct lines *l, char **line)
{
	char *nl;

	for (;;) {
		nl = memchr(l->buf + l->off, '\n', l->len - l->off);
		if (!l->skip)
			break;
		l->off = nl ? (size_t)(nl - l->buf) + 1 : l->len;
		if (!nl)
			return 0;
		l->skip = 0;
	}
	if (!nl) {
		if (l->off > 0 || l->len < sizeof(l->buf))
			return 0;
		l->off = l->len;
		l->skip = 1;
		return -1;
	}
	*nl = '\0';
	*line = l->buf + l->off;
	l->off = nl - l->buf + 1;
	if (nl > *line && nl[-1] == '\r')
		nl[-1] = '\0';
	return 1;
}

/* Send one message on a worker channel: a JSON string and a newline. */
int
chan_send(int fd, const char *msg)
{
	char buf[64];
	int n;

	n = snprintf(buf, sizeof(buf), "\"%s\"\n", msg);
	return write(fd, buf, n) == n ? 0 : -1;
}

static void
nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int
sockaddr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* Does something accept connections at path? If not, errno says why. */
int
ipc_alive(const char *path)
{
	struct sockaddr_un sa;
	int fd, r, e;

	if (sockaddr(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(fd);
	errno = e;
	return r == 0;
}

/* Listen on the control socket, mode 0600. A live daemon there is an
 * error; a socket file nobody answers on is left over and replaced. */
int
ipc_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t mask;
	int fd;

	if (ipc_alive(path))
		die("%s: already running: another nodesockd answers there", path);
	if (errno == ECONNREFUSED) {
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			die("%s: exists and is not a socket", path);
		if (unlink(path) < 0)
			die("unlink %s:", path);
	} else if (errno != ENOENT) {
		die("connect %s:", path);
	}
	if (sockaddr(&sa, path) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		die("socket:");
	mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind %s:", path);
	umask(mask);
	if (listen(fd, SOMAXCONN) < 0)
		die("listen %s:", path);
	nonblock(fd);
	return fd;
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
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			warn("accept:");
		return NULL;
	}
	nonblock(fd);
	if (!allowed(fd)) {
		write(fd, "error: permission denied\n", 25);
		close(fd);
		return NULL;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		warn("calloc:");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* Queue one reply line. */
void
ipc_reply(struct client *c, const char *fmt, ...)
{
	char line[512], *p;
	va_list ap;
	size_t n, size;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (c->outlen + n > c->outsize) {
		for (size = c->outsize ? c->outsize : 1024; size < c->outlen + n; )
			size *= 2;
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

/* Write what the socket takes. -1: the client is gone. */
int
ipc_flush(struct client *c)
{
	ssize_t n;

	while (c->outlen > 0) {
		if ((n = write(c->fd, c->out, c->outlen)) < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
	return 0;
}

void
ipc_free(struct client *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/* The command line client: send the command (or, for ctl, standard
 * input), print the replies. 0: all ok, 1: an error reply, 2: no daemon. */
int
ipc_run(const struct config *c)
{
	struct sockaddr_un sa;
	struct lines in = { 0 };
	struct pollfd pfd[2];
	char buf[LINEMAX], *line;
	ssize_t n;
	int fd, status = 0, ctl = c->cmd == C_CTL, r;

	if (sockaddr(&sa, c->ipc) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		warn("cannot reach the daemon at %s:", c->ipc);
		return 2;
	}
	if (!ctl) {
		n = snprintf(buf, sizeof(buf), "%s%s\n", reqname[c->cmd],
		    c->suspended ? " suspended" : "");
		if (write(fd, buf, n) != n) {
			warn("write %s:", c->ipc);
			return 2;
		}
	}
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ctl ? 0 : -1;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll:");
			return 2;
		}
		if (pfd[1].revents) {
			if ((n = read(0, buf, sizeof(buf))) > 0) {
				if (write(fd, buf, n) != n)
					pfd[1].fd = -1;
			} else {
				shutdown(fd, SHUT_WR);
				pfd[1].fd = -1;
			}
		}
		if (!pfd[0].revents)
			continue;
		if ((r = lines_fill(fd, &in)) < 0) {
			warn("read %s:", c->ipc);
			return 2;
		}
		while (lines_next(&in, &line) > 0) {
			if (ctl) {
				puts(line);
				fflush(stdout);
				if (!strncmp(line, "error", 5))
					status = 1;
			} else if (!strcmp(line, "ok")) {
				return 0;
			} else if (!strncmp(line, "error: ", 7)) {
				warn("%s: %s", reqname[c->cmd], line + 7);
				return 1;
			} else {
				puts(line);
			}
		}
		if (r == 0)
			break;
	}
	if (!ctl) {
		warn("%s: the daemon closed the connection without an answer", c->ipc);
		return 2;
	}
	return status;
}
