# A crash of the daemon costs nothing: kill -9 of nodesockd under load
# behind a real Nginx, a new daemon a second later as an init starts it,
# and not one request fails, with workers using the helper and without it;
# the old workers are gone once the new ones are published, drained and
# shut down. With no new daemon, workers using the helper exit after their
# grace period. And with the real runit and s6 supervising nodesockd.
# Nothing here asserts a timing.
load helpers
load nginx

DRAIN=500
SHUTDOWN=3000

setup() {
	command -v nginx >/dev/null || { echo "nginx is missing (apt-get install nginx)" >&2; return 1; }
	cd "$BATS_TEST_TMPDIR"
}

# config SCRIPT N [ORPHAN_MS]: app.json for N workers of the fixture
# SCRIPT; ORPHAN_MS, the grace period of orphans, is its orphanTimeout.
config() {
	local extra=""
	[ -z "${3:-}" ] || extra=", \"orphanTimeout\": $3"
	echo "{\"script\": \"$FIX/$1\", \"workers\": $2, \"drainDelay\": $DRAIN," \
	    "\"shutdownTimeout\": $SHUTDOWN$extra}" >app.json
}

# taken_over N OLD...: the daemon running now has published N workers
# other than OLD, and within drainDelay plus shutdownTimeout (and a margin
# for a busy machine) no OLD worker is left, nor its socket; the public
# names lead to the new workers.
taken_over() {
	local n=$1 p i new
	shift
	new=$(published "$n")
	for p in "$@"; do
		[[ " $(echo $new) " != *" $p "* ]]
	done
	for p in "$@"; do
		wait_for $(((DRAIN + SHUTDOWN) / 1000 + 5)) gone "$p"
		grep -q "(pid $p) of an earlier nodesockd" "$LOG"
		! ls app.*.sock."$p" 2>/dev/null
	done
	for i in $(seq 0 $((n - 1))); do
		p=$(published_pid "$i")
		[ "$(readlink "app.$i.sock")" = "app.$i.sock.$p" ]
		[ "$(get "app.$i.sock")" = "$p $i" ]
	done
}

# crash SCRIPT N: kill -9 of the daemon of N workers of SCRIPT under load
# behind Nginx, a new daemon 1 s later; no request fails, and the old
# workers answer until the new ones have taken over.
crash() {
	config "$1" "$2"
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
	nginx_up "$(upstream "$2")"
	old=$(published "$2")
	load_start
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	sleep 1
	for p in $old; do alive "$p"; done
	start_daemon -c app.json
	wait_for 15 logged 2 'deploy done'
	taken_over "$2" $old
	load_stop
	only_200
	seen=$(pids_seen)
	for p in $old $(published "$2"); do grep -q -x "$p" <<<"$seen"; done
}

@test "kill -9 of the daemon under load, a new one 1 s later: helper workers, 1" {
	crash helper-app.js 1
}

@test "kill -9 of the daemon under load, a new one 1 s later: helper workers, 2" {
	crash helper-app.js 2
	# They drained and exited 0 on the new daemon's SIGTERM.
	[ "$(count_log '^worker [01] exit 0$')" = 2 ]
}

@test "kill -9 of the daemon under load, a new one 1 s later: workers without the helper, 1" {
	crash app.js 1
}

@test "kill -9 of the daemon under load, a new one 1 s later: workers without the helper, 2" {
	crash app.js 2
}

