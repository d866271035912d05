# The manual must not lie: what README and nodesockd(1) show is taken from
# them, not copied here, and run against a real daemon with real workers.
load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MAN="$ROOT/nodesockd.1"
README="$ROOT/README"

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# rendered: the page as plain text in page.txt, one paragraph a line.
rendered() {
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
	rendered
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
			"make chaos")
				grep -q '^chaos:' "$ROOT/Makefile" ;;
			*)
				echo "[$n]: not a test file: $row"
				false ;;
			esac
		done
	done <rows
}

# literals SECTION: the examples of a section of the page's source, one a
# line, as CONTEXT<TAB>KIND<TAB>THEN<TAB>TEXT: CONTEXT is the command whose
# item holds it (intro before the first item, after past the list, client
# in the paragraph on the client forms), KIND Ql (words in a sentence) or Dl
# (a displayed line), THEN 1 when the page says "A, then B" of it and the
# one before; an argument (.Ar MESSAGE) in TEXT becomes <MESSAGE>.
literals() {
	awk -v s=".Sh $1" '
		$0 == s { f = 1; ctx = "intro"; next }
		f && /^\.Sh / { exit }
		!f { next }
		/^\.It Cm / { ctx = $3; last = 0; next }
		/^\.El/ { if (ctx != "ctl") ctx = "after"; last = 0; next }
		/^The client forms/ { ctx = "client" }
		/^\.(Ql|Dl) / {
			t = $0
			sub(/^\.(Ql|Dl) /, "", t)
			sub(/ [.,;:)]+$/, "", t)
			gsub(/ Ar [A-Z]+/, " <&>", t)
			gsub(/<  *Ar /, "<", t)
			gsub(/\\\(dq/, "\"", t)
			printf "%s\t%s\t%d\t%s\n", ctx, substr($1, 2), then, t
			then = 0
			last = 1
			next
		}
		last && $0 == "then" { then = 1; next }
		{ last = 0; then = 0 }
	' "$MAN"
}

# ere TEXT: TEXT as an extended regular expression, <ARG> matching anything.
ere() {
	printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|]/\\&/g' -e 's/<[A-Z]*>/.+/g'
}

# pool CONTEXT: the file of the replies seen for the examples of CONTEXT.
pool() {
	case $1 in
	start | stop | restart | resume | scale | standby | reload | status | config | nginx)
		echo "replies.$1" ;;
	client) echo replies.client ;;
	*) echo replies.all ;;
	esac
}

# ask CONTEXT LINE...: the lines through `nodesockd ctl`, its reply kept in
# the pool of CONTEXT and in that of all.
ask() {
	local ctx=$1
	shift
	printf '%s\n' "$@" | "$NODESOCKD" ctl -c app.json >reply 2>&1 || true
	echo >>reply
	cat reply >>"$(pool "$ctx")"
	[ "$(pool "$ctx")" = replies.all ] || cat reply >>replies.all
}

