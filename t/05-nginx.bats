# End to end: a private Nginx on 127.0.0.1 in front of nodesockd, under
# continuous load from t/fixtures/load.js (every request with a deadline, so
# one that never completes is a failure too), through deploys, suspended
# deploys and kill -9. Nothing here asserts a timing.
load helpers

setup() {
	need nginx
	cd "$BATS_TEST_TMPDIR"
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 3}" >app.json
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
		() => { console.log(s.address().port); s.close(); })'
}

# upstream [SERVER-PARAMS]: an upstream block of the three public names.
upstream() {
	echo "upstream app {"
	for i in 0 1 2; do
		echo "	server unix:$PWD/app.$i.sock${1:+ $1};"
	done
	echo "}"
}

# nginx_up CONFIG-HEAD PROXY-PASS: a private Nginx, all its files in
# nginx/, on a free port of 127.0.0.1 ($URL); its master's pid is $NPID.
# CONFIG-HEAD goes into the http block (an upstream, or nothing).
nginx_up() {
	local port
	port=$(free_port)
	mkdir -p nginx
	cat >nginx/nginx.conf <<-EOF
	daemon off;
	user root;
	worker_processes 1;
	pid $PWD/nginx/nginx.pid;
	error_log $PWD/nginx/error.log notice;
	events { worker_connections 1024; }
	http {
		log_format up '\$status \$upstream_status \$upstream_addr';
		access_log $PWD/nginx/access.log up;
		client_body_temp_path $PWD/nginx/client_body;
		proxy_temp_path $PWD/nginx/proxy;
		fastcgi_temp_path $PWD/nginx/fastcgi;
		uwsgi_temp_path $PWD/nginx/uwsgi;
		scgi_temp_path $PWD/nginx/scgi;
		$1
		server {
			listen 127.0.0.1:$port;
			location / {
				proxy_pass $2;
				proxy_next_upstream error timeout;
			}
		}
	}
	EOF
	nginx -p "$PWD/nginx" -e "$PWD/nginx/error.log" -c "$PWD/nginx/nginx.conf" \
	    3>&- >nginx/out 2>&1 &
	NPID=$!
	echo "$NPID" >>pids
	URL="http://127.0.0.1:$port/"
	wait_for 10 curl -sf --max-time 2 -o /dev/null "$URL" || { cat nginx/out nginx/error.log; false; }
}

# up N: nodesockd with N workers of helper-app.js (the helper's listen()).
up() {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": $1}" >app.json
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
}

# load_start [CONCURRENCY [DEADLINE_MS]]: load.js on $URL in the background
# for at most 20 s, until load_stop; its pid is $LPID.
load_start() {
	STOP="$PWD/stop" node "$FIX/load.js" "$URL" 20 "${1:-8}" "${2:-10000}" >load.out 2>&1 &
	LPID=$!
	echo "$LPID" >>pids
	sleep 1
}

# load_stop: stop the load, wait for its summary; fails on any failed,
# erroneous or unfinished request.
load_stop() {
	sleep 0.5
	touch stop
	wait_for 25 gone "$LPID"
	wait "$LPID" || { cat load.out; false; }
	cat load.out
	grep -q '^requests [1-9][0-9]* ok [1-9][0-9]* non200 0 errors 0 timeouts 0 ' load.out
}

# pids_seen: the worker pids that answered during the load.
pids_seen() {
	sed -n 's/.* pids //p' load.out | tr , '\n'
}

# published: the published pid of every slot, one a line.
published() {
	local i
	for i in $(seq 0 $(($1 - 1))); do published_pid "$i"; done
}

@test "nodesockd nginx prints an upstream block that Nginx takes and serves through" {
	up 3
	run -0 "$NODESOCKD" nginx -c app.json
	[ "${#lines[@]}" = 6 ]
	[ "${lines[1]}" = "	server unix:$PWD/app.0.sock max_fails=0;" ]
	nginx_up "$output" http://app
	for i in 1 2 3 4 5 6; do
		curl -sf --max-time 5 "$URL" | grep -q '^[0-9]'
	done
}

# only_200: Nginx answered nothing but 200 to anyone.
only_200() {
	[ -s nginx/access.log ]
	! grep -v '^200 ' nginx/access.log
}

