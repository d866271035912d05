# The control socket, the CLI client, and all-or-nothing deploys.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
	echo '{"script": "app.js", "workers": 2, "onlineTimeout": 2000}' >app.json
}

up() {
	start_daemon -c app.json "$@"
	wait_for 10 grep -q 'deploy done' "$LOG"
}

pids_now() {
	echo "$(published_pid 0) $(published_pid 1)"
}

@test "status lists every worker in columns, through the CLI and ctl" {
	up
	run -0 "$NODESOCKD" status -c app.json
	[ "${lines[0]}" = "worker pid     state      uptime  restarts socket" ]
	[ "${#lines[@]}" = 3 ]
	read -r w p st up r s <<<"${lines[2]}"
	[ "$w $p $st $r $s" = "1 $(published_pid 1) online 0 $PWD/app.1.sock" ]
	[[ "$up" =~ ^[0-9]+s$ ]]
	run -0 sh -c "echo status | '$NODESOCKD' ctl -c app.json"
	[ "${#lines[@]}" = 4 ]
	[ "${lines[3]}" = ok ]
	# With -i, the client finds the socket without the config file.
	run -0 "$NODESOCKD" status -i "$PWD/nodesockd.ipc"
	[ "${#lines[@]}" = 3 ]
	run -0 "$NODESOCKD" status -i nodesockd.ipc
}

@test "restart answers only once the new workers answer on the public sockets" {
	up
	old=$(pids_now)
	run -0 "$NODESOCKD" restart -c app.json
	[ "$output" = "" ]
	new=$(pids_now)
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	for p in $old; do [[ " $new " != *" $p "* ]]; done
	# And through ctl.
	run -0 sh -c "echo restart | '$NODESOCKD' ctl -c app.json"
	[ "$output" = ok ]
	[ "$(pids_now)" != "$new" ]
}

