# Suspended deploys, and the Node helper as an npm package.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	[ -d "$BATS_TEST_DIRNAME/node_modules/express" ] ||
		{ echo "express is missing: run (cd t && npm ci)" >&2; return 1; }
	echo "{\"script\": \"$FIX/express-app.js\", \"workers\": 2}" >app.json
}

up() {
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
}

# state SLOT: the state of the published worker of a slot, from status.
state() {
	"$NODESOCKD" status -c app.json | awk -v w="$1" -v p="$(published_pid "$1")" '$1 == w && $2 == p { print $3 }'
}

@test "after restart --suspended, requests wait for resume, then the new worker answers" {
	up
	old=$(published_pid 0)
	run -0 "$NODESOCKD" restart --suspended -c app.json
	new=$(published_pid 0)
	[ "$new" != "$old" ]
	[ "$(state 0)" = suspended ] && [ "$(state 1)" = suspended ]
	grep -q "express 0 $new suspended" "$LOG"
	curl -sS --max-time 20 --unix-socket app.0.sock -o held.out -w '%{http_code}' http://localhost/ >held.code &
	held=$!
	echo "$held" >>pids
	sleep 1
	alive "$held"
	[ ! -s held.out ]
	run -0 "$NODESOCKD" resume -c app.json
	[ "$output" = "resumed 2 workers" ]
	wait_for 10 gone "$held"
	wait "$held"
	[ "$(cat held.code)" = 200 ]
	[ "$(cat held.out)" = "$new 0" ]
	[ "$(state 0)" = online ]
	# Resumed workers answer at once.
	[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
}

@test "the old worker finishes its in-flight request before exiting" {
	up
	old=$(published_pid 0)
	curl -sS --max-time 20 --unix-socket app.0.sock -o slow.out -w '%{http_code}' 'http://localhost/?ms=1500' >slow.code &
	slow=$!
	echo "$slow" >>pids
	sleep 0.3
	run -0 "$NODESOCKD" restart -c app.json
	wait_for 10 gone "$slow"
	wait "$slow"
	[ "$(cat slow.code)" = 200 ]
	[ "$(cat slow.out)" = "$old 0" ]
	wait_for 10 grep -q "worker 0 (pid $old) exited with status 0" "$LOG"
}

@test "a worker that crashes while suspended is replaced suspended; start is never suspended at first" {
	up
	grep -q "express 0 $(published_pid 0) running" "$LOG"
	run -0 "$NODESOCKD" restart -u -c app.json
	old=$(published_pid 1)
	kill -KILL "$old"
	wait_for 10 republished 1 "$old"
	new=$(published_pid 1)
	wait_for 5 grep -q "express 1 $new suspended" "$LOG"
	[ "$(state 1)" = suspended ]
	run -0 "$NODESOCKD" resume -c app.json
	[ "$output" = "resumed 2 workers" ]
	run -0 "$NODESOCKD" resume -c app.json
	[ "$output" = "resumed 0 workers" ]
	# After a stop, start --suspended starts them suspended.
	run -0 "$NODESOCKD" stop -c app.json
	run -0 "$NODESOCKD" start --suspended -c app.json
	[ "$(state 0)" = suspended ]
}

@test "the helper outside nodesockd changes nothing and resolves at once" {
	run -0 timeout 10 env -u NODESOCKD_WORKER_ID node -e '
		const n = require(process.argv[1]);
		n.suspend().then(() => console.log("resolved",
		    n.isSuspended(), n.getWorkerId(), n.restart(), process.listenerCount("message")));
	' "$BATS_TEST_DIRNAME/../index.js"
	[ "$output" = "resolved false undefined false 0" ]
	# listen() falls back to the port or path given.
	run -0 timeout 10 env -u LISTEN_ON node -e '
		const http = require("http");
		const s = require(process.argv[1]).listen(http.createServer((q, r) => r.end("ok")), process.argv[2]);
		s.on("listening", () => { console.log("listening", s.address()); s.close(); });
	' "$BATS_TEST_DIRNAME/../index.js" "$BATS_TEST_TMPDIR/fallback.sock"
	[ "$output" = "listening $BATS_TEST_TMPDIR/fallback.sock" ]
}

@test "npm pack and npm install of the tarball give the binary and the module" {
	src="$BATS_TEST_DIRNAME/.."
	mkdir pkg app
	# Pack a copy of the sources alone, as a fresh clone has them.
	cp "$src"/*.c "$src"/*.h "$src"/Makefile "$src"/config.mk "$src"/package.json \
	    "$src"/index.js "$src"/index.d.ts "$src"/README "$src"/LICENSE pkg/
	cp "$src"/nodesockd.1 pkg/ 2>/dev/null || true
	cp -R "$src"/bin pkg/
	(cd pkg && npm pack --silent >../pack.out 2>&1) || { cat pack.out; false; }
	tgz=pkg/$(tail -n 1 pack.out)
	[ -f "$tgz" ]
	# Only what is needed ships.
	tar tzf "$tgz" | sed 's|^package/||' | sort >contents
	! grep -q -E '^(t/|bench/|example/|\.ci/)|\.o$|^nodesockd$' contents || false
	grep -q -x nodesockd.c contents
	grep -q -x index.d.ts contents
	cd app
	echo '{"name": "app", "version": "1.0.0", "private": true}' >package.json
	npm install --no-audit --no-fund --offline "../$tgz" >install.out 2>&1 || { cat install.out; false; }
	run -0 ./node_modules/.bin/nodesockd --version
	[[ "$output" =~ ^nodesockd\ [0-9] ]]
	run -0 node -e 'const n = require("nodesockd"); console.log(Object.keys(n).sort().join(" "), typeof n.suspend.express)'
	[ "$output" = "getWorkerId isSuspended listen restart suspend function" ]
}

@test "on shutdown the helper drops idle keep-alive connections, and answers one that has not sent its request yet" {
	echo "{\"script\": \"$FIX/helper-app.js\", \"drainDelay\": 100}" >app.json
	up
	old=$(published_pid 0)
	GO="$PWD/go" node "$FIX/conns.js" app.0.sock >conns.out 2>&1 &
	client=$!
	echo "$client" >>pids
	sleep 0.5
	run -0 "$NODESOCKD" restart -c app.json
	wait_for 10 grep -q 'worker 0 shutdown' "$LOG"
	wait_for 5 grep -q '^keepalive closed after 1 responses$' conns.out
	# The old worker waits for the fresh connection's request...
	sleep 0.3
	alive "$old"
	touch go
	wait_for 10 gone "$client"
	wait "$client" || { cat conns.out; false; }
	# ... answers it on its way out, and exits.
	grep -q -x 'fresh closed after 1 responses, connection: close' conns.out
	wait_for 10 grep -q "worker 0 (pid $old) exited with status 0" "$LOG"
}

@test "suspend.express() called instead of passed throws a clear TypeError at that call" {
	cat >app.js <<-EOF
	const express = require('$BATS_TEST_DIRNAME/node_modules/express');
	const { listen, suspend } = require('$BATS_TEST_DIRNAME/../index.js');
	const app = express();
	app.use(suspend.express);
	app.get('/', (req, res) => res.send(process.pid + ' ' + process.env.NODESOCKD_WORKER_ID + '\\n'));
	listen(app, 8000);
	EOF
	sed 's/suspend.express)/suspend.express())/' app.js >wrong.js
	grep -q -x 'app.use(suspend.express());' wrong.js
	# Alone: it fails at load, on the line of the wrong call.
	run -1 timeout 10 env -u NODESOCKD_WORKER_ID node wrong.js
	[[ "$output" == *"TypeError: nodesockd: suspend.express is the middleware itself: use app.use(suspend.express), not suspend.express()"* ]]
	[[ "$output" == *"wrong.js:4:"* ]]
	# Under nodesockd, started suspended or not, such a worker fails at
	# boot: the deploy fails and the old workers serve on.
	echo '{"script": "app.js", "workers": 2}' >app.json
	up
	old="$(published_pid 0) $(published_pid 1)"
	cp app.js good.js
	cp wrong.js app.js
	for u in --suspended ""; do
		run -1 "$NODESOCKD" restart $u -c app.json
		[[ "$output" == "nodesockd: restart: worker "[01]" failed to come online: exited with status 1" ]]
		[ "$(published_pid 0) $(published_pid 1)" = "$old" ]
		[ "$(get app.1.sock)" = "$(published_pid 1) 1" ]
	done
	grep -q 'TypeError: nodesockd: suspend.express is the middleware itself' "$LOG"
	# Passed as it is, the same app comes up.
	cp good.js app.js
	run -0 "$NODESOCKD" restart -c app.json
	[ "$(published_pid 0) $(published_pid 1)" != "$old" ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
}
