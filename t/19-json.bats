# status --json and config: what a monitor and a deploy script read, one
# JSON object each, which node's JSON.parse and the project's json.c both
# take; and config's output taken back as a config file.
load helpers

setup_file() {
	cc -std=c99 -Wall -Wextra -pedantic -D_XOPEN_SOURCE=700 \
	    -I"$BATS_TEST_DIRNAME/.." -o "$BATS_FILE_TMPDIR/jsontest" \
	    "$BATS_TEST_DIRNAME/jsontest.c" "$BATS_TEST_DIRNAME/../json.c"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
}

up() {
	start_daemon -c app.json "$@"
	wait_for 10 grep -q 'deploy done' "$LOG"
}

# js FILE EXPR: EXPR of j, FILE parsed by JSON.parse.
js() {
	node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	    console.log(eval(process.argv[2]))' "$1" "$2"
}

# parses FILE: both parsers take it whole.
parses() {
	node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$1"
	"$BATS_FILE_TMPDIR/jsontest" "$1" 4096 >/dev/null
}

# standby_ready: status --json shows a standby ready.
standby_ready() {
	"$NODESOCKD" status --json -c app.json >s.json && [ "$(js s.json 'j.standby.filter(s => s.state == "standby").length')" = 1 ]
}

@test "status --json: one object of workers, standbys, deploy and version; strings escaped" {
	need node
	# A socket name with a quote and a backslash, which JSON must escape.
	cat >app.json <<-EOF2
	{ "script": "app.js", "workers": 2, "standby": 1, "watchdog": 5000,
	  "socketFile": "a\"b\\\\{worker}.sock" }
	EOF2
	up
	wait_for 10 standby_ready
	run -0 "$NODESOCKD" status --json -c app.json
	echo "$output" >s.json
	parses s.json
	# A row a line: the two slots and the standby between the brackets.
	[ "$(wc -l <s.json)" = 6 ]
	[ "$(js s.json 'j.version')" = "$("$NODESOCKD" -V | cut -d' ' -f2)" ]
	[ "$(js s.json 'j.deploy')" = null ]
	[ "$(js s.json 'j.workers.length')" = 2 ]
	[ "$(js s.json 'j.workers[1].worker')" = 1 ]
	[ "$(js s.json 'j.workers[0].pid')" = "$(published_pid 0)" ]
	[ "$(js s.json 'j.workers[0].state')" = online ]
	[ "$(js s.json 'j.workers[0].socket')" = "$PWD/a\"b\\0.sock" ]
	[ "$(js s.json 'j.workers[0].restarts')" = 0 ]
	[ "$(js s.json 'j.workers[0].last_exit')" = null ]
	[ "$(js s.json 'typeof j.workers[0].uptime_ms')" = number ]
	[ "$(js s.json 'typeof j.workers[0].heartbeat_ms')" = number ]
	[ "$(js s.json 'j.standby.length')" = 1 ]
	[ "$(js s.json 'j.standby[0].worker')" = null ]
	[ "$(js s.json 'j.standby[0].socket')" = null ]
	# A death: the slot says how its worker ended and counts the restart.
	p=$(published_pid 0)
	kill -KILL "$p"
	wait_for 10 republished 0 "$p"
	"$NODESOCKD" status --json -c app.json >s.json
	parses s.json
	[ "$(js s.json 'j.workers[0].last_exit')" = "killed by signal 9 (Killed)" ]
	[ "$(js s.json 'j.workers[0].restarts')" = 1 ]
	[ "$(js s.json 'j.workers[1].last_exit')" = null ]
	# The same over a control line, the text status as it was.
	run -0 sh -c 'printf "status --json\nstatus\n" | "$0" ctl -c app.json' "$NODESOCKD"
	[ "${lines[0]}" = '{"version":"'"$(js s.json 'j.version')"'","deploy":null,"workers":[' ]
	[[ "${lines[7]}" == "worker pid     state      uptime  restarts socket heartbeat" ]]
}

