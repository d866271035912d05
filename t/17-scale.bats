# nodesockd scale N: slots added and removed while the daemon runs, under
# load behind Nginx too; what it refuses, and what may not run beside it.
load helpers
load nginx

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
	echo '{"script": "app.js", "workers": 2, "onlineTimeout": 3000}' >app.json
}

up() {
	start_daemon -c app.json "$@"
	wait_for 10 grep -q 'deploy done' "$LOG"
}

# rows: the worker column of status, one a line.
rows() {
	"$NODESOCKD" status -c app.json | awk 'NR > 1 { print $1 }' | tr '\n' ' '
}

@test "scale grows: every slot added is published before the answer; shrinks: names first, then drain" {
	up
	p0=$(published_pid 0)
	p1=$(published_pid 1)
	run -0 "$NODESOCKD" scale 4 -c app.json
	[ "$output" = "" ]
	# Answered: both new slots already serve, the old ones untouched.
	for i in 2 3; do
		[ -L "app.$i.sock" ]
		[ "$(get "app.$i.sock")" = "$(published_pid "$i") $i" ]
	done
	[ "$(published_pid 0) $(published_pid 1)" = "$p0 $p1" ]
	[ "$(rows)" = "0 1 2 3 " ]
	[ "$("$NODESOCKD" status -c app.json | awk 'NR > 1 { print $3 }' | sort -u)" = online ]
	run -0 "$NODESOCKD" nginx -c app.json
	[ "$(grep -c 'server unix:' <<<"$output")" = 4 ]
	grep -q 'scale: from 2 to 4 workers' "$LOG"
	p2=$(published_pid 2)
	p3=$(published_pid 3)
	run -0 "$NODESOCKD" scale 1 -c app.json
	# Answered: the names of slots 1 to 3 are gone at once; their workers
	# drain, get "shutdown" and exit; slot 0 serves on.
	[ ! -e app.1.sock ] && [ ! -L app.1.sock ] && [ ! -L app.2.sock ] && [ ! -L app.3.sock ]
	[ "$(get app.0.sock)" = "$p0 0" ]
	[ "$(rows)" = "0 " ]
	for p in $p1 $p2 $p3; do
		wait_for 10 gone "$p"
		grep -q "worker [123] (pid $p) draining" "$LOG"
		grep -q "app [123] $p message \"shutdown\"" "$LOG"
		grep -q "worker [123] (pid $p) exited with status 0" "$LOG"
	done
	[ "$(published_pid 0)" = "$p0" ]
	# Their private sockets went with them; nothing but slot 0's is left.
	[ "$(ls app.*.sock*)" = "$(printf 'app.0.sock\napp.0.sock.%s' "$p0")" ]
	# Grown again, a slot gets a new worker, not an old one back.
	run -0 "$NODESOCKD" scale 2 -c app.json
	[ "$(published_pid 1)" != "$p1" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	# The same count again changes nothing.
	run -0 "$NODESOCKD" scale 2 -c app.json
	[ "$(count_log 'started')" = 5 ]
}

@test "scale refuses a bad count, a pattern without {worker}, a name too long or taken, and changes nothing" {
	up
	for n in 0 257 x 2x "" 99999999999999999999; do
		run -1 "$NODESOCKD" scale "$n" -c app.json
		[ "$output" = "nodesockd: scale needs N, from 1 to 256" ]
	done
	run -1 "$NODESOCKD" scale -c app.json
	[ "$output" = "nodesockd: scale needs N, from 1 to 256" ]
	run -1 "$NODESOCKD" scale -1 -c app.json
	[ "$output" = "nodesockd: unknown option '-1' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" scale 2 3 -c app.json
	[ "$output" = "nodesockd: unexpected argument '3' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" scale 2 -u -c app.json
	[ "$output" = "nodesockd: --suspended goes with start or restart" ]
	run -1 sh -c "printf 'scale\nscale 0\nscale 300\nscale two\nscale 2 3\nstatus now\nstart later\n' | '$NODESOCKD' ctl -c app.json"
	for i in 0 1 2 3 4; do
		[ "${lines[$i]}" = "error: usage: scale N, from 1 to 256" ]
	done
	[ "${lines[5]}" = "error: usage: status [--json]" ]
	[ "${lines[6]}" = "error: usage: start [suspended]" ]
	[ "${#lines[@]}" = 7 ]
	# A regular file where a new public name goes: refused, and kept.
	echo precious >app.3.sock
	run -1 "$NODESOCKD" scale 4 -c app.json
	[ "$output" = "nodesockd: scale: cannot scale: $PWD/app.3.sock exists and is not a symlink" ]
	[ "$(cat app.3.sock)" = precious ]
	[ ! -e app.2.sock ]
	[ "$(rows)" = "0 1 " ]
	[ "$(count_log 'started')" = 2 ]
	rm app.3.sock
	"$NODESOCKD" stop -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"

	# One socket, no {worker}: one worker only.
	echo '{"script": "app.js", "socketFile": "app.sock"}' >app.json
	: >"$LOG"
	up
	run -1 "$NODESOCKD" scale 2 -c app.json
	[ "$output" = "nodesockd: scale: cannot scale: socketFile app.sock has no {worker}" ]
	run -0 "$NODESOCKD" scale 1 -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"

	# tmpDir as long as lets slot 9's name and pid fit in sun_path, but
	# not slot 10's.
	d=$PWD/$(printf '%*s' $((88 - ${#PWD} - 1)) '' | tr ' ' d)
	[ "${#d}" = 88 ]
	mkdir "$d"
	echo "{\"script\": \"app.js\", \"tmpDir\": \"$d\"}" >app.json
	: >"$LOG"
	up
	run -1 "$NODESOCKD" scale 11 -c app.json
	[ "$output" = "nodesockd: scale: cannot scale: $d/app.10.sock.PID: socket path longer than 107 bytes" ]
	[ "$(rows)" = "0 " ]
	run -0 "$NODESOCKD" scale 2 -c app.json
	[ "$(rows)" = "0 1 " ]
}

@test "scale publishes a ready standby in the new slot at once and starts another behind it" {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 1, \"standby\": 1}" >app.json
	up
	wait_for 10 grep -q 'standby (pid [0-9]*) suspended' "$LOG"
	sb=$(sed -n 's/.*standby (pid \([0-9]*\)) suspended.*/\1/p' "$LOG" | head -1)
	run -0 "$NODESOCKD" scale 2 -c app.json
	[ "$(published_pid 1)" = "$sb" ]
	grep -q "worker 1 (pid $sb) scaled up; standby (pid $sb) published as $PWD/app.1.sock in" "$LOG"
	[ "$(get app.1.sock)" = "$sb 1" ]
	wait_for 10 logged 2 'standby \(pid [0-9]*\) suspended'
	"$NODESOCKD" status -c app.json | grep -q '^-  .* standby '
}

@test "a slot added whose worker fails: an error, the slot retries on its back-off until scaled away" {
	cat >failhigh.js <<-'EOF'
	// Slots 2 and up fail at boot; the others (and standbys) are app.js.
	if (Number(process.env.NODESOCKD_WORKER_ID) >= 2) process.exit(3);
	require('./app.js');
	EOF
	echo '{"script": "failhigh.js", "workers": 2}' >app.json
	up
	run -1 "$NODESOCKD" scale 3 -c app.json
	[ "$output" = "nodesockd: scale: worker 2 failed to come online: exited with status 3" ]
	# Slots 0 and 1 serve on; slot 2 stays, and tries again and again.
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(rows)" = "0 1 2 " ]
	wait_for 10 logged 3 'worker 2 \(pid [0-9]*\) started'
	grep -q 'worker 2 restarting in [0-9]*ms' "$LOG"
	# Not busy any more: scale takes it away, and it is not started again.
	run -0 "$NODESOCKD" scale 2 -c app.json
	[ "$(rows)" = "0 1 " ]
	n=$(count_log 'worker 2 \(pid [0-9]*\) started')
	sleep 1
	[ "$(count_log 'worker 2 \(pid [0-9]*\) started')" = "$n" ]
	[ ! -L app.2.sock ]
}

@test "a slot added that cannot be started (out of descriptors) answers an error and leaves the daemon not busy" {
	need prlimit util-linux
	echo '{"script": "app.js", "workers": 1}' >app.json
	up
	# The descriptors it has, and one for the client: no socketpair.
	fds=$(ls "/proc/$DPID/fd")
	n=0 free=0
	while [ "$free" -lt 2 ]; do
		grep -qx "$n" <<<"$fds" || free=$((free + 1))
		n=$((n + 1))
	done
	prlimit --pid "$DPID" --nofile=$((n - 1)):
	run -1 timeout 10 "$NODESOCKD" scale 2 -c app.json
	[ "$output" = "nodesockd: scale: worker 1 could not be started" ]
	grep -q 'cannot start a worker: Too many open files' "$LOG"
	# Not busy: scale and a stop are taken, and the daemon still serves.
	prlimit --pid "$DPID" --nofile=1024:
	run -0 timeout 10 "$NODESOCKD" scale 1 -c app.json
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	run -0 timeout 10 "$NODESOCKD" stop -c app.json
}

@test "a shrink that leaves every slot published lets an earlier daemon's workers go" {
	cat >w.js <<-'EOF'
	// Slot 1 fails at boot while the file "fail" is here.
	if (require('fs').existsSync('fail') && process.env.NODESOCKD_WORKER_ID === '1')
		process.exit(3);
	require('./app.js');
	EOF
	echo '{"script": "w.js", "workers": 2, "drainDelay": 100}' >app.json
	up
	old="$(published_pid 0) $(published_pid 1)"
	kill -KILL "$DPID"
	wait_for 10 gone "$DPID"
	touch fail
	: >"$LOG"
	start_daemon -c app.json
	# Its deploy fails on slot 1; slot 0 is published on its own, and the
	# earlier daemon's workers serve on, for slot 1 is not.
	wait_for 15 grep -q 'worker 0 (pid [0-9]*) published' "$LOG"
	grep -q 'still runs' "$LOG"
	for p in $old; do alive "$p"; done
	run -0 "$NODESOCKD" scale 1 -c app.json
	for p in $old; do wait_for 10 gone "$p"; done
	grep -q 'of an earlier nodesockd: stopping it' "$LOG"
}

@test "a failed promotion in one new slot does not restart the standby published in the next" {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 1, \"standby\": 2}" >app.json
	up
	wait_for 10 logged 2 'standby \(pid [0-9]*\) suspended'
	# A directory where slot 1's temporary name goes: its publish fails.
	mkdir app.1.sock.new
	run -1 "$NODESOCKD" scale 3 -c app.json
	[[ "$output" == "nodesockd: scale: worker 1 cannot be published: symlink $PWD/app.1.sock.new: "* ]]
	p2=$(published_pid 2)
	[ -n "$p2" ]
	grep -q "worker 2 (pid $p2) scaled up; standby (pid $p2) published" "$LOG"
	sleep 1
	[ "$(published_pid 2)" = "$p2" ]
	[ "$(count_log 'worker 2 \(pid [0-9]*\) started')" = 0 ]
	! grep -q "worker 2 (pid $p2) draining" "$LOG"
	run -0 "$NODESOCKD" scale 1 -c app.json
	rmdir app.1.sock.new
}

@test "a slot removed whose worker the watchdog found hung: the worker is killed, not drained" {
	# The helper's worker (it sends the heartbeats), booting slowly while
	# the file "slow" is here: the hung one's replacement is not yet online.
	cat >w.js <<-EOF
	setTimeout(() => require('$FIX/helper-app.js'), require('fs').existsSync('slow') ? 8000 : 0);
	EOF
	echo '{"script": "w.js", "workers": 2, "watchdog": 3000, "shutdownTimeout": 20000}' >app.json
	up
	p=$(published_pid 1)
	touch slow
	kill -STOP "$p"
	wait_for 10 grep -q "worker 1 (pid $p) hung" "$LOG"
	run -0 "$NODESOCKD" scale 1 -c app.json
	wait_for 5 gone "$p"
	! grep -q "worker 1 (pid $p) draining" "$LOG"
	grep -q "worker 1 (pid $p) was killed by signal 9" "$LOG"
}

@test "scale is busy during a deploy, a deploy and a scale during a scale; SIGTERM interrupts it" {
	echo '{"script": "slowboot.js", "workers": 1}' >app.json
	export BOOT_MS=3000
	up
	"$NODESOCKD" restart -c app.json &
	echo $! >>pids
	wait_for 10 logged 2 'started'
	run -1 "$NODESOCKD" scale 2 -c app.json
	[ "$output" = "nodesockd: scale: busy: a deploy is under way" ]
	wait_for 15 logged 2 'deploy done'
	"$NODESOCKD" scale 3 -c app.json >scale.out 2>&1 &
	spid=$!
	echo $spid >>pids
	wait_for 10 logged 4 'started'
	for c in restart "scale 1" stop start; do
		run -1 "$NODESOCKD" $c -c app.json
		[ "$output" = "nodesockd: ${c% *}: busy: a scale is under way" ]
	done
	kill -HUP "$DPID"
	wait_for 5 grep -q 'SIGHUP ignored: busy' "$LOG"
	# status, nginx and resume still answer.
	run -0 "$NODESOCKD" status -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$spid"
	st=0
	wait "$spid" || st=$?
	[ "$st" = 1 ]
	[ "$(cat scale.out)" = "nodesockd: scale: interrupted by stop" ]
	wait_for 15 gone "$DPID"
}

@test "scale while stopped sets the count for the next start" {
	up
	"$NODESOCKD" stop -c app.json
	run -0 "$NODESOCKD" scale 3 -c app.json
	[ "$(rows)" = "0 1 2 " ]
	[ "$("$NODESOCKD" status -c app.json | awk 'NR > 1 { print $3 }' | sort -u)" = stopped ]
	run -0 "$NODESOCKD" start -c app.json
	for i in 0 1 2; do [ "$(get "app.$i.sock")" = "$(published_pid "$i") $i" ]; done
	grep -q 'deploy done: 3 workers online' "$LOG"
}

@test "scale during a suspended deploy starts the new slot suspended, and resume lets it serve" {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 1}" >app.json
	up
	"$NODESOCKD" restart --suspended -c app.json
	run -0 "$NODESOCKD" scale 2 -c app.json
	grep -q 'worker 1 (pid [0-9]*) started suspended' "$LOG"
	"$NODESOCKD" status -c app.json | grep -q '^1 .* suspended '
	run -0 "$NODESOCKD" resume -c app.json
	[ "$output" = "resumed 2 workers" ]
	[ "$(get app.1.sock | cut -d' ' -f2)" = 1 ]
}

# upstream_lines N: rewrite the upstream block of nginx/nginx.conf for N
# public names, and have Nginx take it; waits for its old worker to go.
upstream_lines() {
	local n
	n=$(nginx_exits)
	awk -v block="$(upstream "$1")" '
		/^[ \t]*upstream app \{/ { print block; skip = 1; next }
		skip && /^[ \t]*\}/ { skip = 0; next }
		!skip' nginx/nginx.conf >nginx/new.conf
	mv nginx/new.conf nginx/nginx.conf
	kill -HUP "$NPID"
	wait_for 15 nginx_exited "$n"
}

# nginx_exits: how many Nginx worker processes have exited.
nginx_exits() {
	grep -c 'worker process [0-9]* exited' nginx/error.log || true
}

nginx_exited() {
	[ "$(nginx_exits)" -gt "$1" ]
}

@test "scale up and down under load behind Nginx, in the README's order: no request fails" {
	need nginx
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 2}" >app.json
	up
	nginx_up "$(upstream 2)"
	load_start
	# Grow nodesockd first, then add the server lines.
	run -0 "$NODESOCKD" scale 4 -c app.json
	upstream_lines 4
	sleep 1
	# Remove the lines first, then shrink.
	upstream_lines 1
	run -0 "$NODESOCKD" scale 1 -c app.json
	sleep 1
	load_stop
	only_200
	seen=$(pids_seen)
	for i in 0 1 2 3; do grep -q -x "$(published_pid "$i")" <<<"$seen"; done
	! grep -E '\[(error|warn)\]' nginx/error.log
}
