# nodesockd under an init: readiness told to systemd (sd_notify datagrams,
# received here by t/fixtures/notify.py as systemd would) and to s6 (its
# notification fd, with the real s6-svscan and s6-svwait), deploys and
# stops through the real s6 and runit under load behind Nginx, and
# nodesockd as PID 1 of a PID namespace, as in a container.
load helpers
load nginx

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# receiver ADDR OUT [SOCK...]: notify.py in the background, bound.
receiver() {
	python3 "$FIX/notify.py" "$@" 3>&- &
	echo "$!" >>pids
	wait_for 5 test -e "${2/#-/${1#@}}.bound"
}

# kids PID [NAME]: the children of PID (named NAME), from /proc.
kids() {
	local p
	for p in /proc/[0-9]*/stat; do
		awk -v d="$1" -v n="${2:-}" '$4 == d && (n == "" || $2 == "(" n ")") { print $1 }' "$p" 2>/dev/null
	done
}

# told OUT SAID: what each datagram in OUT said is SAID, one letter
# each: Y READY=1, R RELOADING=1, S STOPPING=1, then a space; datagrams
# with STATUS alone are left out.
told() {
	[ "$(awk '{ s = ""; for (i = 1; i <= NF; i++) {
		if ($i == "RELOADING=1") s = s "R"; if ($i == "READY=1") s = s "Y"
		if ($i == "STOPPING=1") s = s "S" }
	    if (s != "") printf "%s ", s }' "$1")" = "$2" ]
}

# fullqueue OUT DELAY STEPS: in a network namespace of its own, whose
# queue of datagrams holds one (every datagram after the first finds it
# full), notify.py on n.sock writes to OUT ("-": never reads) from DELAY s
# on; the daemon runs on app.json, its pid in $d, then the sh STEPS; then
# it is waited for ("daemon exit N" in ns.out) and the receiver stopped.
fullqueue() {
	cat >ns.sh <<-EOF
	echo 0 >/proc/sys/net/unix/max_dgram_qlen
	NOTIFY_DELAY=$2 python3 "$FIX/notify.py" "$PWD/n.sock" $1 &
	r=\$!
	for i in \$(seq 50); do [ -e ${1/#-/n.sock}.bound ] && break; sleep 0.1; done
	: >>daemon.log	# before the daemon's shell makes it: the test may look at once
	NOTIFY_SOCKET=$PWD/n.sock "$NODESOCKD" -c app.json 3>&- >>daemon.log 2>&1 &
	d=\$!
	$3
	wait \$d
	echo "daemon exit \$?"
	kill \$r
	EOF
	timeout 60 unshare --net sh ns.sh >ns.out 2>&1
	cat ns.out daemon.log
	[ "$1" = - ] || cat "$1"
}

@test "systemd: READY=1 once every worker answers; RELOADING=1 then READY=1 around each deploy, failed or not; STOPPING=1 at SIGTERM" {
	cp "$FIX/slowboot.js" app.js
	echo '{"script": "app.js", "workers": 2, "drainDelay": 100, "shutdownTimeout": 2000}' >app.json
	receiver "$PWD/notify.sock" got "$PWD/app.0.sock" "$PWD/app.1.sock"
	BOOT_MS=1000 NOTIFY_SOCKET=$PWD/notify.sock start_daemon -c app.json
	wait_for 15 grep -q 'READY=1' got
	"$NODESOCKD" restart -c app.json
	wait_for 5 told got "Y R Y "
	# A deploy whose workers die: the old ones serve on, and it is over.
	echo 'process.exit(3)' >app.js
	run "$NODESOCKD" restart -c app.json
	[ "$status" = 1 ]
	wait_for 5 told got "Y R Y R Y "
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	wait_for 5 told got "Y R Y R Y S "
	cat got
	# Each READY=1 came when both public names answered; the first one
	# after the two workers' boot, never before.
	[ "$(grep -c 'READY=1' got)" = 3 ]
	[ "$(grep -c 'READY=1.* answering 2/2 ' got)" = 3 ]
	grep -q '^READY=1 MONOTONIC_USEC=[0-9]* STATUS=2 workers online, 0 restarting answering 2/2' got
	grep -q 'STOPPING=1 MONOTONIC_USEC=[0-9]* STATUS=0 workers online, 0 restarting now' got
	# MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds: within 10 s of
	# the receiver's clock.
	awk '{ for (i = 1; i < NF; i++) { if ($i ~ /^MONOTONIC_USEC=/) m = substr($i, 16);
	    if ($i == "now") n = $(i + 1) }
	    d = n - m; if (d < 0 || d > 10000000) { print "off: " $0; bad = 1 } }
	    END { exit bad }' got
}

