# What a newcomer meets first: npm pack and the tarball installed locally,
# globally and without its scripts, and the npm bin; make check and make
# static without their tools; one version everywhere.
load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

setup() {
	cd "$BATS_TEST_TMPDIR"
	# npm's cache and settings in this test's directory, nothing asked of
	# the registry.
	export npm_config_cache="$BATS_TEST_TMPDIR/npm-cache"
	export npm_config_userconfig="$BATS_TEST_TMPDIR/npmrc"
	export npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
	export npm_config_offline=true
}

# tree: a copy of the checkout as it is, built, in ./src (what a developer
# who runs npm pack has).
tree() {
	mkdir src
	tar -C "$ROOT" --exclude=./.git --exclude=./t/node_modules --exclude=./t/fuzz/bin \
	    --exclude='*.sock' --exclude='*.sock.*' --exclude='*.ipc' --exclude='./nodesockd-*.tgz' \
	    -cf - . | tar -C src -xf -
	make -C src nodesockd >/dev/null
}

# pack: npm pack of ./src; the tarball's path is $TGZ.
pack() {
	(cd src && npm pack --pack-destination .. >../pack.out 2>&1) || { cat pack.out; false; }
	TGZ=$PWD/$(tail -n 1 pack.out)
	[ -f "$TGZ" ]
}

# path_without TOOL...: a directory of links to every program in PATH but
# TOOL..., to be PATH.
path_without() {
	local d dirs
	mkdir fakebin
	IFS=: read -r -a dirs <<<"$PATH"
	# The first of a name in PATH wins, as in PATH.
	for d in "${dirs[@]}"; do
		# Not bats' own directory, which bats puts in PATH.
		[ -d "$d" ] && [ ! -e "$d/bats-exec-test" ] || continue
		find "$d/" -mindepth 1 -maxdepth 1 ! -type d -exec ln -s -t fakebin {} + 2>/dev/null
	done
	for d in "$@"; do rm -f "fakebin/$d"; done
	echo "$PWD/fakebin"
}

# project: an empty npm project in ./app.
project() {
	mkdir app
	echo '{"name": "app", "version": "1.0.0", "private": true}' >app/package.json
}

