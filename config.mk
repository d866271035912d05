# nodesockd version
VERSION = 0.1

# paths
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# flags
CPPFLAGS = -D_XOPEN_SOURCE=700 -DVERSION=\"$(VERSION)\"
CFLAGS   = -std=c99 -Wall -Wextra -pedantic -Os
LDFLAGS  =

# compiler and linker
CC = cc

# make static: musl, linked statically and stripped
STATICCC      = musl-gcc
STATICLDFLAGS = -static -s
