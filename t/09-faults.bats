# Faults: what workers, operators and other processes may throw at the
# daemon, and what it does.
load helpers

setup() {
	cd "$BATS_TEST_DIRNAME/fixtures" && FIXDIR=$PWD
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js "$FIX"/*.sh .
}

@test "a worker flooding its channel without a newline, or sending bad JSON, is bounded and ignored" {
	echo '{"script": "flood.sh", "node": "/bin/sh", "workers": 2}' >app.json
	start_daemon -c app.json
	wait_for 30 grep -q 'deploy done: 2 workers' "$LOG"
	# Logged once per worker, however much it sends.
	[ "$(count_log 'sent a line longer than 4095 bytes, ignored')" = 2 ]
	[ "$(count_log 'not JSON')" = 0 ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	rss=$(awk '/^VmRSS/ { print $2 }' /proc/$DPID/status)
	[ "$rss" -lt 8192 ]
	run -0 "$NODESOCKD" restart -c app.json
}

@test "a worker sending broken JSON is logged once and served on" {
	echo '{"script": "badjson.sh", "node": "/bin/sh"}' >app.json
	start_daemon -c app.json
	wait_for 30 grep -q 'deploy done' "$LOG"
	[ "$(count_log 'sent a line that is not JSON \(1:1: unterminated string\), ignored')" = 1 ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
}

@test "a worker that forks a child and exits: replaced, and the child goes too" {
	echo '{"script": "forker.js", "onlineTimeout": 5000}' >app.json
	CHILD_PID_FILE=$PWD/child.pid start_daemon -c app.json
	wait_for 10 test -s child.pid
	child=$(cat child.pid)
	echo "$child" >>pids
	first=$(worker_pids | head -n 1)
	wait_for 10 grep -q "worker 0 (pid $first) exited with status 1" "$LOG"
	wait_for 5 gone "$child"
	wait_for 10 logged 2 started
}

@test "a public name removed by hand comes back with the next publish" {
	start_daemon -s app.js -w 2
	wait_for 10 grep -q 'deploy done' "$LOG"
	rm app.0.sock
	run ! get app.0.sock
	run -0 "$NODESOCKD" restart -s app.js
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	# And after a crash, the replacement publishes it again.
	rm app.1.sock
	kill -KILL "$(published_pid 1)"
	wait_for 10 test -L app.1.sock
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "200 control clients at once are all answered" {
	start_daemon -s app.js -w 3
	wait_for 10 grep -q 'deploy done' "$LOG"
	clients=""
	for i in $(seq 1 200); do
		timeout 20 "$NODESOCKD" status -s app.js >"status.$i" 2>&1 &
		clients="$clients $!"
	done
	for p in $clients; do wait "$p" || true; done
	[ "$(cat status.* | grep -c '^worker pid')" = 200 ]
	[ "$(cat status.* | grep -c ' online ')" = 600 ]
	alive "$DPID"
}

@test "a daemon killed with kill -9: the next one stops the old workers once its own are online" {
	start_daemon -s app.js -w 2
	wait_for 10 grep -q 'deploy done' "$LOG"
	old="$(published_pid 0) $(published_pid 1)"
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	# The old workers serve on meanwhile.
	for p in $old; do alive "$p"; done
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	start_daemon -s app.js -w 2
	wait_for 10 logged 2 'deploy done'
	for p in $old; do
		wait_for 10 gone "$p"
		grep -q "worker (pid $p) of an earlier nodesockd: still runs, on $PWD/app.[01].sock.$p" "$LOG"
		grep -q "worker (pid $p) of an earlier nodesockd: stopping it" "$LOG"
		[ ! -e "app.0.sock.$p" ] && [ ! -e "app.1.sock.$p" ]
	done
	[ "$(ls app.*.sock.* | wc -l)" = 2 ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "workers using the helper serve on when the daemon dies, until the next one's are online" {
	echo "{\"script\": \"$FIXDIR/helper-app.js\", \"workers\": 2}" >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	old="$(published_pid 0) $(published_pid 1)"
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	# They know, say so once, and serve on.
	wait_for 10 logged 2 'the daemon is gone; serving on until SIGTERM'
	grep -q 'worker 0 disconnected' "$LOG"
	for p in $old; do alive "$p"; done
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	start_daemon -c app.json
	wait_for 10 logged 2 'deploy done'
	[ "$(published_pid 0) $(published_pid 1)" != "$old" ]
	# Then the next daemon stops them, and they drain and exit 0.
	for p in $old; do
		wait_for 15 gone "$p"
		grep -q "(pid $p) of an earlier nodesockd" "$LOG"
		[ ! -e "app.0.sock.$p" ] && [ ! -e "app.1.sock.$p" ]
	done
	[ "$(count_log '^worker [01] exit 0$')" = 2 ]
	[ "$(ls app.*.sock.* | wc -l)" = 2 ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	! grep -q 'took over' "$LOG"
}

# The permission tests run as real users: the daemon as "app" in tmpDir
# owned app:web, mode u=rwx,g=rsx,o= (2750), a web server in group "web",
# and a stranger in neither.
perm_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root to create users"
	suffix=$$$BATS_TEST_NUMBER
	APPU=nsdapp$suffix WEBG=nsdweb$suffix WEBU=nsdwww$suffix OTHU=nsdoth$suffix
	add_group "$WEBG"
	add_user "$APPU" -U
	add_user "$WEBU" -N -g "$WEBG"
	add_user "$OTHU" -U
	PERMDIR=$(mktemp -d /tmp/nodesockd-perm.XXXXXX)
	echo "$PERMDIR" >>"$BATS_TEST_TMPDIR/dirs"
	chmod 755 "$PERMDIR"
	mkdir "$PERMDIR/app" "$PERMDIR/app/run"
	cp app.js "$PERMDIR/app/"
	echo '{"script": "app.js", "tmpDir": "run", "workers": 2}' >"$PERMDIR/app/app.json"
	chown -R "$APPU:$APPU" "$PERMDIR/app"
	chown "$APPU:$WEBG" "$PERMDIR/app/run"
	chmod u=rwx,g=rsx,o= "$PERMDIR/app/run"
}

# daemon_as USER ARGS...: start_daemon as USER. (Not through as(): in the
# background a function runs in a subshell, and $! would be the subshell's.)
daemon_as() {
	LOG="$BATS_TEST_TMPDIR/daemon.log"
	setpriv --reuid "$1" --regid "$(id -g "$1")" --init-groups \
	    "$NODESOCKD" "${@:2}" 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>"$BATS_TEST_TMPDIR/pids"
}

as() {
	local u=$1
	shift
	setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups "$@"
}

@test "permissions: group web reaches the worker sockets, not the control socket; others reach nothing" {
	perm_setup
	daemon_as "$APPU" -c "$PERMDIR/app/app.json"
	run=$PERMDIR/app/run
	wait_for 10 grep -q 'deploy done' "$LOG"
	# Sockets: the workers' are app:web 0660 through the setgid directory.
	p0=$(published_pid 0)
	[ "$(stat -c '%U:%G %a' "$run/app.0.sock.$p0")" = "$APPU:$WEBG 660" ]
	[ "$(stat -c '%U:%G %a' "$run/nodesockd.ipc")" = "$APPU:$WEBG 600" ]
	# The web server's user.
	run -0 as "$WEBU" curl -sS --max-time 5 --unix-socket "$run/app.0.sock" http://localhost/
	[ "$output" = "$p0 0" ]
	run -2 as "$WEBU" "$NODESOCKD" status -i "$run/nodesockd.ipc"
	[[ "$output" == *"Permission denied" ]]
	# A stranger.
	run ! as "$OTHU" curl -sS --max-time 5 --unix-socket "$run/app.0.sock" http://localhost/
	run -2 as "$OTHU" "$NODESOCKD" status -i "$run/nodesockd.ipc"
	# The daemon's own user commands it.
	run -0 as "$APPU" "$NODESOCKD" restart -c "$PERMDIR/app/app.json"
	[ "$(as "$WEBU" curl -sS --max-time 5 --unix-socket "$run/app.1.sock" http://localhost/)" = "$(published_pid 1) 1" ]
}

@test "an unwritable tmpDir fails the deploy clearly; the old workers serve on; fixed, it recovers" {
	perm_setup
	daemon_as "$APPU" -c "$PERMDIR/app/app.json"
	run=$PERMDIR/app/run
	wait_for 10 grep -q 'deploy done' "$LOG"
	old="$(published_pid 0) $(published_pid 1)"
	chmod 2550 "$run"
	run -1 as "$APPU" "$NODESOCKD" restart -c "$PERMDIR/app/app.json"
	[ "$output" = "nodesockd: restart: cannot publish: tmpDir $run: Permission denied" ]
	[ "$(worker_pids | wc -l)" = 2 ]
	[ "$(published_pid 0) $(published_pid 1)" = "$old" ]
	[ "$(curl -sS --max-time 5 --unix-socket "$run/app.0.sock" http://localhost/)" = "$(published_pid 0) 0" ]
	# A crash meanwhile: retried with back-off until the directory is fixed.
	kill -KILL "$(published_pid 1)"
	wait_for 10 grep -q 'restarting in 100ms' "$LOG"
	chmod 2750 "$run"
	wait_for 40 republished 1 "${old#* }"
	[ "$(curl -sS --max-time 5 --unix-socket "$run/app.1.sock" http://localhost/)" = "$(published_pid 1) 1" ]
	run -0 as "$APPU" "$NODESOCKD" restart -c "$PERMDIR/app/app.json"
}
