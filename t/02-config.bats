# Config file and command line: every error before a worker starts, and
# the path rules.
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$FIX/app.js" app.js
}

# bad FILE-CONTENT EXPECTED: the daemon refuses the config with EXPECTED.
bad() {
	printf '%s' "$1" >app.json
	run -1 timeout 10 "$NODESOCKD" -c app.json 3>&-
	[ "$output" = "$2" ] || { echo "config: $1"; echo "got:      $output"; echo "expected: $2"; return 1; }
	[ -z "$(ls ./*.sock* 2>/dev/null)" ]
	[ ! -e nodesockd.ipc ]
}

@test "malformed JSON is reported with file, line and column" {
	bad $'{\n  "script": "app.js",\n  "workers" 2\n}\n' \
	    'nodesockd: app.json:3:13: expected '"':'"' after object key'
	bad '{"script": "app.js",}' \
	    "nodesockd: app.json:1:21: expected string as object key"
	bad '' "nodesockd: app.json:1:1: unexpected end of input"
	bad '{"script": "app.js"} x' "nodesockd: app.json:1:22: trailing characters after value"
	bad '["app.js"]' "nodesockd: app.json:1:1: expected an object"
}

@test "unknown keys, duplicates and wrong types name the key and its place" {
	bad $'{"script": "app.js",\n "wrokers": 2}' 'nodesockd: app.json:2:2: unknown key "wrokers"'
	bad '{"script": "app.js", "script": "app.js"}' 'nodesockd: app.json:1:22: "script" given twice'
	bad '{"script": 1}' 'nodesockd: app.json:1:12: "script" must be a string'
	bad '{"script": ""}' 'nodesockd: app.json:1:12: "script" must be a non-empty string without NUL'
	bad '{"script": "app.js", "workers": "2"}' 'nodesockd: app.json:1:33: "workers" must be a positive integer'
	bad '{"script": "app.js", "workers": 1.5}' 'nodesockd: app.json:1:33: "workers" must be a positive integer'
	bad '{"script": "app.js", "workers": 0}' 'nodesockd: app.json:1:33: "workers" must be a positive integer'
	bad '{"script": "app.js", "workers": -3}' 'nodesockd: app.json:1:33: "workers" must be a positive integer'
	bad '{"script": "app.js", "workers": 100000}' 'nodesockd: app.json:1:33: "workers" must be at most 256'
	bad '{"script": "app.js", "workers": 99999999999999999999}' 'nodesockd: app.json:1:33: "workers" must be a positive integer'
	bad '{"script": "app.js", "onlineTimeout": 0}' 'nodesockd: app.json:1:39: "onlineTimeout" must be an integer from 1 to 86400000'
	bad '{"script": "app.js", "drainDelay": -1}' 'nodesockd: app.json:1:36: "drainDelay" must be an integer from 0 to 86400000'
	bad '{"script": "app.js", "shutdownTimeout": true}' 'nodesockd: app.json:1:41: "shutdownTimeout" must be an integer from 0 to 86400000'
	bad '{"script": "app.js", "env": "PATH"}' 'nodesockd: app.json:1:29: "env" must be an array of variable names'
	bad '{"script": "app.js", "env": ["A=1"]}' "nodesockd: app.json:1:29: \"env\" has 'A=1', not a variable name"
	bad '{"script": "app.js", "env": ["1A"]}' "nodesockd: app.json:1:29: \"env\" has '1A', not a variable name"
	bad '{"script": "app.js", "listenVar": "LISTEN-ON"}' 'nodesockd: app.json:1:35: "listenVar" must be a variable name'
}

@test "socket name patterns are checked" {
	bad '{"script": "app.js", "workers": 3, "socketFile": "app.sock"}' \
	    'nodesockd: app.json:1:50: "socketFile" must contain {worker} when there are 3 workers'
	bad '{"script": "app.js", "socketFile": "run/app.sock"}' \
	    "nodesockd: app.json:1:36: \"socketFile\" must be a file name (no '/', not . or ..)"
	bad '{"script": "app.js", "socketFile": "app.{id}.sock"}' \
	    'nodesockd: app.json:1:36: "socketFile" has an unknown placeholder; only {worker} is known'
	bad '{"script": "app.js", "socketFile": "app}.sock"}' \
	    "nodesockd: app.json:1:36: \"socketFile\" has a stray '}'"
}