# restarts N: N deploys, one after another, each one must succeed.
restarts() {
	local r
	for r in $(seq "$1"); do
		"$NODESOCKD" restart -c app.json
		sleep 0.3
	done
}

@test "restarts under load behind Nginx: every response 200, new pids answer" {
	up 3
	nginx_up "$(upstream max_fails=0)" http://app
	before=$(published 3)
	load_start
	run -0 restarts 4
	load_stop
	after=$(published 3)
	seen=$(pids_seen)
	for p in $before; do
		[[ " $(echo $after) " != *" $p "* ]]
		grep -q -x "$p" <<<"$seen"
	done
	for p in $after; do grep -q -x "$p" <<<"$seen"; done
	only_200
	# The deploys made no upstream fail at all.
	! grep -E '\[(error|warn)\]' nginx/error.log
}

@test "kill -9 of one worker at a time under load: Nginx retries, no request fails" {
	up 3
	nginx_up "$(upstream max_fails=0)" http://app
	load_start
	for i in 0 1 2; do
		old=$(published_pid "$i")
		kill -KILL "$old"
		wait_for 10 republished "$i" "$old"
		new=$(published_pid "$i")
		wait_for 10 test "$(get "app.$i.sock")" = "$new $i"
	done
	load_stop
	only_200
	# Every slot serves again, each through a new worker.
	for i in 0 1 2; do
		[ "$(get "app.$i.sock")" = "$(published_pid "$i") $i" ]
		grep -q "worker $i (pid [0-9]*) was killed by signal 9" "$LOG"
	done
	# Nginx did meet the dead workers, and passed those requests on.
	grep -q 'connect() to unix:.*failed\|upstream prematurely closed' nginx/error.log
	# Without max_fails=0, Nginx would have marked them down.
	! grep -q 'upstream server temporarily disabled' nginx/error.log
}

@test "with Nginx's default upstream settings, restarts under load leave no reset behind" {
	up 3
	# The plain upstream block: max_fails=1, fail_timeout=10s.
	nginx_up "$(upstream)" http://app
	before=$(published 3)
	load_start
	run -0 restarts 4
	load_stop
	[ "$(published 3)" != "$before" ]
	only_200
	# Not one failed connection, so no upstream was ever marked down.
	! grep -E '\[(error|warn)\]' nginx/error.log
}

@test "restart --suspended under load, then resume: held requests complete, none fails" {
	up 3
	nginx_up "$(upstream max_fails=0)" http://app
	load_start 8 20000
	run -0 "$NODESOCKD" restart --suspended -c app.json
	new=$(published 3)
	# A request made while suspended waits...
	curl -sS --max-time 20 -o held.out -w '%{http_code}' "$URL" >held.code &
	held=$!
	echo "$held" >>pids
	sleep 2
	alive "$held"
	[ ! -s held.out ]
	# ... and so does the load: Nginx completes no request meanwhile.
	n=$(wc -l <nginx/access.log)
	sleep 0.5
	[ "$(wc -l <nginx/access.log)" = "$n" ]
	run -0 "$NODESOCKD" resume -c app.json
	[ "$output" = "resumed 3 workers" ]
	wait_for 20 gone "$held"
	wait "$held"
	[ "$(cat held.code)" = 200 ]
	read -r hp _ <held.out
	grep -q -x "$hp" <<<"$new"
	load_stop
	[ "$(wc -l <nginx/access.log)" -gt "$n" ]
	seen=$(pids_seen)
	for p in $new; do grep -q -x "$p" <<<"$seen"; done
	only_200
	# The held ones took at least the 2.5 s of suspension.
	[ "$(sed -n 's/.* maxms \([0-9]*\) .*/\1/p' load.out)" -ge 2000 ]
}

@test "one worker on one socket, proxy_pass http://unix: with no upstream: restarts under load fail nothing" {
	up 1
	nginx_up "" "http://unix:$PWD/app.0.sock:/"
	before=$(published_pid 0)
	load_start
	run -0 restarts 5
	load_stop
	after=$(published_pid 0)
	[ "$after" != "$before" ]
	seen=$(pids_seen)
	grep -q -x "$before" <<<"$seen"
	grep -q -x "$after" <<<"$seen"
	only_200
	! grep -E '\[(error|warn)\]' nginx/error.log
}
