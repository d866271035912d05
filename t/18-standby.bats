# nodesockd standby N: standbys added and removed while the daemon runs;
# what it refuses, how it fails, and what may not run beside it.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 1, \"onlineTimeout\": 3000}" >app.json
}

up() {
	start_daemon -c app.json "$@"
	wait_for 10 grep -q 'deploy done' "$LOG"
}

# standbys STATE: the pids of the standbys status shows in that state.
standbys() {
	"$NODESOCKD" status -c app.json | awk -v st="$1" '$1 == "-" && $3 == st { print $2 }' | sort -n | tr '\n' ' '
}

# ready N: status shows N standbys ready.
ready() {
	[ "$(standbys standby | wc -w)" = "$1" ]
}

# standby_pids: every standby pid the daemon has logged as started.
standby_pids() {
	sed -n 's/.*standby (pid \([0-9]*\)) started.*/\1/p' "$LOG"
}

@test "standby grows: the answer comes once every standby is ready; shrinks: the newest go, at once" {
	up
	run -0 "$NODESOCKD" standby 2 -c app.json
	[ "$output" = "" ]
	# Answered: both are up and suspended, ready to be published.
	ready 2
	[ "$(standbys starting)" = "" ]
	grep -q 'standby: from 0 to 2' "$LOG"
	oldest=$(standby_pids | head -1)
	newest=$(standby_pids | tail -1)
	run -0 "$NODESOCKD" standby 1 -c app.json
	# The newest goes, with "shutdown"; the oldest stays, the worker too.
	[ "$(standbys standby)" = "$oldest " ]
	wait_for 10 gone "$newest"
	grep -q "standby (pid $newest) stopping" "$LOG"
	grep -q "standby (pid $newest) exited with status 0" "$LOG"
	alive "$oldest"
	# It takes over a dead worker at once, and another is started behind it.
	p=$(published_pid 0)
	kill -KILL "$p"
	wait_for 10 grep -q "standby (pid $oldest) published as" "$LOG"
	[ "$(get app.0.sock | cut -d' ' -f1)" = "$oldest" ]
	wait_for 10 logged 3 'standby \(pid [0-9]*\) started'
	wait_for 10 ready 1
	# None: every standby goes.
	run -0 "$NODESOCKD" standby 0 -c app.json
	[ "$(standbys standby)" = "" ]
	for p in $(standby_pids); do
		[ "$p" = "$oldest" ] || wait_for 10 gone "$p"
	done
	# The same count again changes nothing.
	n=$(count_log 'started')
	run -0 "$NODESOCKD" standby 0 -c app.json
	[ "$(count_log 'started')" = "$n" ]
	# A deploy keeps the count: 0 here, and 2 once asked.
	run -0 "$NODESOCKD" standby 2 -c app.json
	run -0 "$NODESOCKD" restart -c app.json
	wait_for 10 ready 2
}

