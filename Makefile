# nodesockd - UNIX sockets for Node.js workers behind Nginx
# See LICENSE file for copyright and license details.
.POSIX:

include config.mk

SRC = nodesockd.c config.c ipc.c json.c
OBJ = $(SRC:.c=.o)
BIN = nodesockd

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
	$(STATICCC) $(CFLAGS) $(CPPFLAGS) -o $@ $(SRC) $(STATICLDFLAGS)

# The daemon built with AddressSanitizer and UndefinedBehaviorSanitizer:
# `make check SAN=1` runs the tests against it (t/helpers.bash fails a test
# whose daemon or client reported anything).
nodesockd-san: $(SRC) nodesockd.h config.mk
	$(SANCC) $(CFLAGS) $(SANFLAGS) $(CPPFLAGS) -o $@ $(SRC)

TESTBIN = nodesockd
TESTBIN1 = nodesockd-san

check: nodesockd $(TESTBIN$(SAN))
	[ -d t/node_modules/express ] || (cd t && npm ci --no-audit --no-fund)
	NODESOCKD="$$PWD/$(TESTBIN$(SAN))" bats $(BATSFLAGS) t

test: check

clean:
	rm -f nodesockd nodesockd-static nodesockd-san $(OBJ)

install: $(BIN)
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/nodesockd
	chmod 755 $(DESTDIR)$(PREFIX)/bin/nodesockd
	mkdir -p $(DESTDIR)$(MANPREFIX)/man1
	sed "s/VERSION/$(VERSION)/g" < nodesockd.1 > $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1
	chmod 644 $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/nodesockd $(DESTDIR)$(MANPREFIX)/man1/nodesockd.1

.PHONY: all static check test clean install uninstall