@test "the CONTROL examples of nodesockd(1) are the daemon's replies" {
	rendered
	cp "$FIX/app.js" "$FIX/stubborn.js" .
	# A worker that can fail (slot 1, status 3), boot slowly or ignore
	# shutdown, by the files here.
	cat >w.js <<-'EOF'
	const fs = require('fs');
	if (fs.existsSync('fail') && process.env.NODESOCKD_WORKER_ID === '1') process.exit(3);
	if (fs.existsSync('stubborn')) require('./stubborn.js');
	else if (fs.existsSync('slow')) setTimeout(() => require('./app.js'), 2000);
	else require('./app.js');
	EOF
	echo '{"script": "w.js", "workers": 2, "shutdownTimeout": 3000}' >app.json
	: >replies.all
	# The commands, as the page gives them.
	commands=$(sed -n '/^\.Sh CONTROL/,/^\.Sh /s/^\.It Cm \([a-z]*\)\( Op Cm \([a-z\\-]*\)\| Ar N\)\{0,1\}$/\1 \3/p' "$MAN" | sed 's/\\-/-/g')
	[ "$(echo "$commands" | wc -l)" = 11 ]
	start_daemon -c app.json
	wait_for 10 grep -q 'deploy done' "$LOG"
	while read -r cmd opt; do
		case $cmd in
		start)
			ask start "$cmd" ;;
		restart)
			ask restart "$cmd"
			touch fail
			ask restart "$cmd"
			rm fail
			ask restart "$cmd $opt" ;;
		resume)
			ask resume "$cmd" ;;
		scale)
			ask scale "$cmd 3"
			ask scale "$cmd 2"
			echo precious >app.2.sock
			ask scale "$cmd 3"
			rm app.2.sock ;;
		standby)
			ask standby "$cmd 1"
			ask standby "$cmd 0" ;;
		reload)
			# Through -i: with -c the client would read the file.
			cp app.json good.json
			cp w.js w2.js
			mkdir run
			ask reload "$cmd"
			for f in '{\n"script": "w.js",\n"workers": 2,,\n}' \
			    '{"script": "w2.js", "workers": 2, "env": []}' \
			    '{\n"script": "w.js",\n"workers": 2,\n"tmpDir": "run"\n}'; do
				printf "$f\n" >app.json
				echo reload | "$NODESOCKD" ctl -i nodesockd.ipc >>replies.reload || true
			done
			cp good.json app.json
			ask reload "$cmd" ;;
		status)
			ask status "$cmd" "$cmd $opt" ;;
		config | nginx)
			ask "$cmd" "$cmd" ;;
		ctl)
			;;	# the client that sends all the others
		stop)
			ask stop "$cmd"
			ask status status
			ask start "start $opt"
			ask resume resume ;;
		*)
			echo "no scenario for the command $cmd of CONTROL"
			false ;;
		esac
	done <<<"$commands"
	# Busy: a deploy, then a stop, under way.
	touch slow
	n=$(count_log '\) started$')
	"$NODESOCKD" restart -c app.json 3>&- &
	bg=$!
	echo "$bg" >>pids
	wait_for 10 logged $((n + 2)) '\) started$'
	ask all restart
	ask status "status --json"
	"$NODESOCKD" restart -c app.json 2>>replies.client || true
	wait_for 20 gone "$bg"
	wait "$bg"
	# And a scale.
	n=$(count_log '\) started$')
	"$NODESOCKD" scale 3 -c app.json 3>&- &
	bg=$!
	echo "$bg" >>pids
	wait_for 10 logged $((n + 1)) '\) started$'
	ask all restart
	wait_for 20 gone "$bg"
	wait "$bg"
	"$NODESOCKD" scale 2 -c app.json
	# And a change of standbys.
	n=$(count_log 'standby \(pid [0-9]*\) started')
	"$NODESOCKD" standby 1 -c app.json 3>&- &
	bg=$!
	echo "$bg" >>pids
	wait_for 10 logged $((n + 1)) 'standby \(pid [0-9]*\) started'
	ask all restart
	wait_for 20 gone "$bg"
	wait "$bg"
	"$NODESOCKD" standby 0 -c app.json
	rm slow
	touch stubborn
	run -0 "$NODESOCKD" restart -c app.json
	"$NODESOCKD" stop -c app.json 3>&- &
	bg=$!
	echo "$bg" >>pids
	wait_for 10 logged 2 'ignores shutdown'
	ask all stop
	wait_for 20 gone "$bg"
	wait "$bg"
	rm stubborn
	ask all start
	# Bad lines; the one too long straight on the socket (the daemon closes
	# the connection after its reply, which the client may not wait for).
	ask all frobnicate "start suspended extra"
	cp "$FIX/rawctl.js" .
	head -c 5000 /dev/zero | tr '\0' x | (cat; echo; echo status) | node rawctl.js nodesockd.ipc >>replies.all
	# A deploy ended by SIGTERM.
	touch slow
	n=$(count_log '\) started$')
	printf 'restart\n' | "$NODESOCKD" ctl -c app.json >interrupted 2>&1 3>&- &
	client=$!
	echo "$client" >>pids
	wait_for 10 logged $((n + 2)) '\) started$'
	kill -TERM "$DPID"
	wait_for 20 gone "$client"
	cat interrupted >>replies.all
	wait_for 20 gone "$DPID"
	# A file that is not a socket where the control socket goes.
	echo precious >nodesockd.ipc
	timeout 10 "$NODESOCKD" -c app.json 3>&- 2>>replies.all || true
	[ "$(cat nodesockd.ipc)" = precious ]

	# Every example of CONTROL is among the replies of its command.
	literals CONTROL >examples
	[ "$(wc -l <examples)" -ge 15 ]
	prev=""
	while IFS=$'\t' read -r ctx kind then text; do
		f=$(pool "$ctx")
		re=$(ere "$text")
		if [ "$kind" = Dl ]; then
			grep -q -x -E "$re" "$f" || { echo "not a reply of $ctx: $text"; cat "$f"; false; }
		else
			grep -q -E "(^|[ :'(])$re(\$|[ :',)])" "$f" ||
			    { echo "not in a reply of $ctx: $text"; cat "$f"; false; }
		fi
		if [ "$then" = 1 ]; then
			grep -x -A 1 -E "$(ere "$prev")" "$f" | grep -q -x -E "$re" ||
			    { echo "in $ctx, '$prev' is not followed by '$text'"; cat "$f"; false; }
		fi
		prev=$text
	done <examples
	# The status shown in EXAMPLES (and in README): the daemon's header,
	# and rows in its columns.
	shown=$(grep -A 3 '^ *\$ nodesockd status -c' page.txt | sed -n 2,4p | sed 's/^ *//')
	[ "$shown" = "$(grep -A 3 '^ *\$ nodesockd status -c' "$README" | sed -n 2,4p | sed 's/^ *//')" ]
	[ "$(echo "$shown" | sed -n 1p)" = "$(sed -n 1p replies.status)" ]
	for rows in "$(echo "$shown" | sed 1d)" "$(grep -m 2 ' online ' replies.status)"; do
		echo "$rows" | awk '{ ok = $1 == NR - 1 && $2 ~ /^[0-9]+$/ && $3 == "online" &&
		    $4 ~ /^[0-9]+s$/ && $5 ~ /^[0-9]+$/ && $6 ~ ("/app\\." NR - 1 "\\.sock$") }
		    !ok { print "not a status row: " $0; exit 1 }'
	done
	# Their columns line up with the header's, as do the daemon's.
	for rows in "$(echo "$shown" | sed 1d)" "$(grep '^[0-9]' replies.status)"; do
		echo "$rows" | awk -v h="$(sed -n 1p replies.status)" '{
			n = split("worker pid state uptime restarts socket", w, " ")
			for (i = 2; i <= n; i++) if (substr($0, index(h, w[i]) - 1, 1) != " " || substr($0, index(h, w[i]), 1) == " ")
				{ print "column " w[i] " off in: " $0; exit 1 } }'
	done
}