@test "a socket path longer than sun_path allows is refused" {
	# A directory where nodesockd.ipc fits, but app.0.sock.PID does not.
	long=$(printf 'd%.0s' $(seq 1 $((91 - ${#PWD} - 1))))
	mkdir "$long"
	bad "{\"script\": \"app.js\", \"tmpDir\": \"$long\"}" \
	    "nodesockd: app.json:1:32: \"tmpDir\" $PWD/$long/app.0.sock.PID: socket path longer than 107 bytes"
	long=${long}dddddddddddddddddd
	mkdir "$long"
	bad "{\"script\": \"app.js\", \"tmpDir\": \"$long\"}" \
	    "nodesockd: app.json:1:32: \"tmpDir\" $PWD/$long/nodesockd.ipc: socket path longer than 107 bytes"
}

@test "an empty entry in PATH is the current directory, as execvp(3) takes it" {
	printf '#!/bin/sh\nexec sleep 1\n' >myprog
	chmod +x myprog
	printf '%s' '{"command": ["myprog"]}' >app.json
	# Found, the start goes on to its next check, the control socket's.
	echo precious >nodesockd.ipc
	for p in ":/nonexistent" "/nonexistent:" "/nonexistent::/nonexistent"; do
		run -1 timeout 10 env PATH="$p" "$NODESOCKD" -c app.json 3>&-
		[ "$output" = "nodesockd: $PWD/nodesockd.ipc: exists and is not a socket" ]
	done
	run -1 timeout 10 env PATH=/nonexistent "$NODESOCKD" -c app.json 3>&-
	[ "$output" = 'nodesockd: app.json:1:13: "command" myprog: not found in PATH' ]
	[ "$(cat nodesockd.ipc)" = precious ]
}

@test "missing script, tmpDir and node are refused" {
	bad '{"workers": 1}' 'nodesockd: no script: give -s SCRIPT, or "script" or "command" in the config file'
	bad '{"script": "nope.js"}' "nodesockd: app.json:1:12: \"script\" $PWD/nope.js: No such file or directory"
	bad '{"script": "."}' "nodesockd: app.json:1:12: \"script\" $PWD/.: not a regular file"
	bad '{"script": "app.js", "tmpDir": "nope"}' "nodesockd: app.json:1:32: \"tmpDir\" $PWD/nope: No such file or directory"
	bad '{"script": "app.js", "tmpDir": "app.js"}' "nodesockd: app.json:1:32: \"tmpDir\" $PWD/app.js: Not a directory"
	bad '{"script": "app.js", "node": "no-such-node"}' 'nodesockd: app.json:1:30: "node" no-such-node: not found in PATH'
	bad '{"script": "app.js", "node": "./app.js"}' "nodesockd: app.json:1:30: \"node\" $PWD/./app.js: Permission denied"
}

@test "a command is an array of strings, the first not empty, instead of script and node, and its program must run" {
	m='must be an array of strings, the first not empty'
	bad '{"command": "node app.js"}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": []}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": ["node", 1]}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": ["", "app.js"]}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": ["node", "a\u0000b"]}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": ["node", ["app.js"]]}' "nodesockd: app.json:1:13: \"command\" $m"
	bad '{"command": ["node", "app.js"], "script": "app.js"}' \
	    'nodesockd: app.json:1:13: "command" replaces "script" and "node": give one or the other'
	bad '{"node": "node", "command": ["node", "app.js"]}' \
	    'nodesockd: app.json:1:29: "command" replaces "script" and "node": give one or the other'
	printf '%s' '{"command": ["node", "app.js"]}' >app.json
	run -1 timeout 10 "$NODESOCKD" -c app.json -s app.js 3>&-
	[ "$output" = 'nodesockd: app.json:1:13: "command" replaces "script" and "node": give one or the other' ]
	bad '{"command": ["no-such-program"]}' 'nodesockd: app.json:1:13: "command" no-such-program: not found in PATH'
	bad '{"command": ["./app.js", "x"]}' "nodesockd: app.json:1:13: \"command\" $PWD/./app.js: Permission denied"
	mkdir sub
	bad '{"command": ["sub/nope"]}' "nodesockd: app.json:1:13: \"command\" $PWD/sub/nope: No such file or directory"
}

@test "command line errors" {
	run -1 "$NODESOCKD" --workers 2x -s app.js
	[ "$output" = "nodesockd: --workers must be a positive integer" ]
	run -1 "$NODESOCKD" -w0 -s app.js
	[ "$output" = "nodesockd: --workers must be a positive integer" ]
	run -1 "$NODESOCKD" --frobnicate
	[ "$output" = "nodesockd: unknown option '--frobnicate' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" -s
	[ "$output" = "nodesockd: option '-s' needs a value" ]
	run -1 "$NODESOCKD" frobnicate
	[ "$output" = "nodesockd: unknown command 'frobnicate' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" status extra
	[ "$output" = "nodesockd: unexpected argument 'extra' (see nodesockd --help)" ]
	run -1 "$NODESOCKD" stop --suspended
	[ "$output" = "nodesockd: --suspended goes with start or restart" ]
	run -1 "$NODESOCKD" -c nope.json
	[ "$output" = "nodesockd: nope.json: No such file or directory" ]
	run -1 "$NODESOCKD"
	[ "$output" = 'nodesockd: no script: give -s SCRIPT, or "script" or "command" in the config file' ]
}

@test "a notify fd that is not open, or is 0, 1 or 2, is refused before anything starts" {
	# Taken as given, a closed fd 3 became the self-pipe: the daemon
	# spun and lost every signal; fd 2 would have been the log.
	# (Into a file: the workers of a daemon that wrongly ran would hold a
	# pipe open.)
	for d in "-d 3" "--notify-fd=2"; do
		run timeout -k 1 10 sh -c "exec \"\$0\" -s app.js $d 3>&- >out 2>&1" "$NODESOCKD"
		[ "$status" = 1 ]
		[ "$(cat out)" = "nodesockd: --notify-fd must be 0 or a descriptor open from 3 on" ]
	done
	bad '{"script": "app.js", "notifyFd": 1}' \
	    'nodesockd: app.json:1:34: "notifyFd" must be 0 or a descriptor open from 3 on'
	bad '{"script": "app.js", "notifyFd": 70000}' \
	    'nodesockd: app.json:1:34: "notifyFd" must be an integer from 0 to 65535'
	[ -z "$(ls ./*.sock* 2>/dev/null)" ]
}

@test "--help and --version" {
	run -0 "$NODESOCKD" --help
	for word in start stop restart resume status ctl --config --script \
	    --listen-var --tmp-dir --socket-file --ipc-file --workers --suspended \
	    --help --version; do
		[[ "$output" == *"$word"* ]] || { echo "--help lacks $word"; return 1; }
	done
	run -0 "$NODESOCKD" -h
	run -0 "$NODESOCKD" --version
	[[ "$output" =~ ^nodesockd\ [0-9]+\.[0-9]+ ]]
}

@test "with -c, relative paths in the file and on the command line are from the file's directory" {
	mkdir -p srv/app/run other
	mv app.js srv/app/server.js
	echo '{"script": "server.js", "tmpDir": "run"}' >srv/app/app.json
	cd other
	# The script given on the command line is looked for beside app.json.
	run -1 "$NODESOCKD" -c ../srv/app/app.json -s cli.js
	[ "$output" = "nodesockd: --script $PWD/../srv/app/cli.js: No such file or directory" ]
	run -1 "$NODESOCKD" -c ../srv/app/app.json -t cli-run
	[ "$output" = "nodesockd: --tmp-dir $PWD/../srv/app/cli-run: No such file or directory" ]
	# And it starts with the file's own, relative to the file.
	start_daemon -c ../srv/app/app.json
	wait_for 10 test -S "$BATS_TEST_TMPDIR/srv/app/run/app.0.sock"
	[ -S "$BATS_TEST_TMPDIR/srv/app/run/nodesockd.ipc" ]
	[[ "$(get "$BATS_TEST_TMPDIR/srv/app/run/app.0.sock")" == *" 0" ]]
}

@test "without -c, relative paths are from the current directory" {
	mkdir run
	run -1 "$NODESOCKD" -s nope.js
	[ "$output" = "nodesockd: --script $PWD/nope.js: No such file or directory" ]
	start_daemon -s app.js -t run -o 'web-{worker}.sock' -i ctl.sock -w 2
	wait_for 10 test -S run/web-1.sock
	[ -S run/ctl.sock ]
	[[ "$(get run/web-0.sock)" == *" 0" ]]
	[[ "$(get run/web-1.sock)" == *" 1" ]]
}

@test "the command line overrides the file; an absolute ipcFile stays where it is" {
	mkdir run
	echo "{\"script\": \"app.js\", \"workers\": 3, \"ipcFile\": \"$BATS_TEST_TMPDIR/abs.ipc\"}" >app.json
	start_daemon -c app.json -w 2 -t run
	wait_for 10 test -S run/app.1.sock
	[ -S abs.ipc ]
	wait_for 5 grep -q 'deploy done: 2 workers' "$LOG"
	[ ! -e run/app.2.sock ]
}