@test "systemd: STOPPING=1 at SIGTERM even with no worker left to stop" {
	cp "$FIX/app.js" app.js
	echo '{"script": "app.js"}' >app.json
	receiver "$PWD/notify.sock" got
	NOTIFY_SOCKET=$PWD/notify.sock start_daemon -c app.json
	wait_for 15 grep -q 'READY=1' got
	"$NODESOCKD" stop -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	wait_for 5 told got "Y S "
	tail -n 1 got | grep -q '^STOPPING=1 .*STATUS=0 workers online, 0 restarting'
}

@test "systemd: a failed deploy while a slot is down still ends the reload, with READY=1 for the workers there are" {
	cp "$FIX/app.js" app.js
	echo '{"script": "app.js", "workers": 2, "drainDelay": 100}' >app.json
	receiver "$PWD/notify.sock" got
	NOTIFY_SOCKET=$PWD/notify.sock start_daemon -c app.json
	wait_for 15 grep -q 'READY=1' got
	# Broken code on disk, and worker 1 dies: its slot restarts in vain.
	echo 'process.exit(3)' >app.js
	kill -KILL "$(published_pid 1)"
	wait_for 5 grep -q 'STATUS=1 worker online, 1 restarting' got
	run "$NODESOCKD" restart -c app.json
	[ "$status" = 1 ]
	wait_for 5 told got "Y R Y "
	cat got
	tail -n 1 got | grep -q '^READY=1 .*STATUS=1 worker online, 1 restarting'
}

@test "systemd: a datagram the init's full queue refused is told again once it reads" {
	need unshare util-linux
	echo "{\"script\": \"$FIX/app.js\"}" >app.json
	# Read from 3 s on: the first datagram (starting) waits in the queue,
	# READY=1 finds it full.
	fullqueue got 3 "for i in \$(seq 100); do grep -q 'READY=1' got 2>/dev/null && break; sleep 0.1; done
	kill -TERM \$d"
	head -n 1 got | grep -q '^MONOTONIC_USEC=[0-9]* STATUS=0 workers online, 1 restarting'
	grep -q '^READY=1 MONOTONIC_USEC=[0-9]* STATUS=1 worker online, 0 restarting' got
}

@test "systemd: a refused datagram is told again as it was: STOPPING=1 is not lost, nor READY=1 said while stopping" {
	need unshare util-linux
	echo "{\"script\": \"$FIX/stubborn.js\", \"shutdownTimeout\": 10000}" >app.json
	# The queue holds the first datagram until 4 s; the worker is up
	# before then, and SIGTERM comes while READY=1 is still refused. The
	# stubborn worker keeps the daemon up for the retries; a second
	# SIGTERM kills it.
	fullqueue got 4 "for i in \$(seq 100); do grep -q 'deploy done' daemon.log && break; sleep 0.05; done
	kill -TERM \$d
	for i in \$(seq 100); do grep -q 'STOPPING=1' got 2>/dev/null && break; sleep 0.1; done
	kill -TERM \$d"
	grep -q 'deploy done' daemon.log
	grep -q '^STOPPING=1 MONOTONIC_USEC=[0-9]* STATUS=0 workers online, 0 restarting' got
	run ! grep -q 'READY=1' got
}

@test "systemd: an abstract NOTIFY_SOCKET (@name) is told too, and no worker inherits NOTIFY_SOCKET" {
	name="@nodesockd-test-$$-$BATS_TEST_NUMBER"
	echo "{\"script\": \"$FIX/app.js\"}" >app.json
	receiver "$name" got "$PWD/app.0.sock"
	NOTIFY_SOCKET=$name start_daemon -c app.json
	wait_for 15 grep -q 'READY=1.* answering 1/1' got
	get app.0.sock /env | node -e '
		const e = JSON.parse(require("fs").readFileSync(0)).env;
		if ("NOTIFY_SOCKET" in e) process.exit(1);
		if (!e.LISTEN_ON) process.exit(2);'
}

@test "an init that does not read the datagrams never blocks the daemon: it deploys and answers on" {
	need unshare util-linux
	echo "{\"script\": \"$FIX/app.js\", \"drainDelay\": 0}" >app.json
	fullqueue - 0 "for i in \$(seq 150); do grep -q 'deploy done' daemon.log && break; sleep 0.1; done
	for i in 1 2 3; do \"$NODESOCKD\" restart -c app.json || echo \"restart \$i failed\"; done
	\"$NODESOCKD\" status -c app.json >status.out || echo 'status failed'
	kill -TERM \$d"
	[ "$(cat ns.out)" = "daemon exit 0" ]
	[ "$(grep -c 'deploy done' daemon.log)" = 4 ]
	grep -q '^0 ' status.out
}

