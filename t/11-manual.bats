# The manual must not lie: what README and nodesockd(1) show is taken from
# them, not copied here, and run against a real daemon with real workers.
load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MAN="$ROOT/nodesockd.1"
README="$ROOT/README"

setup() {
	cd "$BATS_TEST_TMPDIR"
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	mandoc -T ascii -O width=1000 "$MAN" | sed 's/.\x08//g' >page.txt
}

# after_block PATTERN: the block indented deeper than the paragraph of
# stdin whose line contains PATTERN, just after that paragraph (README: 4
# spaces; the rendered page: a display), de-indented, without trailing
# blank lines.
after_block() {
	awk -v pat="$1" '
		f == 0 && index($0, pat) { match($0, /^ */); p = RLENGTH; f = 1; next }
		f == 1 && /^ *$/ { gap = 1; next }
		f == 1 { match($0, /^ */); if (RLENGTH <= p && gap) exit; if (RLENGTH <= p) next; n = RLENGTH; f = 2 }
		f == 2 {
			if ($0 ~ /^ *$/) { blank = blank "\n"; next }
			match($0, /^ */)
			if (RLENGTH < n) exit
			printf "%s%s\n", blank, substr($0, n + 1)
			blank = ""
		}'
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
		() => { console.log(s.address().port); s.close(); })'
}

@test "the app without the helper runs as printed, alone and under nodesockd" {
	after_block 'Without the helper, an app speaks the protocol' <"$README" >readme.js
	after_block 'so it calls it only if it is there:' <page.txt >man.js
	grep -q "if (process.send) process.send('online');" readme.js
	diff readme.js man.js
	# Alone, as both say: `LISTEN_ON=8000 node app.js` (on a free port).
	cmd=$(after_block 'and the same code runs locally as' <page.txt)
	grep -q -F '`LISTEN_ON=8000 node app.js`' "$README"
	[ "$cmd" = "LISTEN_ON=8000 node app.js" ]
	cp readme.js app.js
	port=$(free_port)
	eval "${cmd/8000/$port} 3>&- >alone.log 2>&1 &"
	alone=$!
	echo "$alone" >>pids
	wait_for 10 curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$port/"
	[ "$(curl -sS --max-time 5 "http://127.0.0.1:$port/")" = hello ]
	alive "$alone"
	kill -TERM "$alone"
	wait_for 10 gone "$alone"
	[ ! -s alone.log ] || { cat alone.log; false; }
	# Under nodesockd: online, deployed, shut down gracefully.
	echo '{"script": "app.js", "workers": 2}' >app.json
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done: 2 workers online' "$LOG"
	old="$(published_pid 0) $(published_pid 1)"
	[ "$(get app.0.sock)" = hello ] && [ "$(get app.1.sock)" = hello ]
	run -0 "$NODESOCKD" restart -c app.json
	for p in $old; do
		wait_for 10 grep -q "(pid $p) exited with status 0" "$LOG"
	done
	[ "$(get app.1.sock)" = hello ]
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	wait "$DPID"
	[ ! -e app.0.sock ] && [ ! -e app.1.sock ]
	! grep -q -i 'error' "$LOG"
}

# survives: the rows of README's "What it survives", one a line: the first
# column of each row, its continuation lines joined.
survives() {
	awk '
		/^What it survives$/ { f = 1; next }
		f && /^---/ { if (t) exit; next }
		f && /^    [^ ]/ { if (row != "") print row; row = substr($0, 5, 36); t = 1; next }
		f && /^      [^ ]/ && row != "" { row = row " " substr($0, 7, 34); next }
		f && /^$/ && row != "" { print row; row = "" }
		END { if (row != "") print row }
	' "$README" | tr -s ' ' ' ' | sed 's/ *$//'
}

@test "every row of README's \"What it survives\" names test files that exist" {
	survives >rows
	# The header, then the rows.
	[ "$(head -n 1 rows)" = "input or fault" ]
	sed -i 1d rows
	[ "$(wc -l <rows)" -ge 20 ]
	while IFS= read -r row; do
		[[ "$row" =~ \[([^]]*)\] ]] || { echo "no [test] in: $row"; false; }
		IFS=, read -r -a names <<<"${BASH_REMATCH[1]}"
		for n in "${names[@]}"; do
			n=${n# }
			case $n in
			[0-9][0-9])
				files=$(cd "$ROOT/t" && ls "$n"-*.bats 2>/dev/null || true)
				[ "$(echo "$files" | grep -c .)" = 1 ] ||
				    { echo "[$n] is not one t/$n-*.bats: $row"; false; } ;;
			SAN=1)
				grep -q '^check: .*TESTBIN$(SAN)' "$ROOT/Makefile" ;;
			"make fuzz")
				grep -q '^fuzz:' "$ROOT/Makefile" ;;
			*)
				echo "[$n]: not a test file: $row"
				false ;;
			esac
		done
	done <rows
}