# channel: what THE WORKER CHANNEL shows, one a line: "up NAME" for a
# message from a worker, "down NAME" for one from the daemon, "ignored
# TEXT" for a line shown as ignored, "env VAR" for a variable, "value VAR
# TEXT" for the value shown of it.
channel() {
	awk '
		$0 == ".Sh THE WORKER CHANNEL" { f = 1; next }
		f && /^\.Sh / { exit }
		!f { next }
		/^From a worker to the daemon:/ { dir = "up" }
		/^From the daemon to a worker:/ { dir = "down" }
		/^\.El/ { dir = ""; ev = "" }
		/^\.It Qq / && dir != "" { print dir, $3; next }
		/^\.It Ev / { ev = $3; shown = 0; print "env", ev; next }
		/^\.It / { ev = "" }
		/^\.Ql / {
			t = $0
			sub(/^\.Ql /, "", t)
			sub(/ [.,;:)]+$/, "", t)
			if (ev != "" && !shown++) print "value", ev, t
			else if (t ~ /^\{/) print "ignored", t
		}
	' "$MAN"
}

# said SLOT LINE: the published worker of SLOT writes LINE on its fd 3.
said() {
	curl -sS --max-time 5 --unix-socket "app.$1.sock" -G --data-urlencode "line=$2" \
	    http://localhost/say >/dev/null
}