@test "npm pack leaves the build in place and ships no binary and no object" {
	tree
	# What make static and make check SAN=1 leave beside make's build.
	cp src/nodesockd src/nodesockd-static
	cp src/nodesockd src/nodesockd-san
	sums=$(cd src && cksum nodesockd nodesockd-static nodesockd-san ./*.o)
	[ "$(echo "$sums" | wc -l)" = 7 ]
	pack
	[ "$(cd src && cksum nodesockd nodesockd-static nodesockd-san ./*.o)" = "$sums" ]
	make -C src -q nodesockd
	tar tzf "$TGZ" | sed 's|^package/||' | sort >contents
	! grep -E '^(t|bench|example|\.ci)/|\.o$|^nodesockd(-static|-san)?$' contents || false
	grep -q -x bin/nodesockd contents
	grep -q -x nodesockd.c contents
	# Not one ELF file, whatever its name.
	mkdir x
	tar -C x -xzf "$TGZ"
	while IFS= read -r f; do
		[ "$(head -c 4 "$f" | od -A n -t x1 | tr -d ' ')" != 7f454c46 ] || { echo "binary: $f"; false; }
	done < <(find x -type f)
}

@test "installed without its scripts, the nodesockd bin says in one line how to build it; npm rebuild builds it" {
	tree
	pack
	project
	cd app
	npm install --ignore-scripts "$TGZ" >install.out 2>&1 || { cat install.out; false; }
	[ ! -e node_modules/nodesockd/nodesockd ]
	pkg=$PWD/node_modules/nodesockd
	for bin in ./node_modules/.bin/nodesockd "npx --no-install nodesockd"; do
		run -127 --separate-stderr $bin -V
		[ "$output" = "" ]
		[ "${#stderr_lines[@]}" = 1 ]
		[ "$stderr" = "nodesockd: not built (installed without its scripts?): run \`npm rebuild nodesockd\`, or \`make\` in $pkg (a C compiler is needed)" ]
	done
	npm rebuild nodesockd >rebuild.out 2>&1 || { cat rebuild.out; false; }
	[ -x node_modules/nodesockd/nodesockd ]
	run -0 ./node_modules/.bin/nodesockd -V
	[[ "$output" =~ ^nodesockd\ [0-9] ]]
	run -0 npx --no-install nodesockd -V
	[[ "$output" =~ ^nodesockd\ [0-9] ]]
}

@test "npm install --global of the tarball: nodesockd on PATH is the daemon itself, its pid, signals and exit status" {
	tree
	pack
	npm install --global --prefix "$PWD/g" "$TGZ" >install.out 2>&1 || { cat install.out; false; }
	PATH="$PWD/g/bin:$PATH" run -0 nodesockd -V
	[[ "$output" =~ ^nodesockd\ [0-9] ]]
	# The CLI's own exit status: 2, no daemon answers.
	PATH="$PWD/g/bin:$PATH" run -2 nodesockd status -i "$PWD/none.ipc"
	# The daemon started through the bin is the binary, with the bin's pid:
	# SIGTERM stops it as it stops the binary.
	cp "$FIX/app.js" .
	NODESOCKD="$PWD/g/bin/nodesockd" start_daemon -s app.js
	wait_for 10 grep -q 'deploy done: 1 worker online' "$LOG"
	[ "$(readlink "/proc/$DPID/exe")" = "$PWD/g/lib/node_modules/nodesockd/nodesockd" ]
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	kill -TERM "$DPID"
	wait_for 15 gone "$DPID"
	run -0 wait "$DPID"
	[ ! -e app.0.sock ]
	# Without the build, the global bin names the global rebuild.
	rm g/lib/node_modules/nodesockd/nodesockd
	run -127 --separate-stderr g/bin/nodesockd -V
	[[ "$stderr" == *"run \`npm rebuild --global nodesockd\`, or \`make\` in $PWD/g/lib/node_modules/nodesockd (a C compiler is needed)" ]]
}

@test "one version: nodesockd -V, config.mk, package.json, the man page's footer and the README's tarball agree" {
	v=$(sed -n 's/^VERSION = //p' "$ROOT/config.mk")
	[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	run -0 "$NODESOCKD" -V
	[ "$output" = "nodesockd $v" ]
	[ "$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")" = "$v" ]
	[ "$(sed -n 's/^\.Os //p' "$ROOT/nodesockd.1")" = "nodesockd\\-$v" ]
	# The README's tarball.
	grep -q "^    npm install ./nodesockd-$v\.tgz " "$ROOT/README"
	# `man ./nodesockd.1` in the checkout: the version in the footer.
	need man man-db
	MANWIDTH=80 man -l "$ROOT/nodesockd.1" >page.txt 2>/dev/null
	[[ "$(tail -n 1 page.txt)" =~ ^nodesockd-$v\ .*\ nodesockd-$v$ ]]
}

@test "make static without musl-gcc says how to get it" {
	mkdir src
	cp "$ROOT"/*.c "$ROOT"/*.h "$ROOT/Makefile" "$ROOT/config.mk" src/
	fake=$(path_without musl-gcc)
	PATH=$fake run -2 make -C src static
	[[ "$output" == *"musl-gcc is not installed: apt-get install musl-tools (Debian, Ubuntu), or set STATICCC to a musl compiler"* ]]
	[ ! -e src/nodesockd-static ]
}

@test "without nginx in PATH make check skips the Nginx tests with the reason and passes; NODESOCKD_NO_SKIP=1 fails them" {
	fake=$(path_without nginx)
	! PATH=$fake command -v nginx || false
	n=$(grep -c '^@test ' "$ROOT/t/05-nginx.bats")
	[ "$n" -gt 0 ]
	run -0 env -i HOME="$HOME" PATH="$fake" make -s -C "$ROOT" check TESTS=t/05-nginx.bats
	[ "$(grep -c '^ok [0-9]* .* # skip nginx is not installed (Debian: nginx)$' <<<"$output")" = "$n" ]
	[ "${lines[-1]}" = "0 passed, $n skipped, 0 failed" ]
	# make's own "Error 1" goes to stderr, after the summary.
	run -2 --separate-stderr env -i HOME="$HOME" PATH="$fake" NODESOCKD_NO_SKIP=1 \
	    make -s -C "$ROOT" check TESTS=t/05-nginx.bats
	[ "$(grep -c '^not ok ' <<<"$output")" = "$n" ]
	grep -q 'nginx is not installed (Debian: nginx), and NODESOCKD_NO_SKIP=1 makes that a failure' <<<"$output"
	[ "${lines[-1]}" = "0 passed, 0 skipped, $n failed" ]
}

@test "t/summary: one last line; fails on a failure, a short run, a bats error, and a skip under NODESOCKD_NO_SKIP=1" {
	summary() { env -u NODESOCKD_NO_SKIP sh "$ROOT/t/summary" "$@"; }
	printf '1..3\nok 1 a\nok 2 b # skip x is not installed\nok 3 c\n' >pass.tap
	run -0 summary pass.tap 0
	[ "$output" = "2 passed, 1 skipped, 0 failed" ]
	NODESOCKD_NO_SKIP=1 run -1 sh "$ROOT/t/summary" pass.tap 0
	[ "${lines[-1]}" = "2 passed, 1 skipped, 0 failed" ]
	[[ "${lines[0]}" == *"NODESOCKD_NO_SKIP=1"* ]]
	printf '1..3\nok 1 a\nnot ok 2 b\n# (in test file x.bats, line 2)\nok 3 c\n' >fail.tap
	run -1 summary fail.tap 1
	[ "$output" = "2 passed, 0 skipped, 1 failed" ]
	printf '1..3\nok 1 a\n' >short.tap
	run -1 summary short.tap 1
	[ "${lines[-1]}" = "1 passed, 0 skipped, 0 failed" ]
	run -1 summary pass.tap 2
	[ "${lines[-1]}" = "2 passed, 1 skipped, 0 failed" ]
	run -1 summary none.tap 1
	[ "${lines[-1]}" = "0 passed, 0 skipped, 0 failed" ]
}

# demo_started: make demo has printed its URL, its pids and its directory:
# $URL, $NGINX_PID, $DAEMON_PID, $DIR.
demo_started() {
	grep -q '^nodesockd demo: http://127.0.0.1:[0-9]*/ ' demo.out || return 1
	URL=$(sed -n 's|^nodesockd demo: \(http://[^ ]*\) .*|\1|p' demo.out)
	NGINX_PID=$(sed -n 's/.* Nginx (pid \([0-9]*\)).*/\1/p' demo.out)
	DAEMON_PID=$(sed -n 's/.* nodesockd (pid \([0-9]*\)).*/\1/p' demo.out)
	DIR=$(sed -n 's/.* on UNIX sockets in \(.*\)$/\1/p' demo.out)
}

# children PID: the pids of PID's children, from /proc.
children() {
	local f s ppid
	for f in /proc/[0-9]*/stat; do
		s=$(cat "$f" 2>/dev/null) || continue
		read -r _ ppid _ <<<"${s##*) }"
		[ "$ppid" != "$1" ] || { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}

# left_behind: every process of the demo is gone, and every file.
left_behind() {
	local p
	for p in "$NGINX_PID" "$DAEMON_PID" $NGINX_WORKERS $(worker_pids); do
		gone "$p" || { echo "pid $p is left"; return 1; }
	done
	[ -z "$(ls -A tmp)" ] || { echo "files left:"; ls -AR tmp; return 1; }
	[ "$(ls -A "$ROOT/example")" = "$EXAMPLE" ] || { echo "files left in example/"; return 1; }
}

@test "make demo: the example behind a private Nginx answers; Ctrl-C stops it all and leaves nothing behind" {
	need nginx
	mkdir tmp
	EXAMPLE=$(ls -A "$ROOT/example")
	LOG=$PWD/demo.err    # teardown kills the workers it logs
	# In a session of its own, as a terminal would run it, to send Ctrl-C's
	# SIGINT to its whole process group.
	TMPDIR=$PWD/tmp setsid make -s -C "$ROOT" demo >demo.out 2>demo.err &
	demo=$!
	echo "$demo" >>pids
	wait_for 40 demo_started || { cat demo.out demo.err; false; }
	[ -d "$DIR" ] && [[ "$DIR" == "$PWD/tmp/nodesockd-demo."* ]]
	grep -q "^  curl $URL\$" demo.out
	# ./nodesockd (./nodesockd-san under make check SAN=1), from the checkout.
	ns=$(cd "$(dirname "$NODESOCKD")" && pwd)/${NODESOCKD##*/}
	grep -q "^  ./${ns#"$ROOT"/} restart -i $DIR/nodesockd.ipc " demo.out
	for i in 1 2 3 4; do
		run -0 curl -sS --max-time 10 "$URL"
		[[ "$output" =~ ^hello\ from\ worker\ [01]\ \(pid\ [0-9]+\)$ ]]
		p=${output##*pid }
		p=${p%)}
		grep -q "worker [01] (pid $p) published as $DIR/app.[01].sock" demo.err
	done
	# Its control socket works as the demo says.
	run -0 "$NODESOCKD" restart -i "$DIR/nodesockd.ipc"
	run -0 curl -sS --max-time 10 "$URL"
	NGINX_WORKERS=$(children "$NGINX_PID")
	[ -n "$NGINX_WORKERS" ]
	kill -INT -- "-$demo"
	wait_for 40 gone "$demo"
	wait_for 10 left_behind
	grep -q "^nodesockd demo: stopped; $DIR removed\$" demo.out
	# One SIGINT reached nodesockd's workers: they finished, none was killed.
	[ "$(grep -c 'worker [01] (pid [0-9]*) exited with status 0' demo.err)" = 4 ]
	! grep 'was killed' demo.err || false
}

@test "DEMO_LOAD=1 make demo: deploys under load, N requests, 0 failed; DEMO_SECONDS ends it, leaving nothing behind" {
	need nginx
	mkdir tmp
	EXAMPLE=$(ls -A "$ROOT/example")
	LOG=$PWD/demo.err
	TMPDIR=$PWD/tmp DEMO_LOAD=1 DEMO_SECONDS=8 make -s -C "$ROOT" demo >demo.out 2>demo.err &
	demo=$!
	echo "$demo" >>pids
	wait_for 40 demo_started || { cat demo.out demo.err; false; }
	NGINX_WORKERS=$(children "$NGINX_PID")
	wait_for 60 gone "$demo"
	wait "$demo" || { cat demo.out demo.err; false; }
	left_behind
	grep -q '^deploy 1 done; [0-9]* requests so far, 0 failed$' demo.out
	[[ "$(tail -n 1 demo.out)" =~ ^[1-9][0-9]*\ requests,\ 0\ failed$ ]]
	# Each deploy replaced both workers.
	d=$(grep -c '^deploy [0-9]* done' demo.out)
	[ "$(grep -c 'deploy done: 2 workers online' demo.err)" = $((d + 1)) ]
}

@test "make demo without Nginx says how to install it" {
	run -1 env NGINX="$PWD/no-nginx" node "$ROOT/example/demo.js"
	[ "$output" = "nodesockd demo: nginx is not installed (no $PWD/no-nginx): apt-get install nginx (Debian, Ubuntu) or brew install nginx (macOS)" ]
}
