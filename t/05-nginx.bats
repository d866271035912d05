# End to end: a private Nginx on 127.0.0.1 in front of nodesockd, under
# continuous load from t/fixtures/load.js (every request with a deadline, so
# one that never completes is a failure too), through deploys, suspended
# deploys and kill -9. Nothing here asserts a timing.
load helpers
load nginx

setup() {
	need nginx
	cd "$BATS_TEST_TMPDIR"
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": 3}" >app.json
}

# up N: nodesockd with N workers of helper-app.js (the helper's listen()).
up() {
	echo "{\"script\": \"$FIX/helper-app.js\", \"workers\": $1}" >app.json
	start_daemon -c app.json
	wait_for 15 grep -q 'deploy done' "$LOG"
}

@test "nodesockd nginx prints an upstream block that Nginx takes and serves through" {
	up 3
	run -0 "$NODESOCKD" nginx -c app.json
	[ "${#lines[@]}" = 6 ]
	[ "${lines[1]}" = "	server unix:$PWD/app.0.sock max_fails=0;" ]
	nginx_up "$output"
	for i in 1 2 3 4 5 6; do
		curl -sf --max-time 5 "$URL" | grep -q '^[0-9]'
	done
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
	nginx_up "$(upstream 3)"
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
	nginx_up "$(upstream 3)"
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
	nginx_up "$(upstream 3 "")"
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
	nginx_up "$(upstream 3)"
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
