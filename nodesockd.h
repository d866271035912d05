/* See LICENSE file for copyright and license details. */
#include <limits.h>
#include <sys/types.h>

#define LEN(a)		(sizeof(a) / sizeof((a)[0]))
#define MAXWORKERS	256	/* the most slots "workers" may ask for */
#define SUNLEN		108	/* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define MAXMS		86400000	/* a day: the longest timeout accepted */

/* json.c: a strict JSON tokenizer in the manner of jsmn. */
enum jtype { J_OBJECT = 1, J_ARRAY, J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL };

struct jtok {
	int type;		/* enum jtype */
	int start, end;		/* byte offsets; a string's exclude the quotes */
	int size;		/* children: members of an object, items of an array */
	int line, col;		/* where the token starts, from 1 */
};

struct jerr {
	int line, col;
	char msg[64];		/* "expected ':' after object key", ... */
};

int json_parse(const char *s, size_t len, struct jtok *t, int nt, struct jerr *e);
int json_next(const struct jtok *t, int i);
int json_str(const char *s, const struct jtok *t, char *buf, size_t n);
int json_streq(const char *s, const struct jtok *t, const char *lit);
int json_int(const char *s, const struct jtok *t, long long *v);
char *json_quote(char *buf, size_t n, const char *s);

/* ipc.c: the commands, in one table that the command line's parser,
 * --help, the control-line parser and the daemon's dispatch all read. */
enum cmd { C_NONE, C_START, C_STOP, C_RESTART, C_RESUME, C_SCALE, C_STANDBY,
	C_RELOAD, C_STATUS, C_CONFIG, C_NGINX, C_CTL, NCMDS, C_HELP = NCMDS,
	C_VERSION };
enum { A_NONE, A_FLAG, A_COUNT0, A_COUNT1 };	/* a count from 0 or from 1 */
#define F_BUSY	1	/* refused while a deploy or a stop runs */
#define F_CLI	2	/* on the command line only, no control line */

struct command {
	const char *name;
	int arg;		/* A_FLAG: a word, or not; A_COUNT*: to MAXWORKERS */
	const char *word;	/* A_FLAG: on a control line; A_COUNT*: "N" */
	const char *opt;	/* A_FLAG: on the command line (-u: --suspended) */
	int flags;
	const char *help;
};

struct request {
	int cmd;		/* enum cmd; C_NONE: run the daemon */
	int arg;		/* A_FLAG: 1 if its word was given; A_COUNT*: the count */
};

extern const struct command commands[NCMDS];

/* config.c: the command line and the config file, made one. */
struct config {
	struct request req;
	int located;			/* -c or -i said where the daemon is */
	char script[PATH_MAX];		/* absolute */
	char tmpdir[PATH_MAX];		/* absolute */
	char sockpat[PATH_MAX];		/* socketFile: a name in tmpdir */
	char listenvar[64];
	char ipc[PATH_MAX];		/* absolute */
	char run[PATH_MAX];		/* the run file: ipc, ".run" */
	char node[PATH_MAX];		/* the program: a path, or a name in PATH */
	char base[PATH_MAX];		/* the base directory: a command runs there */
	int workers, standby, notifyfd;	/* notifyFd: 0 if none */
	int onlinetimeout, draindelay, shutdowntimeout, orphantimeout, watchdog; /* ms */
	char **env;			/* NULL-ended; NULL: the whole environment */
	char **cmd;			/* NULL-ended, NULL for node SCRIPT */
	int nodejs;			/* node runs it: set Node's channel variables */
	char later[128];		/* a reload: keys for workers started from now */
};

int config_load(struct config *c, int argc, char *argv[], const struct config *was,
    char *err, size_t n);
void config_sockpath(const struct config *c, int id, char *buf, size_t n);
int config_usage(void);		/* 1 if it could not be written */

/* ipc.c: the control socket, its client, and line framing for both it and
 * the worker channel on fd 3. */
#define LINEMAX		4096	/* the longest line read, newline included */
#define OUTMAX		65536	/* read no more commands while this much waits */

struct lines {
	char buf[LINEMAX];
	size_t off, len;	/* buf[off..len) is not yet taken */
	int skip;		/* dropping the rest of an overlong line */
};

struct client {
	struct client *next;
	int fd;
	int eof;		/* 1: it has shut down its side, 2: it is gone */
	long long seen;		/* when it last sent something, ms */
	struct lines in;
	char *out;		/* replies not yet written */
	size_t outlen, outsize;
};

int lines_fill(int fd, struct lines *l);
void nonblock(int fd);
int lines_next(struct lines *l, char **line);
int ipc_parse(char *line, struct request *r, char *err, size_t n);
int ipc_count(const char *s, int min);
struct sockaddr_un;
int ipc_addr(struct sockaddr_un *sa, const char *path);
int ipc_alive(const char *path);
int ipc_listen(const char *path);
struct client *ipc_accept(int lfd);
void ipc_reply(struct client *c, const char *fmt, ...);
void ipc_flush(struct client *c);
void ipc_free(struct client *c);
int ipc_run(const char *path, const struct request *r, const char *hint);
void config_json(const struct config *c, struct client *to);	/* config.c; then ok */

/* nodesockd.c */
void warn(const char *fmt, ...);