@test "a deploy of a script that crashes at boot fails and the old workers keep serving" {
	up
	old=$(pids_now)
	cp crash.js app.js
	run -1 "$NODESOCKD" restart -c app.json
	[[ "$output" =~ ^nodesockd:\ restart:\ worker\ [01]\ failed\ to\ come\ online:\ exited\ with\ status\ 3$ ]]
	[ "$(pids_now)" = "$old" ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	# Nothing of the failed deploy is left running.
	for p in $(worker_pids); do
		[[ " $old " == *" $p "* ]] || wait_for 5 gone "$p"
	done
	# The fixed build deploys.
	cp "$FIX/app.js" app.js
	run -0 "$NODESOCKD" restart -c app.json
	[ "$(pids_now)" != "$old" ]
}

@test "a deploy whose worker never says online fails after onlineTimeout" {
	up
	old=$(pids_now)
	cp silent.js app.js
	run -1 "$NODESOCKD" restart -c app.json
	[[ "$output" =~ ^nodesockd:\ restart:\ worker\ [01]\ failed\ to\ come\ online:\ no\ \"online\"\ within\ 2000ms\ \(a\ worker\ must\ listen\ on\ the\ path\ in\ \$LISTEN_ON,\ then\ send\ \"online\"\;\ the\ helper\'s\ listen\(\)\ does\ both\)$ ]]
	[ "$(pids_now)" = "$old" ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	for p in $(worker_pids); do
		[[ " $old " == *" $p "* ]] || wait_for 5 gone "$p"
	done
}

@test "stop, then start" {
	up
	old=$(worker_pids)
	run -0 "$NODESOCKD" stop -c app.json
	for p in $old; do gone "$p"; done
	[ ! -e app.0.sock ] && [ ! -e app.1.sock ]
	run -0 "$NODESOCKD" status -c app.json
	[[ "${lines[1]}" =~ ^0\ +-\ +stopped ]]
	run -0 "$NODESOCKD" stop -c app.json
	run -0 "$NODESOCKD" start -c app.json
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	run -0 "$NODESOCKD" start -c app.json
	[ "$output" = "already running" ]
	alive "$DPID"
}

@test "a worker's own restart message replaces just that worker" {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 2}" >app.json
	up
	old0=$(published_pid 0)
	old1=$(published_pid 1)
	[ "$(get app.1.sock /restart)" = restart ]
	wait_for 10 republished 1 "$old1"
	wait_for 10 gone "$old1"
	[ "$(published_pid 0)" = "$old0" ]
	grep -q "worker 1 (pid $old1) asked to be replaced" "$LOG"
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "commands that change workers do not interleave" {
	echo '{"script": "app.js", "workers": 2, "onlineTimeout": 3000}' >app.json
	up
	cp silent.js app.js
	"$NODESOCKD" restart -c app.json 3>&- >first.out 2>&1 &
	first=$!
	echo "$first" >>pids
	wait_for 5 logged 4 started
	run -1 "$NODESOCKD" restart -c app.json
	[ "$output" = "nodesockd: restart: busy: a deploy is under way" ]
	run -1 "$NODESOCKD" stop -c app.json
	[ "$output" = "nodesockd: stop: busy: a deploy is under way" ]
	run -0 "$NODESOCKD" status -c app.json
	wait_for 10 gone "$first"
	run -1 wait "$first"
}

@test "the CLI exits 2 when no daemon answers, naming the socket" {
	run -2 "$NODESOCKD" status -c app.json
	[ "$output" = "nodesockd: cannot reach the daemon at $PWD/nodesockd.ipc: No such file or directory" ]
	run -2 "$NODESOCKD" restart -i /nonexistent/x.ipc
	[ "$output" = "nodesockd: cannot reach the daemon at /nonexistent/x.ipc: No such file or directory" ]
	# Without -c or -i, it says which option finds the daemon.
	run -2 "$NODESOCKD" status
	[ "$output" = "nodesockd: cannot reach the daemon at $PWD/nodesockd.ipc: No such file or directory (give -c FILE, the daemon's config, or -i FILE, its control socket)" ]
}

@test "a worker listening elsewhere fails to come online with a hint of what to check" {
	echo 'require("http").createServer(() => {}).listen(0, () => process.send("online"))' >tcp.js
	echo '{"script": "tcp.js", "listenVar": "PORT_PATH"}' >tcp.json

	start_daemon -c tcp.json
	wait_for 10 grep -q 'failed to come online' "$LOG"
	grep -q "worker 0 failed to come online: $PWD/app.0.sock.[0-9]*: No such file or directory (a worker must listen on the path in \$PORT_PATH, then send \"online\"; the helper's listen() does both)" "$LOG"
}

@test "the control socket is 0600; a second daemon refuses; a stale one is replaced" {
	up
	[ "$(stat -c %a nodesockd.ipc)" = 600 ]
	run -1 timeout 10 "$NODESOCKD" -c app.json 3>&-
	[ "$output" = "nodesockd: $PWD/nodesockd.ipc: already running: another nodesockd answers there" ]
	alive "$DPID"
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	# A daemon killed hard leaves its socket file; the next one replaces it.
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	[ -S nodesockd.ipc ]
	for p in $(worker_pids); do kill -KILL "$p"; done
	start_daemon -c app.json
	wait_for 20 logged 2 'deploy done'
	run -0 "$NODESOCKD" status -c app.json
	# A file that is not a socket is not taken for a stale one.
	run -0 "$NODESOCKD" stop -c app.json
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	echo precious >nodesockd.ipc
	run -1 timeout 10 "$NODESOCKD" -c app.json 3>&-
	[ "$output" = "nodesockd: $PWD/nodesockd.ipc: exists and is not a socket" ]
	[ "$(cat nodesockd.ipc)" = precious ]
}

@test "a user other than the daemon's is refused" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a user"
	user=nsdtest$$
	add_user "$user" -N
	uid=$(id -u "$user")
	chmod 755 "$BATS_TEST_TMPDIR"
	up
	run setpriv --reuid "$uid" --regid "$(id -g "$user")" --clear-groups "$NODESOCKD" status -c app.json
	[ "$status" = 2 ]
	[ "$output" = "nodesockd: cannot reach the daemon at $PWD/nodesockd.ipc: Permission denied" ]
	alive "$DPID"
}

@test "bad input on the control socket gets an error, never a crash" {
	up
	run -1 sh -c "printf 'frobnicate\n\n  \nstatus now\nrestart later\nstart suspended extra\n' | '$NODESOCKD' ctl -c app.json"
	[ "${lines[0]}" = "error: unknown command 'frobnicate'" ]
	[ "${lines[1]}" = "error: usage: status [--json]" ]
	[ "${lines[2]}" = "error: usage: restart [suspended]" ]
	[ "${lines[3]}" = "error: usage: start [suspended]" ]
	[ "${#lines[@]}" = 4 ]
	# Garbage bytes, then a good command on the same connection.
	run -0 sh -c "printf '\\001\\377\\033[2J\\nstatus\\n' | node rawctl.js nodesockd.ipc"
	[ "${lines[0]}" = "error: unknown command '???[2J'" ]
	[ "${lines[-1]}" = ok ]
	# An overlong line: an error, and the connection is closed.
	run -0 sh -c "head -c 10000 /dev/zero | tr '\\0' x | (cat; echo; echo status) | node rawctl.js nodesockd.ipc"
	[ "$output" = "error: line too long" ]
	alive "$DPID"
}

@test "a silent client does not stop the daemon serving others" {
	up
	HOLD=5000 node rawctl.js nodesockd.ipc </dev/null >/dev/null &
	silent=$!
	echo "$silent" >>pids
	sleep 0.3
	run -0 "$NODESOCKD" status -c app.json
	run -0 "$NODESOCKD" restart -c app.json
	kill "$silent"
}

@test "a client that hangs up mid-command disturbs neither the command nor the daemon" {
	up
	old=$(pids_now)
	# The new workers take a while to boot: the client is surely mid-command.
	mv app.js real.js
	echo 'setTimeout(() => require("./real.js"), 1500);' >app.js
	"$NODESOCKD" restart -c app.json 3>&- &
	client=$!
	echo "$client" >>pids
	wait_for 5 logged 4 started
	kill -KILL "$client"
	wait_for 20 logged 2 'deploy done'
	[ "$(pids_now)" != "$old" ]
	run -0 "$NODESOCKD" status -c app.json
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
}