# s6_up: the example s6 service in scan/app, its workers slowboot.js
# (up 1.5 s after they start), under the real s6-svscan ($SCAN, the pid).
s6_up() {
	cp "$FIX/slowboot.js" app.js
	echo '{"script": "app.js", "workers": 2, "drainDelay": 200, "shutdownTimeout": 3000}' >app.json
	service_dir s6 scan/app
	[ "$(cat scan/app/notification-fd)" = 3 ]
	LOG=$PWD/svscan.log
	s6-svscan scan 3>&- >>"$LOG" 2>&1 &
	SCAN=$!
	echo "$SCAN" >>pids
}

@test "s6: s6-svwait -U returns once the workers answer; s6-svc -h deploys under load with no failed request; s6-svc -d stops it all" {
	need s6-svscan s6
	need nginx
	s6_up
	wait_for 10 s6-svok scan/app
	# -U is up and ready: it must not return when nodesockd is merely up.
	timeout 30 s6-svwait -U -t 25000 scan/app
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	DPID=$(s6-svstat -o pid scan/app)
	echo "$DPID" >>pids
	old=$(published 2)
	nginx_up "$(upstream 2)"
	load_start
	s6-svc -h scan/app
	wait_for 20 logged 2 'deploy done'
	load_stop
	only_200
	[ "$(published 2)" != "$old" ]
	s6-svc -d scan/app
	timeout 30 s6-svwait -D -t 25000 scan/app
	gone "$DPID"
	for p in $old $(published 2); do wait_for 10 gone "$p"; done
	s6-svscanctl -t scan
	wait_for 10 gone "$SCAN"
	! ls app.*.sock* 2>/dev/null
}

@test "runit: sv hup deploys under load with no failed request; sv down stops it all, no process left" {
	need runsv runit
	need nginx
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 2, \"drainDelay\": 200, \"shutdownTimeout\": 3000}" >app.json
	service_dir runit svc
	LOG=$PWD/runsv.log
	runsv svc 3>&- >>"$LOG" 2>&1 &
	SPID=$!
	echo "$SPID" >>pids
	wait_for 15 logged 1 'deploy done'
	DPID=$(cat svc/supervise/pid)
	echo "$DPID" >>pids
	old=$(published 2)
	nginx_up "$(upstream 2)"
	load_start
	sv hup "$PWD/svc"
	wait_for 20 logged 2 'deploy done'
	load_stop
	only_200
	new=$(published 2)
	[ "$new" != "$old" ]
	sv -w 30 down "$PWD/svc"
	gone "$DPID"
	for p in $old $new; do wait_for 10 gone "$p"; done
	! ls app.*.sock* 2>/dev/null
}

@test "as PID 1 of a PID namespace: a worker's double-forked grandchild is reaped; SIGTERM stops every worker in order and exits 0" {
	need unshare util-linux
	cat >w.js <<-'EOF'
	// Online, then a grandchild that outlives its parent and exits: it
	// is re-parented to PID 1, which must reap it.
	const { spawn } = require('child_process');
	require('http').createServer((q, r) => r.end('ok\n')).listen(process.env.LISTEN_ON, () => {
		process.send('online');
		setInterval(() => spawn('sh', ['-c', 'sleep 0.2 & exit 0'], { stdio: 'ignore' }), 300);
	});
	process.on('message', (m) => { if (m === 'shutdown') process.exit(0); });
	EOF
	echo '{"script": "w.js", "workers": 2, "shutdownTimeout": 3000}' >app.json
	# Its log is ns.log, not $LOG: the pids in it are the namespace's,
	# which teardown must not take for ours.
	unshare --pid --fork --mount-proc "$NODESOCKD" -c app.json 3>&- >>ns.log 2>&1 &
	upid=$!
	wait_for 15 grep -q 'deploy done' ns.log
	DPID=$(kids "$upid")
	echo "$DPID" >>pids
	echo "$upid" >>pids
	[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$DPID/status")" = 1 ]
	sleep 3
	# Some ten grandchildren have come and gone: none is left a zombie.
	zombies=$(for p in /proc/[0-9]*; do awk -v d="$DPID" '$4 == d && $3 == "Z"' "$p/stat" 2>/dev/null; done)
	[ -z "$zombies" ] || { echo "$zombies"; false; }
	# (The log has their pids in the namespace: these are ours.)
	workers=$(kids "$DPID" node)
	[ "$(echo $workers | wc -w)" = 2 ]
	kill -TERM "$DPID"
	wait_for 15 gone "$upid"
	wait "$upid"
	for p in $workers; do gone "$p"; done
	[ "$(grep -c -E '^nodesockd: worker [01] \(pid [0-9]*\) stopping$' ns.log)" = 2 ]
	grep -q '^nodesockd: stopped$' ns.log
}

