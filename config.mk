# nodesockd version: the one place it is set; package.json and the .Os line of
# nodesockd.1 carry it too (t/10 checks that they agree)
VERSION = 0.1.0

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

# make check SAN=1: the daemon under ASan and UBSan, stopping at the first error
SANCC    = clang
SANFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=all

# make fuzz: clang's libFuzzer with ASan and UBSan, seconds per target
FUZZCC    = clang
FUZZFLAGS = -std=c99 -Wall -Wextra -pedantic -g -O1 \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZTIME  = 30
