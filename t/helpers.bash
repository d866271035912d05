# Shared by every t/*.bats: where things are, bounded waits, and a daemon
# started per test and cleaned up by pid in teardown.
bats_require_minimum_version 1.5.0

# The binary under test: `make check` names it (nodesockd, or nodesockd-san
# for `make check SAN=1`); by hand, the one built in the checkout.
NODESOCKD="${NODESOCKD:-$BATS_TEST_DIRNAME/../nodesockd}"

# Sanitizer reports, from the daemon or a client, go to files that teardown
# looks for: any report fails the test. (Node ignores these variables.)
export ASAN_OPTIONS="log_path=$BATS_TEST_TMPDIR/sanitizer:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$BATS_TEST_TMPDIR/sanitizer:print_stacktrace=1"
FIX="$BATS_TEST_DIRNAME/fixtures"

# need TOOL [DEBIAN-PACKAGE]: skip the test when TOOL is not in PATH, with
# that reason; under NODESOCKD_NO_SKIP=1 (.ci/run sets it) fail it instead,
# so that CI proves every test.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "${NODESOCKD_NO_SKIP:-}" = 1 ]; then
		echo "$1 is not installed (Debian: ${2:-$1}), and NODESOCKD_NO_SKIP=1 makes that a failure" >&2
		return 1
	fi
	skip "$1 is not installed (Debian: ${2:-$1})"
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	until "$@" 2>/dev/null; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

gone() {
	! alive "$1"
}

# start_daemon ARGS...: run nodesockd in the background, in the current
# directory, logging to $LOG; its pid is $DPID.
start_daemon() {
	LOG="$BATS_TEST_TMPDIR/daemon.log"
	"$NODESOCKD" "$@" 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>"$BATS_TEST_TMPDIR/pids"
}

# count_log PATTERN: how many log lines match.
count_log() {
	grep -c -E "$1" "$LOG" || true
}

# worker_pids: every worker pid the daemon has logged as started.
worker_pids() {
	sed -n 's/.*worker [0-9]* (pid \([0-9]*\)) started.*/\1/p' "$LOG" 2>/dev/null
}

# online_pid N: the pid of the worker last published in slot N.
published_pid() {
	sed -n "s/.*worker $1 (pid \([0-9]*\)) published.*/\1/p" "$LOG" | tail -n 1
}

# get SOCKET [PATH]: an HTTP request through a UNIX socket.
get() {
	curl -sS --max-time 5 --unix-socket "$1" "http://localhost${2:-/}"
}

# Kill what the test started, by pid: the daemon, then every worker it
# logged, with their process groups.
teardown() {
	local p
	for p in $(cat "$BATS_TEST_TMPDIR/pids" 2>/dev/null); do
		if alive "$p"; then
			kill -TERM "$p" 2>/dev/null
			wait_for 15 gone "$p" || kill -KILL "$p" 2>/dev/null
		fi
	done
	for p in $(worker_pids); do
		kill -KILL -- "-$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for p in $(cat "$BATS_TEST_TMPDIR/users" 2>/dev/null); do userdel "$p"; done
	for p in $(cat "$BATS_TEST_TMPDIR/groups" 2>/dev/null); do groupdel "$p"; done
	for p in $(cat "$BATS_TEST_TMPDIR/dirs" 2>/dev/null); do rm -rf "$p"; done
	sanitized
}

# add_user NAME [USERADD-OPTION...]: a user without a home for this test,
# deleted by teardown; add_group NAME likewise.
add_user() {
	echo "$1" >>"$BATS_TEST_TMPDIR/users"
	useradd -M -s /bin/sh "${@:2}" "$1"
}

add_group() {
	echo "$1" >>"$BATS_TEST_TMPDIR/groups"
	groupadd "$1"
}

# sanitized: no sanitizer report was written (each goes to sanitizer.PID).
sanitized() {
	local f ok=0
	for f in "$BATS_TEST_TMPDIR"/sanitizer.*; do
		[ -e "$f" ] || continue
		echo "# sanitizer report $f:" >&2
		cat "$f" >&2
		ok=1
	done
	return "$ok"
}

# logged N PATTERN: at least N log lines match (for wait_for).
logged() {
	[ "$(count_log "$2")" -ge "$1" ]
}

# republished SLOT OLDPID: slot SLOT has published a worker other than OLDPID.
republished() {
	local p
	p=$(published_pid "$1")
	[ -n "$p" ] && [ "$p" != "$2" ]
}
