# The supervisor: workers on their own sockets, published atomically,
# replaced when they die, restarted on SIGHUP, stopped on SIGTERM.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
}

# json URL-ON-SOCKET EXPR: evaluate EXPR on the JSON a worker answers.
json() {
	get "$1" "$2" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log($3)})"
}

@test "one worker comes online on a private socket behind a public symlink" {
	start_daemon -s app.js
	wait_for 10 grep -q 'deploy done: 1 worker online' "$LOG"
	pid=$(published_pid 0)
	[ -L app.0.sock ]
	[ "$(readlink app.0.sock)" = "app.0.sock.$pid" ]
	[ -S "app.0.sock.$pid" ]
	[ "$(stat -c %a "app.0.sock.$pid")" = 660 ]
	[ "$(get app.0.sock)" = "$pid 0" ]
	grep -q "nodesockd: worker 0 (pid $pid) online" "$LOG"
}

@test "three workers answer each on its own public socket" {
	start_daemon -s app.js -w 3
	wait_for 10 grep -q 'deploy done: 3 workers online' "$LOG"
	for i in 0 1 2; do
		[ "$(get app.$i.sock)" = "$(published_pid $i) $i" ]
	done
	[ "$(worker_pids | sort -u | wc -l)" = 3 ]
}

@test "a worker's environment, umask and channel" {
	echo '{"script": "app.js", "listenVar": "SOCK", "env": ["KEEP_ME"], "workers": 2}' >app.json
	KEEP_ME=yes DROP_ME=no NODE_ENV=production start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	[ "$(json app.1.sock /env 'j.env.SOCK')" = "$PWD/app.1.sock.$(published_pid 1)" ]
	[ "$(json app.1.sock /env 'j.env.NODESOCKD_WORKER_ID')" = 1 ]
	[ "$(json app.1.sock /env 'j.env.NODESOCKD_SUSPENDED')" = "" ]
	# Node takes NODE_CHANNEL_FD out of process.env once it has the channel.
	[ "$(json app.1.sock /env 'j.env.NODE_CHANNEL_FD')" = undefined ]
	[ "$(json app.1.sock /env 'j.env.KEEP_ME')" = yes ]
	[ "$(json app.1.sock /env 'j.env.NODE_ENV')" = production ]
	[ "$(json app.1.sock /env 'j.env.PATH')" = "$PATH" ]
	[ "$(json app.1.sock /env 'j.env.DROP_ME')" = undefined ]
	[ "$(json app.1.sock /env 'j.env.LISTEN_ON')" = undefined ]
	[ "$(json app.1.sock /env 'j.umask.toString(8)')" = 7 ]
}

@test "without an env list, workers get the daemon's whole environment" {
	SOME_VAR=here start_daemon -s app.js
	wait_for 10 grep -q 'deploy done' "$LOG"
	[ "$(json app.0.sock /env 'j.env.SOME_VAR')" = here ]
	[ "$(json app.0.sock /env 'j.env.LISTEN_ON')" = "$PWD/app.0.sock.$(published_pid 0)" ]
}

@test "workers inherit no descriptor of the daemon but stdio and fd 3" {
	start_daemon -s app.js
	wait_for 10 grep -q 'deploy done' "$LOG"
	get app.0.sock /fds >fds.json
	# What the daemon opened itself: control socket, self-pipe, channel
	# (not what it inherited from this shell, as the worker does too).
	inherited=$(for f in /proc/$BASHPID/fd/*; do readlink "$f" || true; done 2>/dev/null)
	ours=$(for f in /proc/$DPID/fd/*; do [ "${f##*/}" -le 2 ] || readlink "$f"; done |
	    grep -v -x -F "$inherited" | sort -u)
	[ "$(echo "$ours" | wc -l)" -ge 3 ]
	run node -e '
		const fds = JSON.parse(require("fs").readFileSync("fds.json"));
		const ours = process.argv[1].split("\n");
		for (const [fd, target] of Object.entries(fds))
			if (fd > 2 && ours.includes(target)) console.log(`fd ${fd} -> ${target}`);
		if (!(3 in fds)) console.log("no fd 3");' "$ours"
	[ "$output" = "" ]
}