@test "status --json: a deploy under way, a slot down, and the usage" {
	need node
	echo '{ "script": "slowboot.js", "workers": 2, "onlineTimeout": 5000 }' >app.json
	BOOT_MS=200 up
	BOOT_MS=3000 "$NODESOCKD" restart --suspended -c app.json >restart.out 2>&1 &
	rpid=$!
	echo "$rpid" >>"$BATS_TEST_TMPDIR/pids"
	wait_for 10 logged 4 'started'
	"$NODESOCKD" status --json -c app.json >s.json
	parses s.json
	[ "$(js s.json 'JSON.stringify(j.deploy)')" = '{"suspended":true,"pending":2}' ]
	# Four rows: each slot's published worker and its replacement.
	[ "$(js s.json 'j.workers.map(w => w.state).join(" ")')" = "online starting online starting" ]
	wait_for 10 gone "$rpid"
	# Stopped: a row a slot, no pid.
	run -0 "$NODESOCKD" stop -c app.json
	"$NODESOCKD" status --json -c app.json >s.json
	parses s.json
	[ "$(js s.json 'JSON.stringify(j.workers[1])')" = '{"worker":1,"pid":null,"state":"stopped","uptime_ms":null,"restarts":0,"socket":"'"$PWD"'/app.1.sock","last_exit":"exited with status 0","heartbeat_ms":null}' ]
	# Usage: the flag is --json, on the command line and a control line.
	run -1 "$NODESOCKD" restart --json -c app.json
	[ "$output" = "nodesockd: --json goes with status" ]
	run -1 sh -c 'echo "status json" | "$0" ctl -c app.json' "$NODESOCKD"
	[ "$output" = "error: usage: status [--json]" ]
	run -1 sh -c 'echo "config x" | "$0" ctl -c app.json' "$NODESOCKD"
	[ "$output" = "error: usage: config" ]
}

@test "config: the running configuration, resolved, taken back as a config file starts the same daemon" {
	need node
	mkdir -p srv/run other
	cp app.js srv/
	# Relative paths, from the config file's directory; defaults unset.
	echo '{ "script": "app.js", "tmpDir": "run", "workers": 2, "drainDelay": 100,
	    "env": ["HOME"], "listenVar": "SOCK_PATH" }' >srv/app.json
	start_daemon -c srv/app.json -w 3
	wait_for 10 grep -q 'deploy done' "$LOG"
	run -0 "$NODESOCKD" config -c srv/app.json
	echo "$output" >first.json
	parses first.json
	[ "$(js first.json 'j.script')" = "$PWD/srv/app.js" ]
	[ "$(js first.json 'j.tmpDir')" = "$PWD/srv/run" ]
	[ "$(js first.json 'j.ipcFile')" = "$PWD/srv/run/nodesockd.ipc" ]
	[ "$(js first.json 'j.workers')" = 3 ]		# the command line's
	[ "$(js first.json 'j.onlineTimeout')" = 10000 ]	# a default
	[ "$(js first.json 'j.drainDelay')" = 100 ]
	[ "$(js first.json 'j.node')" = node ]
	[ "$(js first.json 'JSON.stringify(j.env)')" = '["HOME"]' ]
	[ "$(js first.json 'j.notifyFd')" = undefined ]
	# A scale shows.
	run -0 "$NODESOCKD" scale 2 -c srv/app.json
	[ "$(js <("$NODESOCKD" config -c srv/app.json) 'j.workers')" = 2 ]
	run -0 "$NODESOCKD" scale 3 -c srv/app.json
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	# Fed back, from elsewhere: the same daemon, the same configuration.
	cp first.json other/again.json
	(cd / && start_daemon -c "$BATS_TEST_TMPDIR/other/again.json")
	DPID=$(tail -1 "$BATS_TEST_TMPDIR/pids")
	wait_for 10 logged 2 'deploy done'
	run -0 "$NODESOCKD" config -i "$PWD/srv/run/nodesockd.ipc"
	[ "$output" = "$(cat first.json)" ]
	[ "$(get srv/run/app.2.sock | cut -d' ' -f2)" = 2 ]
}

@test "config: a command's program in full, in place of script and node; taken back" {
	need node
	mkdir bin
	ln -s "$(command -v node)" bin/node
	echo '{ "command": ["bin/node", "app.js", "a \"quoted\" arg"], "env": [] }' >app.json
	up
	run -0 "$NODESOCKD" config -c app.json
	echo "$output" >first.json
	parses first.json
	[ "$(js first.json 'JSON.stringify(j.command)')" = '["'"$PWD"'/bin/node","app.js","a \"quoted\" arg"]' ]
	[ "$(js first.json 'j.script + " " + j.node')" = "undefined undefined" ]
	[ "$(js first.json 'JSON.stringify(j.env)')" = '[]' ]
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	cp first.json again.json
	start_daemon -c again.json
	wait_for 10 logged 2 'deploy done'
	run -0 "$NODESOCKD" config -c again.json
	[ "$output" = "$(cat first.json)" ]
}