@test "a command: its program from PATH, its arguments as given, run in the config file's directory; Node's channel variables only when the program is node" {
	mkdir app elsewhere
	cp "$FIX/raw.sh" "$FIX/raw.js" "$FIX/app.js" app/
	echo '{"command": ["sh", "raw.sh", "two words", "", "-x"], "workers": 2}' >app/app.json
	cd elsewhere
	# Channel variables the daemon was given (by a Node parent) are not
	# passed on either.
	NODE_CHANNEL_FD=9 NODE_CHANNEL_SERIALIZATION_MODE=advanced \
	    ONLINE='"online"' SHUTDOWN='"shutdown"' start_daemon -c ../app/app.json
	wait_for 10 logged 1 'deploy done: 2 workers online'
	# (Paths are joined, not made canonical.)
	base=$BATS_TEST_TMPDIR/elsewhere/../app
	logged 1 "^nodesockd: version .*, 2 workers of sh, control socket $base/nodesockd.ipc$"
	cd ../app
	for i in 0 1; do
		p=$(published_pid "$i")
		[ "$(get "app.$i.sock")" = "$p $i" ]
		[ "$(cat "argv.$i.$p")" = $'two words\n\n-x' ]
		grep -q -x "NODESOCKD_WORKER_ID=$i" "env.$i.$p"
		grep -q -x "LISTEN_ON=$base/app.$i.sock.$p" "env.$i.$p"
		run ! grep '^NODE_CHANNEL' "env.$i.$p"
	done
	"$NODESOCKD" restart -c app.json
	"$NODESOCKD" stop -c app.json
	[ "$(count_log 'exited with status 0$')" = 4 ]
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	# node, by name or by path, or under a name beginning with node (as
	# Debian's nodejs), is a Node worker: app.js says "online" with
	# process.send(), which only Node's channel variables give it.
	ln -s "$(command -v node)" node20
	for node in node "$(command -v node)" ./node20; do
		echo "{\"command\": [\"$node\", \"app.js\"]}" >app.json
		start_daemon -c app.json
		wait_for 10 logged 1 'deploy done: 1 worker online'
		[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
		kill -TERM "$DPID"
		wait_for 10 gone "$DPID"
		: >"$LOG"
	done
}

@test "with env, a worker gets each name listed once, its first entry, and never an entry without '='" {
	cp "$ROOT/example/python/app.py" .
	echo '{"command": ["python3", "app.py"], "env": ["KEEP", "NODE_ENV", "KEEP"]}' >app.json
	LOG=$BATS_TEST_TMPDIR/daemon.log
	DUPENV='KEEP KEEP=1 KEEPX=2 KEEP=3 DROP=4 NODE_ENV=a NODE_ENV=b' \
	    python3 "$FIX/dupenv.py" "$NODESOCKD" -c app.json 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>pids
	wait_for 10 logged 1 'deploy done'
	# What it was exec'd with, as it was: no shell or Node in between.
	tr '\0' '\n' <"/proc/$(published_pid 0)/environ" | grep -v '^NODESOCKD_\|^LISTEN_ON=' >env.out
	cat env.out
	# (PATH as python3 was given it: pyenv's shim changes it.)
	[ "$(grep -c '^PATH=' env.out)" = 1 ]
	[ "$(grep -v '^PATH=' env.out)" = $'KEEP=1\nNODE_ENV=a' ]
}

@test "a command whose directory is gone: the worker says why, and its slot comes back with the directory" {
	mkdir app run
	cp "$FIX/raw.sh" "$FIX/raw.js" app/
	echo '{"command": ["sh", "raw.sh"], "tmpDir": "../run"}' >app/app.json
	ONLINE='"online"' SHUTDOWN='"shutdown"' start_daemon -c app/app.json
	wait_for 10 logged 1 'deploy done'
	old=$(published_pid 0)
	mv app app.gone
	kill -KILL "$old"
	wait_for 10 logged 2 "^nodesockd: chdir $PWD/app: No such file or directory$"
	logged 2 '^nodesockd: worker 0 failed to come online: exited with status 127$'
	mv app.gone app
	wait_for 10 republished 0 "$old"
	[ "$(get run/app.0.sock)" = "$(published_pid 0) 0" ]
}

@test "a worker in Python (example/python, standard library only) deploys under load behind Nginx with no failed request" {
	need nginx
	cp "$ROOT/example/python/app.py" "$ROOT/example/python/nodesockd.json" .
	LOG=$PWD/daemon.log
	start_daemon -c nodesockd.json
	wait_for 15 logged 1 'deploy done'
	old=$(published 2)
	nginx_up "$(upstream 2)"
	load_start
	for i in 1 2 3; do "$NODESOCKD" restart -c nodesockd.json; done
	load_stop
	only_200
	# Every worker replaced answered, and each old one finished and exited 0.
	for p in $old; do
		wait_for 10 gone "$p"
		logged 1 "^nodesockd: worker [01] \\(pid $p\\) exited with status 0$"
	done
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	[ "$(count_log 'exited with status 0$')" = 8 ]
}
