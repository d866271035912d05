# nodesockd - UNIX sockets for Node.js workers behind Nginx
# See LICENSE file for copyright and license details.
.POSIX:

include config.mk

SRC = nodesockd.c config.c ipc.c json.c
OBJ = $(SRC:.c=.o)
BIN = nodesockd
FUZZ = json config ipc lines
FUZZBIN = t/fuzz/bin/json t/fuzz/bin/config t/fuzz/bin/ipc t/fuzz/bin/lines

all: nodesockd

.c.o:
	$(CC) $(CFLAGS) $(CPPFLAGS) -c $<

$(OBJ): nodesockd.h config.mk

nodesockd: $(OBJ)
	$(CC) -o $@ $(OBJ) $(LDFLAGS)

# Built apart, in one step from the sources, so that the objects and the
# binary of `make` stay what they are. `make install BIN=nodesockd-static`
# installs it.
static: nodesockd-static

nodesockd-static: $(SRC) nodesockd.h config.mk
	@command -v $(STATICCC) >/dev/null 2>&1 || { echo "make static:" \
	    "$(STATICCC) is not installed: apt-get install musl-tools" \
	    "(Debian, Ubuntu), or set STATICCC to a musl compiler" >&2; exit 1; }
	$(STATICCC) $(CFLAGS) $(CPPFLAGS) -o $@ $(SRC) $(STATICLDFLAGS)

# The daemon built with AddressSanitizer and UndefinedBehaviorSanitizer:
# `make check SAN=1` runs the tests against it (t/helpers.bash fails a test
# whose daemon or client reported anything).
nodesockd-san: $(SRC) nodesockd.h config.mk
	$(SANCC) $(CFLAGS) $(SANFLAGS) $(CPPFLAGS) -o $@ $(SRC)

TESTBIN = nodesockd
TESTBIN1 = nodesockd-san
# `make check TESTS=t/05-nginx.bats` runs one file.
TESTS = t

# bats' own output, then t/summary's last line: N passed, N skipped, N failed.
# A test whose tool is missing is skipped; NODESOCKD_NO_SKIP=1 fails it.
check: nodesockd $(TESTBIN$(SAN))
	[ -d t/node_modules/express ] || (cd t && npm ci --no-audit --no-fund)
	@r=`mktemp -d`; trap 'rm -rf "$$r"' EXIT; trap 'exit 1' HUP INT TERM; s=0; \
	NODESOCKD="$$PWD/$(TESTBIN$(SAN))" bats --report-formatter tap -o "$$r" \
	    $(BATSFLAGS) $(TESTS) || s=$$?; \
	sh t/summary "$$r/report.tap" "$$s"

test: check

# The example under nodesockd behind a private Nginx on a free port, until
# Ctrl-C; DEMO_LOAD=1 deploys every 3 s under load. See example/demo.js.
demo: nodesockd
	node example/demo.js

# Each libFuzzer target for FUZZTIME seconds, on a scratch copy of its
# corpus, so that what is committed stays a small seed. A crash, a failed
# check or a leak stops it; the input is left in t/fuzz/bin/TARGET-crash-*.
fuzz: $(FUZZBIN)
	@d=`pwd`/t/fuzz/bin; for f in $(FUZZ); do \
		rm -rf $$d/$$f.corpus; \
		cp -R t/fuzz/corpus/$$f $$d/$$f.corpus || exit 1; \
		echo "fuzz $$f for $(FUZZTIME)s"; \
		if ! $$d/$$f -max_total_time=$(FUZZTIME) \
		    -artifact_prefix=$$d/$$f- $$d/$$f.corpus 2>$$d/$$f.log; then \
			tail -n 40 $$d/$$f.log; exit 1; \
		fi; \
		tail -n 1 $$d/$$f.log; \
	done

# The seeded chaos run of t/chaos.js: a daemon with 3 workers behind a
# private Nginx under load, EVENTS random events drawn from SEED, every
# invariant checked after each. A failure prints the command that replays
# it; the last line sums it up. SAN=1 runs it against nodesockd-san.
SEED = 1
EVENTS = 500

chaos: nodesockd $(TESTBIN$(SAN))
	NODESOCKD="$$PWD/$(TESTBIN$(SAN))" node t/chaos.js $(SEED) $(EVENTS)

.PHONY: chaos

t/fuzz/bin/json: t/fuzz/json.c json.c nodesockd.h config.mk
	mkdir -p t/fuzz/bin
	$(FUZZCC) $(FUZZFLAGS) $(CPPFLAGS) -I. -o $@ t/fuzz/json.c json.c

t/fuzz/bin/config: t/fuzz/config.c config.c json.c ipc.c t/fuzz/abort.c nodesockd.h config.mk
	mkdir -p t/fuzz/bin
	$(FUZZCC) $(FUZZFLAGS) $(CPPFLAGS) -I. -o $@ t/fuzz/config.c config.c json.c \
	    ipc.c t/fuzz/abort.c

t/fuzz/bin/ipc: t/fuzz/ipc.c t/fuzz/abort.c ipc.c nodesockd.h config.mk
	mkdir -p t/fuzz/bin
	$(FUZZCC) $(FUZZFLAGS) $(CPPFLAGS) -I. -o $@ t/fuzz/ipc.c t/fuzz/abort.c ipc.c

t/fuzz/bin/lines: t/fuzz/lines.c t/fuzz/abort.c ipc.c nodesockd.h config.mk
	mkdir -p t/fuzz/bin
	$(FUZZCC) $(FUZZFLAGS) $(CPPFLAGS) -I. -o $@ t/fuzz/lines.c t/fuzz/abort.c ipc.c

clean:
	rm -f nodesockd nodesockd-static nodesockd-san $(OBJ)
	rm -rf t/fuzz/bin

install: $(BIN)
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/nodesockd
	chmod 755 $(DESTDIR)$(PREFIX)/bin/nodesockd
	mkdir -p $(DESTDIR)$(MANPREFIX)/man1
	cp -f nodesockd.1 $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1
	chmod 644 $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/nodesockd $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1

.PHONY: all static check test demo fuzz clean install uninstall