@test "the WORKER CHANNEL messages of nodesockd(1) do what the page says, byte for byte" {
	rendered
	cp "$FIX/raw.sh" "$FIX/raw.js" .
	channel >shown
	[ "$(grep -c '^up ' shown)" -ge 2 ] && [ "$(grep -c '^down ' shown)" -ge 2 ]
	[ "$(grep -c '^env ' shown)" -ge 6 ]
	# Each message on the wire: its name as a JSON string, then a newline.
	json() { printf '"%s"' "$1"; }
	for m in $(sed -n 's/^up //p; s/^down //p' shown); do
		case $m in online | restart | shutdown | resume | heartbeat) ;;
		*) echo "no scenario for the message \"$m\""; false ;;
		esac
	done
	grep -q -x 'up online' shown && grep -q -x 'down shutdown' shown
	echo '{"script": "raw.sh", "node": "/bin/sh", "workers": 2, "drainDelay": 100}' >app.json
	ONLINE=$(json online) SHUTDOWN=$(json shutdown) start_daemon -c app.json
	# "online": taken from a starting worker, which is then published.
	wait_for 10 grep -q 'deploy done: 2 workers online' "$LOG"
	for i in 0 1; do
		p=$(published_pid "$i")
		[ "$(get "app.$i.sock")" = "$p $i" ]
		[ "$(readlink "app.$i.sock")" = "app.$i.sock.$p" ]
	done
	# The environment: every variable shown, with the value shown.
	p0=$(published_pid 0)
	envf=env.0.$p0
	for v in $(sed -n 's/^env //p' shown); do
		grep -q "^$v=" "$envf" || { echo "no $v in a worker's environment"; false; }
	done
	while read -r _ v val; do
		case $v in
		NODESOCKD_SUSPENDED) grep -q -x "$v=" "$envf" ;;	# when suspended, below
		*) grep -q -x "$v=$val" "$envf" || { echo "$v is not $val"; grep "^$v=" "$envf"; false; } ;;
		esac
	done < <(grep '^value ' shown)
	grep -q -x "LISTEN_ON=$PWD/app.0.sock.$p0" "$envf"
	grep -q -x "NODESOCKD_LISTEN_VAR=LISTEN_ON" "$envf"
	grep -q -x "NODESOCKD_WORKER_ID=0" "$envf"
	grep -q -x "NODESOCKD_WORKER_ID=1" "env.1.$(published_pid 1)"
	# Lines shown as ignored are, silently; broken JSON and an overlong
	# line are ignored with a line in the log.
	n=$(wc -l <"$LOG")
	while read -r _ line; do said 0 "$line"; done < <(grep '^ignored ' shown)
	said 0 42
	sleep 0.5
	[ "$(sed "1,${n}d" "$LOG" | grep -v "^raw 0 $p0 said " || true)" = "" ]
	grep -q 'or a line longer than [0-9]* bytes, with a line in the log for the first such line of each worker' page.txt
	max=$(sed -n 's/.*or a line longer than \([0-9]*\) bytes, with a line in the log.*/\1/p' page.txt)
	long=$(head -c $((max + 1)) /dev/zero | tr '\0' x)
	said 0 '"unterminated'
	said 1 "$long"
	wait_for 5 grep -q "worker 0 (pid $p0) sent a line that is not JSON" "$LOG"
	p1=$(published_pid 1)
	wait_for 5 grep -q "worker 1 (pid $p1) sent a line longer than $max bytes" "$LOG"
	said 0 "$long"
	said 1 '"unterminated'
	said 1 "$(head -c "$max" /dev/zero | tr '\0' x)"
	sleep 0.5
	[ "$(count_log "worker 0 \(pid $p0\) sent")" = 1 ]
	[ "$(count_log "worker 1 \(pid $p1\) sent")" = 1 ]
	[ "$(get app.0.sock)" = "$p0 0" ] && [ "$(get app.1.sock)" = "$p1 1" ]
	# "restart" from a published worker: a new one for its slot, published;
	# this one drains, gets "shutdown", and exits.
	said 0 "$(json restart)"
	wait_for 10 republished 0 "$p0"
	wait_for 10 grep -q "raw 0 $p0 got $(json shutdown)" "$LOG"
	wait_for 10 grep -q "worker 0 (pid $p0) exited with status 0" "$LOG"
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	# "resume" to workers started suspended, whose NODESOCKD_SUSPENDED is
	# the value shown.
	if grep -q -x 'down resume' shown; then
		run -0 "$NODESOCKD" restart --suspended -c app.json
		run -0 "$NODESOCKD" resume -c app.json
		for i in 0 1; do
			p=$(published_pid "$i")
			wait_for 5 grep -q "raw $i $p got $(json resume)" "$LOG"
			val=$(sed -n 's/^value NODESOCKD_SUSPENDED //p' shown)
			grep -q -x "NODESOCKD_SUSPENDED=$val" "env.$i.$p"
		done
	fi
	# Nothing came from the daemon but the messages shown.
	sed -n 's/^raw [0-9]* [0-9]* got //p' "$LOG" | sort -u >got
	sed -n 's/^down \(.*\)/"\1"/p' shown | sort >down
	comm -23 got down >other
	[ ! -s other ] || { echo "not shown:"; cat other; false; }
}

@test "the WORKER CHANNEL's heartbeat: with the watchdog, a worker that sends it stays; one that does not is hung" {
	grep -q '^\.It Qq heartbeat' "$MAN"
	cp "$FIX/raw.sh" "$FIX/raw.js" .
	echo '{"script": "raw.sh", "node": "/bin/sh", "workers": 2, "watchdog": 600}' >app.json
	ONLINE='"online"' SHUTDOWN='"shutdown"' start_daemon -c app.json
	wait_for 10 grep -q 'deploy done: 2 workers online' "$LOG"
	p0=$(published_pid 0)
	p1=$(published_pid 1)
	grep -q -x "NODESOCKD_WATCHDOG_MS=600" "env.0.$p0"
	# Slot 0 sends "heartbeat" every 100 ms; slot 1 says nothing.
	for i in $(seq 15); do said 0 '"heartbeat"'; sleep 0.1; done
	grep -q "worker 1 (pid $p1) hung: no heartbeat in 600ms" "$LOG"
	wait_for 10 gone "$p1"
	alive "$p0"
	run ! grep -q "worker 0 (pid $p0) hung" "$LOG"
}

@test "the manual passes suspend.express to app.use, and never calls it" {
	rendered
	for f in page.txt "$README"; do
		grep -q -F 'app.use(suspend.express)' "$f" || { echo "$f"; false; }
		! grep -o '.\{0,4\}suspend\.express(' "$f" | grep -v '^not suspend' || { echo "$f"; false; }
	done
}
