# Shared by the tests that run a private Nginx in front of nodesockd
# under load (t/05, t/12, t/14, t/16): `load nginx` after `load helpers`.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# free_port: a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
		() => { console.log(s.address().port); s.close(); })'
}

# upstream N [SERVER-PARAMS]: an upstream block of the N public names
# here, each with SERVER-PARAMS (max_fails=0 if not given).
upstream() {
	local i p=${2-max_fails=0}
	echo "upstream app {"
	for i in $(seq 0 $(($1 - 1))); do
		echo "	server unix:$PWD/app.$i.sock${p:+ $p};"
	done
	echo "}"
}

# nginx_up CONFIG-HEAD [PROXY-PASS]: a private Nginx, all its files in
# nginx/, on a free port of 127.0.0.1 ($URL), proxying to PROXY-PASS (the
# upstream app if not given); its master's pid is $NPID. CONFIG-HEAD goes
# into the http block (an upstream, or nothing).
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
				proxy_pass ${2:-http://app};
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

# load_start [CONCURRENCY [DEADLINE_MS]]: load.js on $URL in the
# background, 8 clients (each request given 10 s) if not said, for at most
# 30 s, until load_stop; its pid is $LPID.
load_start() {
	STOP="$PWD/stop" node "$FIX/load.js" "$URL" 30 "${1:-8}" "${2:-10000}" >load.out 2>&1 &
	LPID=$!
	echo "$LPID" >>pids
	sleep 1
}

# load_stop: stop the load, wait for its summary; fails on any failed,
# erroneous or unfinished request.
load_stop() {
	sleep 0.5
	touch stop
	wait_for 35 gone "$LPID"
	wait "$LPID" || { cat load.out; false; }
	cat load.out
	grep -q '^requests [1-9][0-9]* ok [1-9][0-9]* non200 0 errors 0 timeouts 0 ' load.out
}

# pids_seen: the worker pids that answered during the load.
pids_seen() {
	sed -n 's/.* pids //p' load.out | tr , '\n'
}

# only_200: Nginx answered nothing but 200 to anyone.
only_200() {
	[ -s nginx/access.log ]
	! grep -v '^200 ' nginx/access.log
}

# published N: the published pid of every slot, one a line.
published() {
	local i
	for i in $(seq 0 $(($1 - 1))); do published_pid "$i"; done
}


# service_dir KIND DIR: the example service of KIND (runit or s6) in DIR,
# its paths made ours: /srv/app becomes here (app.json the config), the
# user app ourselves, the binary ours.
service_dir() {
	local ex f
	case $1 in
	runit) ex=$ROOT/example/runit ;;
	s6) ex=$ROOT/example/s6/nodesockd ;;
	esac
	mkdir -p "$2"
	for f in "$ex"/*; do
		[ -f "$f" ] || continue
		sed -e "s#/srv/app/nodesockd.json#$PWD/app.json#g" -e "s#/srv/app#$PWD#g" \
		    -e "s#/usr/local/bin/nodesockd#$NODESOCKD#g" \
		    -e "s#chpst -u app#chpst -u $(id -un)#" \
		    -e "s#s6-setuidgid app#s6-setuidgid $(id -un)#" "$f" >"$2/${f##*/}"
	done
	chmod +x "$2/run"
	! grep -q '/srv/\|/usr/local' "$2/run"
}
