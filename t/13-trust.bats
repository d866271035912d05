# Trust: what an attacker in tmpDir, a signal at a bad moment, a client
# that pipelines or vanishes, fd exhaustion or a stall may do, and that
# the daemon signals, removes and spins for nothing that is not its own.
# Each test here failed before its fix (issue 12).
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js "$FIX"/*.py .
}

# up ARGS...: start_daemon, and wait for its first deploy.
up() {
	local n
	n=$(count_log 'deploy done' 2>/dev/null)
	start_daemon "$@"
	wait_for 15 logged $((${n:-0} + 1)) 'deploy done'
}

# hostile PATTERN: a stranger's process leading its own group, listening
# on a socket in this directory named by PATTERN ({pid}: its pid); $HPID.
hostile() {
	python3 hostile.py "$PWD" "$1" >hostile.out &
	echo "$!" >>"$BATS_TEST_TMPDIR/pids"
	wait_for 5 test -s hostile.out
	HPID=$(cat hostile.out)
	echo "$HPID" >>"$BATS_TEST_TMPDIR/pids"
}

# writes PID: how many write(2) calls the process made so far.
writes() {
	awk '/^syscw/ { print $2 }' "/proc/$1/io"
}

@test "a stranger's process group named by a socket in tmpDir is never signalled" {
	hostile 'app.0.sock.{pid}'
	up -s app.js -w 2
	# A run file that is not ours (mode 0644), listing it, is ignored too.
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	printf '%s 0 %s\n' "$HPID" "$PWD/app.0.sock.$HPID" >nodesockd.ipc.run
	chmod 644 nodesockd.ipc.run
	up -s app.js -w 2
	grep -q 'nodesockd.ipc.run: ignored: not a file of ours of mode 0600' "$LOG"
	# And one of ours listing it with another start time: not ours either.
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	printf '%s 12345 %s\n' "$HPID" "$PWD/app.0.sock.$HPID" >nodesockd.ipc.run
	chmod 600 nodesockd.ipc.run
	up -s app.js -w 2
	# Long enough for a sweep: drainDelay, then shutdownTimeout 1 s.
	sleep 2
	alive "$HPID"
	run ! grep -q "pid $HPID" "$LOG"
	[ -S "app.0.sock.$HPID" ]
	kill "$HPID"
}

@test "pid 1 of a pid namespace, named by a socket or a run file, is never signalled" {
	[ "$(id -u)" = 0 ] || skip "needs root for unshare --pid"
	command -v unshare >/dev/null || skip "unshare is missing"
	echo '{"script": "app.js", "shutdownTimeout": 1000}' >app.json
	# In the namespace, pid 1 is a shell leading its own group, with a
	# listener at app.0.sock.1 and a sentinel process. It starts the
	# daemon, kills it with -9, adds pid 1 with its real start time to the
	# run file, and starts the daemon again: kill(-1) would end the rest.
	cat >ns.sh <<-EOF
	python3 -c 'import socket, time
	s = socket.socket(socket.AF_UNIX); s.bind("app.0.sock.1"); s.listen(1)
	time.sleep(100)' &
	sleep 100 &
	sentinel=\$!
	start=\$(cut -d')' -f2 /proc/1/stat | awk '{ print \$20 }')
	"$NODESOCKD" -c app.json 3>&- >>ns.log 2>&1 &
	d=\$!
	for i in \$(seq 100); do grep -q 'deploy done' ns.log && break; sleep 0.1; done
	kill -KILL \$d
	sleep 0.2
	echo "1 \$start $PWD/app.0.sock.1" >>nodesockd.ipc.run
	"$NODESOCKD" -c app.json 3>&- >>ns.log 2>&1 &
	d=\$!
	for i in \$(seq 100); do [ \$(grep -c 'deploy done' ns.log) = 2 ] && break; sleep 0.1; done
	sleep 2
	kill -0 \$sentinel && kill -0 \$d && echo survived >ns.out
	kill -TERM \$d
	wait \$d
	EOF
	timeout 60 unshare --pid --fork --mount-proc setsid sh ns.sh
	[ "$(cat ns.out)" = survived ]
	[ "$(grep -c 'deploy done' ns.log)" = 2 ]
	run ! grep -q "pid 1)" ns.log
}

@test "a data file named like a worker's socket is never removed" {
	echo data >app.0.sock.42
	ln -s app.0.sock.42 app.0.sock.43
	up -s app.js
	[ "$(cat app.0.sock.42)" = data ]
	[ -L app.0.sock.43 ]
}

@test "a SIGTERM while workers are forked is handled once, by the daemon only" {
	printf 'printf "\\"online\\"\\n" >&3\nexec sleep 100\n' >online.sh
	for i in 1 2 3; do
		LOG=$BATS_TEST_TMPDIR/daemon.$i.log
		"$NODESOCKD" -s online.sh -w 128 -e LISTEN_ON 3>&- >"$LOG" 2>&1 &
		DPID=$!
		echo "$DPID" >>pids
		wait_for 10 logged 1 started
		kill -TERM "$DPID"
		wait_for 20 gone "$DPID"
		wait "$DPID"
		[ "$(count_log 'killing every worker')" = 0 ]
		[ "$(count_log 'was killed by signal 9')" = 0 ]
		for p in $(worker_pids); do wait_for 5 gone "$p"; done
	done
}

@test "pipelined commands: every line a client sent before it hung up is run and answered" {
	up -s app.js -w 3
	old=$(published_pid 0)
	{ yes status | head -2000; echo restart; } | timeout 30 "$NODESOCKD" ctl -s app.js >ctl.out
	[ "$(grep -c '^ok$' ctl.out)" = 2001 ]
	[ "$(published_pid 0)" != "$old" ]
	# Half-closed, through a raw client that never reads until it is done.
	{ yes status | head -2000; echo bogus; } | node rawctl.js nodesockd.ipc >raw.out
	[ "$(grep -c '^ok$' raw.out)" = 2000 ]
	[ "$(tail -n 1 raw.out)" = "error: unknown command 'bogus'" ]
	# The client exits 1 if any reply was an error.
	run -1 sh -c "{ echo status; echo bogus; echo status; } | '$NODESOCKD' ctl -s app.js"
	[ "$(echo "$output" | grep -c '^ok$')" = 2 ]
	[ "$(echo "$output" | grep -c '^error: ')" = 1 ]
}

@test "pipelined commands on a connection kept open are all answered, however fast it reads" {
	up -s app.js -w 3
	for at in 1500 890 10; do
		run -0 node pipeline.js nodesockd.ipc 1500 "$at"
		[ "$output" = "answers 1501" ]
	done
}

@test "a client gone with replies queued while its command runs is not polled for ever" {
	command -v python3 >/dev/null || skip "python3 is missing"
	echo '{"script": "app.js", "onlineTimeout": 1500}' >app.json
	up -c app.json
	cp silent.js app.js
	run -0 python3 queued.py nodesockd.ipc "$LOG"
	n=$(count_log 'deploy failed')
	before=$(writes "$DPID")
	sleep 1
	after=$(writes "$DPID")
	# A spinning loop makes hundreds of thousands of failed writes here.
	[ $((after - before)) -lt 1000 ]
	wait_for 10 logged $((n + 1)) 'deploy failed'
	cp "$FIX/app.js" app.js
	run -0 "$NODESOCKD" restart -c app.json
}

@test "out of descriptors: accept(2) is paused and logged once, and the daemon supervises on" {
	(ulimit -n 24; exec "$NODESOCKD" -s app.js -w 4 3>&- >>"$BATS_TEST_TMPDIR/daemon.log" 2>&1) &
	DPID=$!
	echo "$DPID" >>pids
	LOG=$BATS_TEST_TMPDIR/daemon.log
	wait_for 15 grep -q 'deploy done' "$LOG"
	# Idle connections until the daemon runs out of descriptors.
	STOP=$PWD/stop node idle.js nodesockd.ipc 30 >idle.out 2>&1 &
	cpid=$!
	echo "$cpid" >>pids
	wait_for 10 grep -q 'accept: Too many open files' "$LOG"
	before=$(writes "$DPID")
	b=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
	sleep 2
	after=$(writes "$DPID")
	a=$(awk '{ print $14 + $15 }' "/proc/$DPID/stat")
	[ $((after - before)) -lt 100 ]
	[ $((a - b)) -lt 20 ]
	[ "$(count_log 'accept: Too many open files')" = 1 ]
	# Clients that go free descriptors; the daemon answers again.
	touch stop
	wait_for 10 gone "$cpid"
	run -0 "$NODESOCKD" status -s app.js
	[ "${#lines[@]}" = 5 ]
	p=$(published_pid 2)
	kill -KILL "$p"
	wait_for 10 republished 2 "$p"
}

@test "an idle control client is told and closed after 60 s" {
	up -s app.js
	mkfifo in
	sleep 75 >in &
	echo "$!" >>pids
	"$NODESOCKD" ctl -s app.js <in >ctl.out 2>&1 &
	c=$!
	echo "$c" >>pids
	wait_for 70 gone "$c"
	rc=0
	wait "$c" || rc=$?
	[ "$rc" = 1 ]
	[ "$(cat ctl.out)" = "error: idle for 60s: closed" ]
}

@test "input that arrived before a deadline is taken before the deadline is judged" {
	echo '{"script": "app.js", "onlineTimeout": 3000}' >app.json
	up -c app.json
	"$NODESOCKD" restart -c app.json >restart.out 2>&1 &
	r=$!
	echo "$r" >>pids
	wait_for 5 logged 2 started
	kill -STOP "$DPID"
	sleep 4
	kill -CONT "$DPID"
	wait "$r"
	grep -q 'deploy done' "$LOG"
	[ "$(count_log 'deploy done')" = 2 ]
}

@test "an environment with a name six times, and env: [], gives workers that name once" {
	command -v python3 >/dev/null || skip "python3 is missing"
	echo '{"script": "app.js", "env": []}' >app.json
	LOG=$BATS_TEST_TMPDIR/daemon.log
	python3 dupenv.py "$NODESOCKD" -c app.json 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>pids
	wait_for 15 grep -q 'deploy done' "$LOG"
	get app.0.sock /env >env.json
	node -e '
		const e = JSON.parse(require("fs").readFileSync("env.json")).env;
		const names = Object.keys(e).filter((k) => !k.startsWith("NODESOCKD_")
		    && !k.startsWith("NODE_CHANNEL") && k !== "LISTEN_ON").sort();
		if (names.join() !== "PATH") throw new Error(names.join());'
}

@test "kill -9 of the daemon mid-deploy: no worker of it runs on once the next one has published" {
	echo '{"script": "slowboot.js", "workers": 2, "shutdownTimeout": 2000}' >app.json
	BOOT_MS=300 up -c app.json
	old=$(worker_pids)
	"$NODESOCKD" restart -c app.json >/dev/null 2>&1 &
	echo "$!" >>pids
	wait_for 5 logged 4 started
	booting=$(worker_pids | tail -n 2)
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	BOOT_MS=300 start_daemon -c app.json
	wait_for 15 logged 2 'deploy done'
	for p in $old $booting; do
		wait_for 10 gone "$p" || { echo "pid $p of the killed daemon runs on"; false; }
	done
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
}

@test "what a worker leaves in its process group ignoring SIGTERM is killed after shutdownTimeout" {
	echo '{"script": "grandchild.js", "shutdownTimeout": 1000}' >app.json
	GRANDCHILD_FILE=$PWD/gc up -c app.json
	run -0 "$NODESOCKD" restart -c app.json
	first=$(head -n 1 gc)
	echo "$first" >>pids
	wait_for 10 gone "$first"
	grep -q 'left processes that outlived shutdownTimeout' "$LOG"
	# And the daemon's own exit waits for them.
	second=$(tail -n 1 gc)
	echo "$second" >>pids
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	gone "$second"
}

@test "a deploy publishes all slots or none" {
	echo '{"script": "slowboot.js", "workers": 2}' >app.json
	BOOT_MS=100 up -c app.json
	old="$(published_pid 0) $(published_pid 1)"
	# A public name that is no symlink is refused before anything starts.
	rm app.0.sock
	mkdir app.0.sock
	run -1 "$NODESOCKD" restart -c app.json
	[ "$output" = "nodesockd: restart: cannot publish: $PWD/app.0.sock exists and is not a symlink" ]
	[ "$(worker_pids | wc -l)" = 2 ]
	rmdir app.0.sock
	# One that becomes a directory during the deploy: the names already
	# moved are moved back.
	l1=$(readlink app.1.sock)
	BOOT_MS=1000 "$NODESOCKD" restart -c app.json >restart.out 2>&1 &
	r=$!
	echo "$r" >>pids
	wait_for 5 logged 4 started
	rm app.1.sock
	mkdir app.1.sock
	rc=0
	wait "$r" || rc=$?
	[ "$rc" = 1 ]
	[[ "$(cat restart.out)" == *"rename $PWD/app.1.sock.new: Is a directory"* ]]
	[ "$(published_pid 0) $(published_pid 1)" = "$old" ]
	[ "$(get app.0.sock)" = "${old%% *} 0" ]
	[ ! -e app.0.sock.new ] && [ ! -e app.1.sock.new ]
	[ -d app.1.sock ] && [ "$l1" != "" ]
}

@test "colliding or empty names and reserved variables are refused at load" {
	echo '{"script": "app.js", "socketFile": "x.sock", "ipcFile": "x.sock"}' >a.json
	run -1 "$NODESOCKD" -c a.json
	[[ "$output" == "nodesockd: a.json:1:57: \"ipcFile\" $PWD/x.sock: collides with socketFile's $PWD/x.sock" ]]
	echo '{"script": "app.js", "workers": 2,
	  "ipcFile": "app.1.sock"}' >a.json
	run -1 "$NODESOCKD" -c a.json
	[[ "$output" == "nodesockd: a.json:2:15: \"ipcFile\" "*"collides with socketFile's $PWD/app.1.sock" ]]
	echo '{"script": "app.js", "listenVar": "PATH"}' >a.json
	run -1 "$NODESOCKD" -c a.json
	[[ "$output" == *'a.json:1:35: "listenVar" must not be PATH, NODE_* or NODESOCKD_*'* ]]
	run -1 "$NODESOCKD" -s app.js -e NODESOCKD_WORKER_ID
	[[ "$output" == *'--listen-var must not be PATH'* ]]
	echo '{"script": "app.js", "socketFile": ".."}' >a.json
	run -1 "$NODESOCKD" -c a.json
	[[ "$output" == *'"socketFile" must be a file name'* ]]
	run -1 "$NODESOCKD" -s app.js -o ''
	[ "$output" = "nodesockd: --socket-file must not be empty" ]
	run -1 "$NODESOCKD" -s app.js -t ''
	[ "$output" = "nodesockd: --tmp-dir must not be empty" ]
	# A path too long for lack of tmpDir is blamed on tmpDir.
	long=$PWD/$(printf 'd%.0s' $(seq 90))
	mkdir "$long"
	cp app.js "$long/"
	echo '{"script": "app.js"}' >"$long/a.json"
	run -1 "$NODESOCKD" -c "$long/a.json"
	[[ "$output" == *'"tmpDir" '*'socket path longer than 107 bytes' ]]
	[ ! -e "$long/nodesockd.ipc" ]
}

@test "a line with a NUL byte gets an error; ctl with an overlong line reads the error and exits 1" {
	up -s app.js
	run -1 sh -c "printf 'sta\\0tus\\n' | '$NODESOCKD' ctl -s app.js"
	[[ "$output" == "error: unknown command 'sta?tus'" ]]
	run -1 sh -c "printf '\\0\\n' | '$NODESOCKD' ctl -s app.js"
	[[ "$output" == "error: unknown command '?'" ]]
	for i in 1 2 3; do
		run -1 sh -c "{ head -c 100000 /dev/zero | tr '\\0' x; echo; } | '$NODESOCKD' ctl -s app.js"
		[ "$output" = "error: line too long" ]
	done
}

@test "descriptors the daemon was given do not reach the workers" {
	exec 7>leak.txt
	"$NODESOCKD" -s app.js 3>&- >>"$BATS_TEST_TMPDIR/daemon.log" 2>&1 &
	DPID=$!
	exec 7>&-
	echo "$DPID" >>pids
	LOG=$BATS_TEST_TMPDIR/daemon.log
	wait_for 15 grep -q 'deploy done' "$LOG"
	[ -e "/proc/$DPID/fd/7" ]
	get app.0.sock /fds >fds.json
	run ! grep -q leak.txt fds.json
	grep -q '"3":"socket:' fds.json
}

@test "tmpDir removed and made again: the control socket is bound again at the next publish" {
	mkdir run
	echo '{"script": "app.js", "tmpDir": "run"}' >app.json
	up -c app.json
	p=$(published_pid 0)
	rm -rf run
	mkdir run
	run -2 "$NODESOCKD" status -c app.json
	kill -KILL "$p"
	wait_for 10 republished 0 "$p"
	grep -q "nodesockd.ipc was gone: listening there again" "$LOG"
	run -0 "$NODESOCKD" status -c app.json
	[ "$(get run/app.0.sock)" = "$(published_pid 0) 0" ]
}

@test "a worker's death is logged before its replacement's start" {
	up -s app.js
	p=$(published_pid 0)
	kill -KILL "$p"
	wait_for 10 republished 0 "$p"
	died=$(grep -n "(pid $p) was killed by signal 9" "$LOG" | cut -d: -f1)
	started=$(grep -n ') started' "$LOG" | tail -n 1 | cut -d: -f1)
	[ "$died" -lt "$started" ]
}

@test "a worker that says online with no socket at its path is not published" {
	up -s app.js
	cp notsock.js app.js
	run -1 "$NODESOCKD" restart -s app.js
	[[ "$output" == *"failed to come online: $PWD/app.0.sock."*": Socket operation on non-socket"* ]]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ ! -L app.0.sock ] || [ -S "$(readlink -f app.0.sock)" ]
}

@test "another user on a control socket opened to all is refused, and the client says so, exit 1" {
	[ "$(id -u)" = 0 ] || skip "needs root to run the client as another user"
	d=$(mktemp -d /tmp/nodesockd-open.XXXXXX)
	echo "$d" >>"$BATS_TEST_TMPDIR/dirs"
	chmod 755 "$d"
	cp app.js "$d/"
	up -s "$d/app.js" -t "$d"
	chmod 666 "$d/nodesockd.ipc"
	for i in 1 2 3 4 5 6; do
		run -1 setpriv --reuid nobody --regid nogroup --clear-groups \
		    "$NODESOCKD" status -i "$d/nodesockd.ipc"
		[ "$output" = "nodesockd: status: permission denied" ]
	done
	run -1 sh -c "echo status | setpriv --reuid nobody --regid nogroup --clear-groups '$NODESOCKD' ctl -i '$d/nodesockd.ipc'"
	[ "$output" = "error: permission denied" ]
}

@test "a FIFO at the run file's path is refused, not opened for ever" {
	mkfifo nodesockd.ipc.run
	up -s app.js
	grep -q 'nodesockd.ipc.run: ignored: not a file of ours of mode 0600' "$LOG"
	run -0 "$NODESOCKD" status -s app.js
}

@test "an earlier daemon's worker ignoring its SIGTERM stays in the run file for the next daemon" {
	echo '{"script": "stubborn.js", "drainDelay": 100, "shutdownTimeout": 5000}' >app.json
	up -c app.json
	a=$(published_pid 0)
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	up -c app.json
	wait_for 10 grep -q "worker (pid $a) of an earlier nodesockd: stopping it" "$LOG"
	# A reap rewrites the run file meanwhile; then this daemon is killed too.
	kill -KILL "$(published_pid 0)"
	wait_for 10 logged 3 ') started'
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	up -c app.json
	wait_for 5 logged 2 "worker \\(pid $a\\) of an earlier nodesockd: still runs"
	wait_for 15 gone "$a"
}

@test "a last control line without a newline is run and answered" {
	up -s app.js
	old=$(published_pid 0)
	run -0 sh -c "printf restart | '$NODESOCKD' ctl -s app.js"
	[ "$output" = ok ]
	[ "$(published_pid 0)" != "$old" ]
	run -0 sh -c "printf 'status\nresume' | '$NODESOCKD' ctl -s app.js"
	[ "${lines[-1]}" = ok ]
	[[ "$output" == *"resumed 0 workers"* ]]
}

@test "a reaped worker's group number, taken by another process since, is never signalled" {
	[ "$(id -u)" = 0 ] || skip "needs root for unshare --pid and ns_last_pid"
	command -v unshare >/dev/null || skip "unshare is missing"
	# A worker whose child ignores SIGTERM and leaves its process group a
	# second later: the group is then empty, with no SIGCHLD to say so. Its
	# number is then given to a new process that leads a group of its own
	# (ns_last_pid, in a pid namespace of the test's own: all in it ends
	# with its first process, the shell).
	cat >w.py <<-'EOF'
	import os, signal, socket, sys, time
	s = socket.socket(socket.AF_UNIX); s.bind(os.environ['LISTEN_ON']); s.listen(8)
	if os.fork() == 0:
	    got = []
	    signal.signal(signal.SIGTERM, lambda *a: got.append(1))
	    while not got: time.sleep(0.05)
	    time.sleep(1); os.setsid(); time.sleep(30); sys.exit(0)
	os.write(3, b'"online"\n')
	while os.read(3, 100): pass
	EOF
	cat >victim.py <<-'EOF'
	import os, sys, time
	open('/proc/sys/kernel/ns_last_pid', 'w').write(str(int(sys.argv[1]) - 1))
	pid = os.fork()
	if pid == 0:
	    os.setsid(); time.sleep(30); sys.exit(0)
	print(pid, flush=True)
	_, st = os.waitpid(pid, 0)
	print('victim', 'killed by', os.WTERMSIG(st) if os.WIFSIGNALED(st) else 'none', flush=True)
	EOF
	echo '{"script": "w.py", "node": "/usr/bin/python3", "shutdownTimeout": 4000}' >app.json
	cat >ns.sh <<-EOF
	"$NODESOCKD" -c app.json 3>&- >>ns.log 2>&1 &
	d=\$!
	for i in \$(seq 100); do grep -q 'deploy done' ns.log && break; sleep 0.1; done
	p=\$(sed -n 's/.*worker 0 (pid \([0-9]*\)) published.*/\1/p' ns.log | head -n 1)
	kill -KILL \$p
	sleep 2
	python3 victim.py \$p >victim.out &
	sleep 6
	cat victim.out >ns.out
	kill -TERM \$d
	wait \$d
	EOF
	timeout 60 unshare --pid --fork --mount-proc setsid sh ns.sh
	cat ns.out ns.log
	p=$(sed -n 's/.*worker 0 (pid \([0-9]*\)) published.*/\1/p' ns.log | head -n 1)
	[ "$(head -n 1 ns.out)" = "$p" ] || skip "the pid was not given again (ns_last_pid)"
	run ! grep -q '^victim killed by 9' ns.out
}

@test "an earlier daemon's worker that dies once adopted leaves nothing of its group behind" {
	echo '{"script": "grandchild.js", "shutdownTimeout": 1000}' >app.json
	GRANDCHILD_FILE=$PWD/gc up -c app.json
	leader=$(published_pid 0)
	child=$(head -n 1 gc)
	echo "$child" >>pids
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	GRANDCHILD_FILE=$PWD/gc start_daemon -c app.json
	wait_for 10 grep -q "worker (pid $leader) of an earlier nodesockd: still runs" "$LOG"
	kill -KILL "$leader"
	wait_for 15 logged 2 'deploy done'
	wait_for 10 gone "$child"
}