@test "kill -9 of a worker: a replacement answers on the same public path" {
	start_daemon -s app.js -w 2
	wait_for 10 grep -q 'deploy done' "$LOG"
	old=$(published_pid 1)
	kill -KILL "$old"
	wait_for 10 grep -q "worker 1 (pid $old) was killed by signal 9" "$LOG"
	wait_for 10 republished 1 "$old"
	new=$(published_pid 1)
	[ "$(get app.1.sock)" = "$new 1" ]
	grep -q "worker 1 (pid $old) was killed by signal 9 (Killed), restarting in 0ms" "$LOG"
	[ ! -e "app.1.sock.$old" ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
}

@test "a worker that exits at boot is retried with a growing back-off" {
	start_daemon -s crash.js
	wait_for 10 grep -q 'restarting in 800ms' "$LOG"
	sleep 1
	# With back-off 0, 100, 200, 400, 800, 1600 ms, a few dozen starts at
	# most in this time; a spinning daemon would start hundreds.
	n=$(count_log 'started')
	[ "$n" -ge 5 ] && [ "$n" -le 12 ]
	grep -q 'worker 0 failed to come online: exited with status 3' "$LOG"
	grep -q 'restarting in 100ms' "$LOG"
	grep -q 'restarting in 400ms' "$LOG"
	[ ! -e app.0.sock ]
	alive "$DPID"
}

@test "a worker that never says online is killed after onlineTimeout and retried" {
	echo '{"script": "silent.js", "onlineTimeout": 300}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'no "online" within 300ms' "$LOG"
	first=$(worker_pids | head -n 1)
	wait_for 5 gone "$first"
	grep -q "worker 0 (pid $first) was killed by signal 9" "$LOG"
	wait_for 10 logged 2 'started'
	[ ! -e app.0.sock ]
}

@test "SIGHUP replaces every worker with no moment the sockets refuse" {
	start_daemon -s app.js -w 3
	wait_for 10 grep -q 'deploy done: 3 workers' "$LOG"
	before=$(for i in 0 1 2; do published_pid $i; done)
	STOP="$BATS_TEST_TMPDIR/stop" node hammer.js 20000 app.0.sock app.1.sock app.2.sock >hammer.out &
	hpid=$!
	echo "$hpid" >>pids
	sleep 0.5
	for round in 1 2 3; do
		kill -HUP "$DPID"
		wait_for 15 logged $((round + 1)) 'deploy done'
	done
	sleep 0.5
	touch stop
	wait_for 15 gone "$hpid"
	wait "$hpid" || { cat hammer.out; false; }
	after=$(for i in 0 1 2; do published_pid $i; done)
	for p in $before; do
		[[ " $after " != *" $p "* ]]
		wait_for 10 gone "$p"
	done
	grep -q '^requests [1-9][0-9]* failures 0 ' hammer.out
	# Old and new workers both answered during the run.
	[ "$(sed -n 's/.* pids //p' hammer.out | tr , '\n' | wc -l)" -ge 6 ]
}

@test "the old worker gets shutdown only after drainDelay, once the new one is published" {
	echo '{"script": "app.js", "drainDelay": 400}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	old=$(published_pid 0)
	kill -HUP "$DPID"
	wait_for 10 grep -q "worker 0 (pid $old) exited with status 0" "$LOG"
	new=$(published_pid 0)
	# In the log: new published, old draining, then stopping, then gone.
	seq=$(grep -n -E "pid $new\) published|pid $old\) (draining|stopping|exited)" "$LOG" | cut -d: -f1 | tr '\n' ' ')
	[ "$(echo $seq | tr ' ' '\n' | sort -n | tr '\n' ' ')" = "$seq" ]
	[ "$(echo $seq | wc -w)" = 4 ]
	grep -q "app 0 $old message \"shutdown\"" "$LOG"
}

@test "SIGTERM stops every worker and leaves nothing behind" {
	start_daemon -s app.js -w 3
	wait_for 10 grep -q 'deploy done' "$LOG"
	pids=$(worker_pids)
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	wait "$DPID"
	for p in $pids; do gone "$p"; done
	[ -z "$(ls app.*.sock* nodesockd.ipc 2>/dev/null)" ]
	[ "$(count_log 'exited with status 0')" = 3 ]
}

@test "a worker that ignores shutdown is killed after shutdownTimeout" {
	echo '{"script": "stubborn.js", "shutdownTimeout": 300}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	pid=$(published_pid 0)
	kill -INT "$DPID"
	wait_for 10 gone "$DPID"
	grep -q "stubborn $pid ignores shutdown" "$LOG"
	grep -q "worker 0 (pid $pid) did not exit within 300ms, killing it" "$LOG"
	gone "$pid"
}

@test "a second SIGTERM kills the workers at once" {
	echo '{"script": "stubborn.js", "shutdownTimeout": 60000}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	pid=$(published_pid 0)
	kill -TERM "$DPID"
	wait_for 5 grep -q "stubborn $pid ignores shutdown" "$LOG"
	kill -TERM "$DPID"
	wait_for 5 gone "$DPID"
	gone "$pid"
	grep -q 'killing every worker' "$LOG"
}

@test "an idle daemon makes no system calls" {
	start_daemon -s app.js -w 2
	wait_for 10 grep -q 'deploy done' "$LOG"
	sleep 0.5
	# Blocked in poll(2) with no timeout, it is not scheduled at all.
	before=$(grep -E '^(voluntary|nonvoluntary)_ctxt_switches' /proc/$DPID/status)
	sleep 2
	after=$(grep -E '^(voluntary|nonvoluntary)_ctxt_switches' /proc/$DPID/status)
	[ "$before" = "$after" ]
	# And it sleeps in poll(2) with no timeout (on x86_64: call 7, -1).
	if [ "$(uname -m)" = x86_64 ] &&
	    read -r nr _ _ timeout _ </proc/$DPID/syscall 2>/dev/null; then
		echo "syscall $nr timeout $timeout"
		[ "$nr" = 7 ] && [ "$timeout" = 0xffffffff ]
	fi
}

@test "a worker starts with the signal mask the daemon was given, and SIGPIPE not ignored, which the daemon ignores" {
	# A program that, unlike node, leaves its signals as it finds them.
	echo '{"command": ["sleep", "60"]}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'worker 0 (pid [0-9]*) started' "$LOG"
	w=/proc/$(sed -n 's/.*worker 0 (pid \([0-9]*\)) started.*/\1/p' "$LOG")
	wait_for 10 grep -q '^sleep' "$w/cmdline"	# past exec(2)
	mask() { awk -v k="$1:" '$1 == k { print $2 }' "$2/status"; }
	d=/proc/$DPID
	# Blocked and ignored: what the daemon was given (by make, or the shell
	# that ran it in the background), but SIGPIPE, signal 13, bit 0x1000.
	[ "$(mask SigBlk "$w")" = "$(mask SigBlk "$d")" ]
	[ $((0x$(mask SigIgn "$d") & 0x1000)) != 0 ]
	[ $((0x$(mask SigIgn "$w"))) = $((0x$(mask SigIgn "$d") & ~0x1000)) ]
}