@test "with no new daemon, helper workers serve for their grace period, then drain and exit" {
	config helper-app.js 2 3000
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
	old=$(published 2)
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	wait_for 5 logged 2 ': the daemon is gone; serving on until SIGTERM, for 3000 ms at most$'
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	for p in $old; do
		wait_for 15 gone "$p"
		grep -q "^nodesockd: worker [01] (pid $p): no nodesockd took over within 3000 ms: draining and exiting$" "$LOG"
	done
	[ "$(count_log '^worker [01] exit 0$')" = 2 ]
	# Their sockets went with them; the next daemon starts afresh.
	! ls app.*.sock.* 2>/dev/null
	start_daemon -c app.json
	wait_for 15 logged 2 'deploy done'
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "with a grace period of 0, helper workers drain and exit when the daemon dies" {
	config helper-app.js 2 0
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
	old=$(published 2)
	kill -KILL "$DPID"
	for p in $old; do wait_for 10 gone "$p"; done
	[ "$(count_log '^worker [01] exit 0$')" = 2 ]
	! grep -q 'the daemon is gone' "$LOG"
	! ls app.*.sock.* 2>/dev/null
	start_daemon -c app.json
	wait_for 15 logged 2 'deploy done'
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "the grace timer keeps no finished orphan alive" {
	config helper-app.js 1
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
	p=$(published_pid 0)
	kill -KILL "$DPID"
	wait_for 5 grep -q 'the daemon is gone; serving on until SIGTERM, for 60000 ms at most' "$LOG"
	# The app closes its server itself: nothing is left to do, and the
	# process ends, long before its 60 s.
	[ "$(get app.0.sock /close)" = close ]
	wait_for 10 gone "$p"
	grep -q '^worker 0 exit 0$' "$LOG"
	! grep -q 'took over' "$LOG"
}

@test "a daemon killed mid-suspend: the orphans resume, serve what they hold, and are taken over" {
	config helper-app.js 2
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
	run -0 "$NODESOCKD" restart --suspended -c app.json
	held=$(published 2)
	p0=$(published_pid 0)
	curl -sS --max-time 20 --unix-socket app.0.sock -o held.out -w '%{http_code}' http://localhost/ >held.code &
	client=$!
	echo "$client" >>pids
	sleep 0.5
	alive "$client"
	[ ! -s held.out ]
	# Nothing will send "resume" now: they resume by themselves.
	kill -KILL "$DPID"
	wait_for 10 gone "$client"
	wait "$client"
	[ "$(cat held.code)" = 200 ]
	[ "$(cat held.out)" = "$p0 0" ]
	wait_for 5 logged 2 '^worker [01] resumed$'
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	start_daemon -c app.json
	wait_for 15 logged 3 'deploy done'
	taken_over 2 $held
}

# The supervisors. supervise KIND: the example service of KIND (runit or
# s6) in svc/, its paths made ours, supervised by the real runsv or
# s6-supervise, whose output is $LOG; $SPID is the supervisor's pid.
supervise() {
	service_dir "$1" svc
	LOG="$PWD/supervisor.log"
	case $1 in
	runit) runsv svc 3>&- >>"$LOG" 2>&1 & ;;
	s6) s6-supervise svc 3>&- >>"$LOG" 2>&1 & ;;
	esac
	SPID=$!
	echo "$SPID" >>pids
	wait_for 15 grep -q 'deploy done' "$LOG"
	DPID=$(svpid "$1")
	echo "$DPID" >>pids
}

# svpid KIND: the pid of the supervised nodesockd.
svpid() {
	case $1 in
	runit) cat svc/supervise/pid ;;
	s6) s6-svstat -o pid svc ;;
	esac
}

# supervised_crash KIND: kill -9 of nodesockd under runsv or s6-supervise,
# under load behind Nginx: the supervisor starts it again, whose workers
# take over from the old ones; no request fails.
supervised_crash() {
	config helper-app.js 2
	supervise "$1"
	nginx_up "$(upstream 2)"
	old=$(published 2)
	load_start
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	# The supervisor runs ./run again, and leaves the old workers alone.
	wait_for 15 logged 2 'deploy done'
	DPID=$(svpid "$1")
	echo "$DPID" >>pids
	alive "$DPID"
	taken_over 2 $old
	load_stop
	only_200
	[ "$(count_log '^worker [01] exit 0$')" = 2 ]
}

@test "runit: runsv starts nodesockd again after kill -9; the old workers are taken over, no request fails" {
	command -v runsv >/dev/null || skip "runit is not installed"
	supervised_crash runit
	# And sv down stops it all.
	sv down "$PWD/svc"
	wait_for 20 gone "$DPID"
	for p in $(published 2); do wait_for 10 gone "$p"; done
}

@test "s6: s6-supervise starts nodesockd again after kill -9; the old workers are taken over, no request fails" {
	command -v s6-supervise >/dev/null || skip "s6 is not installed"
	supervised_crash s6
	s6-svc -d "$PWD/svc"
	wait_for 20 gone "$DPID"
	for p in $(published 2); do wait_for 10 gone "$p"; done
}
