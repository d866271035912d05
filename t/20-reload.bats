# nodesockd reload: the config file read again while the daemon runs, on
# the command line it was started with. An error changes nothing and says
# where; timeouts apply at once; what a worker is given at its start
# applies to workers started from now on, and the answer says so; where
# the sockets are cannot change; workers and standby change as by scale
# and standby.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
	conf '"drainDelay": 100'
}

# conf [MORE]: app.json for two workers of app.js, one key a line.
conf() {
	printf '{\n"script": "app.js",\n"workers": 2%s\n}\n' "${1:+,
$1}" >app.json
}

up() {
	start_daemon -c app.json "$@"
	wait_for 10 grep -q 'deploy done' "$LOG"
}

# key K: the running configuration's K, by config.
key() {
	"$NODESOCKD" config -i "$BATS_TEST_TMPDIR/nodesockd.ipc" | node -e \
	    'let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
	    console.log(JSON.parse(s)[process.argv[1]]))' "$1"
}

# rows: the worker column of status, one a line.
rows() {
	"$NODESOCKD" status -c app.json | awk 'NR > 1 { print $1 }' | tr '\n' ' '
}

@test "reload with a syntax error or a bad value answers where, and changes nothing" {
	need node
	up
	pids="$(published_pid 0) $(published_pid 1)"
	printf '{\n"script": "app.js",\n"workers": 3,,\n"drainDelay": 5\n}\n' >app.json
	# With -c the client reads the file too, for the control socket.
	run -1 "$NODESOCKD" reload -c app.json
	[ "$output" = "nodesockd: app.json:3:14: expected string as object key" ]
	run -1 "$NODESOCKD" reload -i nodesockd.ipc
	[ "$output" = "nodesockd: reload: app.json:3:14: expected string as object key" ]
	conf '"drainDelay": 5,
"shutdownTimeout": -1'
	run -1 "$NODESOCKD" reload -c app.json
	[ "$output" = 'nodesockd: reload: app.json:5:20: "shutdownTimeout" must be an integer from 0 to 86400000' ]
	printf '{\n"script": "gone.js",\n"workers": 2\n}\n' >app.json
	run -1 "$NODESOCKD" reload -c app.json
	[[ "$output" = 'nodesockd: reload: app.json:2:11: "script" '*'gone.js: No such file or directory' ]]
	rm app.json
	run -1 "$NODESOCKD" reload -i nodesockd.ipc
	[ "$output" = "nodesockd: reload: app.json: No such file or directory" ]
	# A FIFO in its place: an error, not a daemon hung in open(2).
	mkfifo app.json
	run -1 timeout 10 "$NODESOCKD" reload -i nodesockd.ipc
	[ "$output" = "nodesockd: reload: app.json:1:1: unexpected end of input" ]
	rm app.json
	# Nothing changed: the same workers, the same drainDelay, no scale.
	[ "$(key drainDelay)" = 100 ] && [ "$(key workers)" = 2 ]
	[ "$(published_pid 0) $(published_pid 1)" = "$pids" ]
	[ "$(count_log started)" = 2 ]
	run ! grep -q 'reload:' "$LOG"
	# The daemon serves on, and a good file is taken.
	conf '"drainDelay": 5'
	run -0 "$NODESOCKD" reload -c app.json
	[ "$output" = "" ]
	[ "$(key drainDelay)" = 5 ]
	grep -q 'reload: done' "$LOG"
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "reload of a timeout takes effect for the next deadline" {
	need node
	# A worker that never says "online" while the file "hang" exists.
	printf '%s\n' 'if (!require("fs").existsSync("hang")) require("./app.js");' \
	    'setInterval(() => {}, 1000);' >hangif.js
	printf '{"script": "hangif.js", "onlineTimeout": 60000}\n' >app.json
	up
	printf '{"script": "hangif.js", "onlineTimeout": 500}\n' >app.json
	run -0 "$NODESOCKD" reload -c app.json
	[ "$(key onlineTimeout)" = 500 ]
	touch hang
	# Within the bound of the test only if the new timeout counts.
	run -1 timeout 20 "$NODESOCKD" restart -c app.json
	[[ "$output" = *'no "online" within 500ms'* ]]
}

@test "reload of script and env answers 'restart to apply'; the workers serve on, the next restart uses them" {
	need node
	printf '%s\n' 'process.env.WHICH = "b";' 'require("./app.js");' >b.js
	up
	pids="$(published_pid 0) $(published_pid 1)"
	printf '{"script": "b.js", "workers": 2, "drainDelay": 100, "env": ["HOME"]}\n' >app.json
	run -0 "$NODESOCKD" reload -c app.json
	[ "$output" = "restart to apply: script env" ]
	grep -q 'reload: restart to apply: script env' "$LOG"
	[ "$(published_pid 0) $(published_pid 1)" = "$pids" ]
	[ "$(get app.0.sock /env | node -e 'process.stdin.on("data", d => console.log(JSON.parse(d).env.WHICH))')" = undefined ]
	# Again: nothing more to apply than before the restart.
	run -0 "$NODESOCKD" reload -c app.json
	[ "$output" = "" ]
	run -0 "$NODESOCKD" restart -c app.json
	for i in 0 1; do
		[ "$(get "app.$i.sock" /env | node -e 'process.stdin.on("data", d => { const e = JSON.parse(d).env; console.log(e.WHICH, e.USER) })')" = "b undefined" ]
	done
}

@test "reload refuses a change of tmpDir, socketFile or ipcFile, naming it, and changes nothing" {
	need node
	mkdir run
	up
	for kv in '"tmpDir": "run"' '"socketFile": "w{worker}.sock"' '"ipcFile": "other.ipc"'; do
		conf "\"drainDelay\": 5,
$kv"
		run -1 "$NODESOCKD" reload -i nodesockd.ipc
		k=${kv%%:*}
		[ "$output" = "nodesockd: reload: app.json:5:$((${#k} + 3)): $k cannot change while the daemon runs: stop it first" ]
	done
	[ "$(key drainDelay)" = 100 ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	[ -S nodesockd.ipc ] && [ ! -e other.ipc ] && [ -z "$(ls run)" ]
}

@test "reload scales and keeps standbys as the file says; the command line still wins" {
	need node
	up
	conf '"workers": 3, "standby": 1' && sed -i '3d' app.json
	run -0 "$NODESOCKD" reload -c app.json
	[ "$output" = "" ]
	# Answered once slot 2 serves; the standby comes up too.
	[ "$(get app.2.sock)" = "$(published_pid 2) 2" ]
	wait_for 10 grep -q 'standby (pid [0-9]*) suspended' "$LOG"
	[ "$(rows)" = "0 1 2 - " ]
	# The standby alone: answered once it is ready.
	conf '"standby": 0'
	run -0 "$NODESOCKD" reload -c app.json
	grep -q 'scale: from 3 to 2 workers' "$LOG"
	wait_for 10 eval '[ "$(rows)" = "0 1 " ]'
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	# Started with -w 1: the file's 2 and its changes do not count.
	: >"$LOG"
	conf '"drainDelay": 5'
	up -w 1
	conf '"drainDelay": 7, "workers": 4' && sed -i '3d' app.json
	run -0 "$NODESOCKD" reload -c app.json
	[ "$(key workers) $(key drainDelay)" = "1 7" ]
	[ "$(rows)" = "0 " ]
}

@test "reload is busy during a deploy, and reads the file the daemon was started with from any directory" {
	need node
	conf '"drainDelay": 100'
	sed -i 's/app.js/slowboot.js/' app.json
	export BOOT_MS=2000
	up
	"$NODESOCKD" restart -c app.json &
	echo $! >>pids
	wait_for 10 logged 3 'started'
	run -1 "$NODESOCKD" reload -c app.json
	[ "$output" = "nodesockd: reload: busy: a deploy is under way" ]
	wait_for 15 logged 2 'deploy done'
	sed -i 's/100/9/' app.json
	(cd / && "$NODESOCKD" reload -i "$BATS_TEST_TMPDIR/nodesockd.ipc")
	[ "$(key drainDelay)" = 9 ]
}

@test "a watchdog changed by reload is for workers started from now on" {
	need node
	echo "{\"script\": \"$FIX/helper-app.js\", \"watchdog\": 1500}" >app.json
	up
	p=$(published_pid 0)
	# Off now, for new workers: this one still beats, and is still watched.
	echo "{\"script\": \"$FIX/helper-app.js\"}" >app.json
	run -0 "$NODESOCKD" reload -c app.json
	[ "$output" = "restart to apply: watchdog" ]
	sleep 3
	alive "$p"
	run ! grep -q hung "$LOG"
	[ "$(published_pid 0)" = "$p" ]
}
