# The daemon under valgrind: no memory error and no leak, not even memory
# still reachable at exit, through a life of deploys, crashes and clients.
load helpers

# The plain build: valgrind cannot run the sanitizer build of `make check SAN=1`.
BIN="$BATS_TEST_DIRNAME/../nodesockd"

setup() {
	need valgrind
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX"/*.js .
}

# vg_daemon ARGS...: start_daemon under valgrind, its report in vg.PID.
vg_daemon() {
	LOG="$BATS_TEST_TMPDIR/daemon.log"
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
	    --errors-for-leak-kinds=all --log-file="$BATS_TEST_TMPDIR/vg.%p" \
	    "$BIN" "$@" 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>"$BATS_TEST_TMPDIR/pids"
}

# vg_stop: SIGTERM, then the daemon exits 0 and valgrind said nothing.
vg_stop() {
	kill -TERM "$DPID"
	wait_for 30 gone "$DPID"
	run wait "$DPID"
	echo "# exit status $status" >&2
	cat "$BATS_TEST_TMPDIR"/vg.* >&2
	[ "$status" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/vg.$DPID" ]
}

@test "valgrind: 3 workers, two restarts, stop: no error, no leak" {
	echo '{"script": "app.js", "workers": 3}' >app.json
	vg_daemon -c app.json
	wait_for 30 logged 1 'deploy done'
	for i in 0 1 2; do get "app.$i.sock" >/dev/null; done
	"$BIN" restart -c app.json
	"$BIN" restart -c app.json
	wait_for 30 logged 3 'deploy done'
	for i in 0 1 2; do get "app.$i.sock" >/dev/null; done
	vg_stop
}

@test "valgrind: crashes, a failed deploy, suspend, bad clients: no error, no leak" {
	printf '{"script": "app.js", "workers": 2, "onlineTimeout": 3000}\n' >app.json
	vg_daemon -c app.json
	wait_for 30 logged 1 'deploy done'
	# A crash: the slot is served again by a new worker.
	old=$(published_pid 0)
	kill -KILL "$old"
	wait_for 30 republished 0 "$old"
	# A deploy that fails: the script crashes at boot.
	cp app.js good.js
	cp crash.js app.js
	run -1 "$BIN" restart -c app.json
	cp good.js app.js
	# Suspended and resumed; status; bad lines, a line too long, a hang-up.
	"$BIN" restart --suspended -c app.json
	"$BIN" status -c app.json >/dev/null
	"$BIN" resume -c app.json
	run -1 sh -c "printf 'bogus\n\n\001\002\n' | '$BIN' ctl -c app.json"
	head -c 10000 /dev/zero | tr '\0' x | "$BIN" ctl -c app.json || true
	node -e 'const s = require("net").connect("nodesockd.ipc", () => { s.write("stat"); s.destroy(); })'
	"$BIN" status -c app.json >/dev/null
	vg_stop
}

@test "valgrind: reloads, good and bad, with env and command arrays: no error, nothing lost" {
	need node
	conf() {
		printf '{"command": ["node", "%s"], "env": ["HOME"%s], "drainDelay": %s, "workers": %s}\n' "$@" >app.json
	}
	conf app.js '' 100 2
	# The arrays of the running configuration are still reachable at exit,
	# as ever: here what counts is that no reload loses or misuses any.
	LOG="$BATS_TEST_TMPDIR/daemon.log"
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --log-file="$BATS_TEST_TMPDIR/vg.%p" \
	    "$BIN" -c app.json 3>&- >>"$LOG" 2>&1 &
	DPID=$!
	echo "$DPID" >>"$BATS_TEST_TMPDIR/pids"
	wait_for 30 logged 1 'deploy done'
	for round in 1 2 3; do
		conf app.js ', "USER"' $((100 + round)) 3
		run -0 "$BIN" reload -c app.json
		[ "$output" = "restart to apply: $([ "$round" = 1 ] || echo 'command ')env" ]
		conf crash.js '' 100 2
		run -0 "$BIN" reload -c app.json
		[ "$output" = "restart to apply: command env" ]
		conf app.js ', 7' 100 2
		run -1 "$BIN" reload -i nodesockd.ipc
	done
	[ "$(count_log 'reload: restart to apply')" = 6 ]
	conf app.js '' 100 2
	run -0 "$BIN" reload -c app.json
	[ "$output" = "restart to apply: command" ]
	"$BIN" restart -c app.json
	vg_stop
}