@test "standby refuses a bad count and changes nothing; 0 is a count" {
	up
	for n in 257 x 2x "" 99999999999999999999; do
		run -1 "$NODESOCKD" standby "$n" -c app.json
		[ "$output" = "nodesockd: standby needs N, from 0 to 256" ]
	done
	run -1 "$NODESOCKD" standby -c app.json
	[ "$output" = "nodesockd: standby needs N, from 0 to 256" ]
	run -1 "$NODESOCKD" standby -1 -c app.json
	[ "$output" = "nodesockd: unknown option '-1' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" standby 1 2 -c app.json
	[ "$output" = "nodesockd: unexpected argument '2' (see nodesockd --help)" ]
	run -1 sh -c "printf 'standby\nstandby 257\nstandby -1\nstandby 1 2\nstandby 0\n' | '$NODESOCKD' ctl -c app.json"
	for i in 0 1 2 3; do
		[ "${lines[$i]}" = "error: usage: standby N, from 0 to 256" ]
	done
	[ "${lines[4]}" = "ok" ]
	[ "${#lines[@]}" = 5 ]
	[ "$(count_log 'standby \(pid')" = 0 ]
	[ "$(count_log 'standby: from')" = 1 ]
}

@test "a standby that fails to come online answers an error; the next standby N tries again at once" {
	cat >w.js <<-EOF
	// A standby (no worker id) fails at boot while the file "fail" is here.
	if (process.env.NODESOCKD_WORKER_ID === '' && require('fs').existsSync('fail'))
		process.exit(3);
	require('$FIX/helper-app.js');
	EOF
	echo '{"script": "w.js", "workers": 1}' >app.json
	up
	touch fail
	run -1 "$NODESOCKD" standby 1 -c app.json
	[[ "$output" =~ ^"nodesockd: standby: a standby (pid "[0-9]+") exited with status 3"$ ]]
	# It goes on trying, on its back-off, doubled at every young death;
	# the worker serves on.
	wait_for 20 grep -q 'a standby (pid [0-9]*) exited with status 3, restarting in 3200ms' "$LOG"
	[ "$(get app.0.sock | cut -d' ' -f2)" = 0 ]
	# Fixed: the next standby N starts one at once, not after the back-off.
	rm fail
	run -0 timeout 20 "$NODESOCKD" standby 1 -c app.json
	ready 1
	grep -A1 'standby: from 1 to 1' "$LOG" | tail -1 | grep -q 'standby (pid [0-9]*) started'
}

@test "standby shrinks by a starting standby before a ready one, and answers at once" {
	# Standbys write down their pids; the oldest, the lowest, never comes
	# online (it hangs in its boot), the others serve.
	cat >w.js <<-EOF
	const fs = require('fs');
	if (process.env.NODESOCKD_WORKER_ID !== '') return require('$FIX/helper-app.js');
	fs.writeFileSync('sb.' + process.pid, '');
	setTimeout(() => {
		const pids = fs.readdirSync('.').filter(f => f.startsWith('sb.')).map(f => +f.slice(3));
		if (process.pid === Math.min(...pids)) setInterval(() => {}, 1000);
		else require('$FIX/helper-app.js');
	}, 500);
	EOF
	echo '{"script": "w.js", "workers": 1, "standby": 2, "onlineTimeout": 60000}' >app.json
	up
	wait_for 10 ready 1
	slow=$(standbys starting)
	fast=$(standbys standby)
	[ "$slow" -lt "$fast" ]
	# The old code stopped the newest, the ready one, and waited on the
	# other until onlineTimeout.
	run -0 timeout 10 "$NODESOCKD" standby 1 -c app.json
	grep -q "standby (pid ${slow% }) stopping" "$LOG"
	wait_for 10 gone "${slow% }"
	[ "$(standbys standby)" = "$fast" ]
	[ "$(count_log 'standby \(pid [0-9]*\) started')" = 2 ]
}

@test "after a first deploy that failed, the standbys start once the slot is published" {
	cat >w.js <<-EOF
	// Worker 0 fails its first start, and takes the file "fail" with it.
	const fs = require('fs');
	if (process.env.NODESOCKD_WORKER_ID === '0' && fs.existsSync('fail')) {
		fs.unlinkSync('fail');
		process.exit(5);
	}
	require('$FIX/helper-app.js');
	EOF
	echo '{"script": "w.js", "workers": 1, "standby": 2}' >app.json
	touch fail
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy failed: worker 0 failed to come online: exited with status 5' "$LOG"
	wait_for 10 grep -q 'worker 0 (pid [0-9]*) published' "$LOG"
	# The old code started none until the next deploy or standby N.
	wait_for 10 ready 2
}

@test "a standby the watchdog finds hung while standby N waits answers why" {
	# The first standby to boot is ready at once, the other 5 s later.
	cat >w.js <<-EOF
	const fs = require('fs');
	let slow = 0;
	if (process.env.NODESOCKD_WORKER_ID === '')
		try { fs.mkdirSync('fast'); } catch (e) { slow = 5000; }
	setTimeout(() => require('$FIX/helper-app.js'), slow);
	EOF
	echo '{"script": "w.js", "workers": 1, "watchdog": 600}' >app.json
	up
	"$NODESOCKD" standby 2 -c app.json >out 2>&1 &
	client=$!
	echo "$client" >>pids
	wait_for 10 ready 1
	sb=$(standbys standby)
	kill -STOP $sb
	# The old code answered "a standby could not be started".
	wait_for 10 gone "$client"
	run -1 wait "$client"
	[ "$(cat out)" = "nodesockd: standby: a standby (pid ${sb% }) hung: no heartbeat in 600ms" ]
	wait_for 10 gone "${sb% }"
	kill -CONT "${sb% }" 2>/dev/null || true
}

@test "a standby that cannot be started (out of descriptors) answers an error and leaves the daemon not busy" {
	need prlimit util-linux
	up
	fds=$(ls "/proc/$DPID/fd")
	n=0 free=0
	while [ "$free" -lt 2 ]; do
		grep -qx "$n" <<<"$fds" || free=$((free + 1))
		n=$((n + 1))
	done
	prlimit --pid "$DPID" --nofile=$((n - 1)):
	run -1 timeout 10 "$NODESOCKD" standby 1 -c app.json
	[ "$output" = "nodesockd: standby: a standby could not be started" ]
	grep -q 'cannot start a worker: Too many open files' "$LOG"
	prlimit --pid "$DPID" --nofile=1024:
	run -0 timeout 10 "$NODESOCKD" standby 1 -c app.json
	ready 1
	run -0 timeout 10 "$NODESOCKD" stop -c app.json
}

@test "standby is busy during a deploy, and a deploy, a scale and a standby during it; SIGTERM interrupts it" {
	echo '{"script": "slowboot.js", "workers": 1}' >app.json
	export BOOT_MS=3000
	up
	"$NODESOCKD" restart -c app.json &
	echo $! >>pids
	wait_for 10 logged 2 'started'
	run -1 "$NODESOCKD" standby 1 -c app.json
	[ "$output" = "nodesockd: standby: busy: a deploy is under way" ]
	wait_for 15 logged 2 'deploy done'
	"$NODESOCKD" standby 1 -c app.json >standby.out 2>&1 &
	spid=$!
	echo $spid >>pids
	wait_for 10 grep -q 'standby (pid [0-9]*) started' "$LOG"
	for c in restart "scale 2" "standby 0" stop start; do
		run -1 "$NODESOCKD" $c -c app.json
		[ "$output" = "nodesockd: ${c% *}: busy: a change of standbys is under way" ]
	done
	kill -HUP "$DPID"
	wait_for 5 grep -q 'SIGHUP ignored: busy' "$LOG"
	run -0 "$NODESOCKD" status -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$spid"
	st=0
	wait "$spid" || st=$?
	[ "$st" = 1 ]
	[ "$(cat standby.out)" = "nodesockd: standby: interrupted by stop" ]
	wait_for 15 gone "$DPID"
}

@test "standby while stopped sets the count for the next start" {
	up
	"$NODESOCKD" stop -c app.json
	run -0 "$NODESOCKD" standby 2 -c app.json
	[ "$(count_log 'standby \(pid')" = 0 ]
	run -0 "$NODESOCKD" start -c app.json
	wait_for 10 ready 2
}
