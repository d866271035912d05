# What ships beside the program: the man page and --help, make install,
# make static, and the files of example/.
load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MAN="$ROOT/nodesockd.1"

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# copytree: the sources of the program, in ./src, to build there.
copytree() {
	mkdir src
	cp "$ROOT"/*.c "$ROOT"/*.h "$ROOT/Makefile" "$ROOT/config.mk" "$MAN" src/
}

# section NAME: the mdoc source of one section of the man page.
section() {
	awk -v s=".Sh $1" '$0 == s { f = 1; next } /^\.Sh / { f = 0 } f' "$MAN"
}

# rendered: the man page as plain text, one paragraph a line, blanks squeezed.
rendered() {
	mandoc -T ascii -O width=1000 "$MAN" | sed 's/.\x08//g' | tr -s ' \t' '  '
}

# helpsection NAME: the entries under "NAME:" in --help, one a line,
# continuation lines joined.
helpsection() {
	"$NODESOCKD" --help | awk -v s="$1:" '
		$0 == s { f = 1; next }
		f && /^$/ { f = 0 }
		f && /^  [^ ]/ { if (e != "") print e; e = $0; next }
		f { sub(/^ +/, " "); e = e $0 }
		END { if (e != "") print e }' | tr -s ' ' ' '
}

@test "the man page passes mandoc -T lint without a warning" {
	need mandoc
	run -0 mandoc -T lint -W warning "$MAN"
	[ "$output" = "" ]
}

@test "the man page renders without a warning with groff and man -l" {
	need groff groff-base
	run -0 groff -mdoc -ww -z "$MAN"
	[ "$output" = "" ]
	need man man-db
	MANWIDTH=80 man -l "$MAN" >page.txt 2>err.txt
	[ ! -s err.txt ] || { cat err.txt; false; }
	grep -q '^SYNOPSIS' page.txt
	grep -q '^EXIT STATUS' page.txt
}

@test "--help and the man page name the same options and commands" {
	# Options: the long ones in --help, and in the man page's OPTIONS.
	help=$(helpsection options | grep -o -- '--[a-z-]*' | sort)
	man=$(section OPTIONS | sed -n 's/^\.It Fl [a-zA-Z] , Fl \\-\([a-z-]*\).*/--\1/p' | sort)
	[ "$help" = "$man" ] || { echo "--help: " $help; echo "man page:" $man; false; }
	[ "$(echo "$help" | wc -l)" = 12 ]
	# Their short forms.
	help=$(helpsection options | sed -n 's/^ *\(-[a-zA-Z]\),.*/\1/p' | sort)
	man=$(section OPTIONS | sed -n 's/^\.It Fl \([a-zA-Z]\) , .*/-\1/p' | sort)
	[ "$help" = "$man" ]
	# Commands: in --help, and each an .It Cm of CONTROL.
	help=$(helpsection commands | awk '{ print $1 }' | sort)
	man=$(section CONTROL | sed -n 's/^\.It Cm \([a-z]*\).*/\1/p' | sort)
	[ "$help" = "$man" ] || { echo "--help: " $help; echo "man page:" $man; false; }
	[ "$(echo "$help" | wc -l)" = 11 ]
	# And the synopsis of each is the same.
	need mandoc
	help=$("$NODESOCKD" --help | sed -n '/^usage:/,/^$/p' | sed 's/^usage://' |
	    awk '/^ *nodesockd/ { if (l) print l; l = $0; next } NF { l = l " " $0 } END { print l }' |
	    tr -s ' ' ' ' | sed 's/^ //')
	man=$(mandoc -T ascii -O width=1000 "$MAN" | sed 's/.\x08//g' |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -n 's/^ *\(nodesockd.*\)/\1/p' | tr -s ' ' ' ')
	[ "$help" = "$man" ] || { echo "--help:"; echo "$help"; echo "man page:"; echo "$man"; false; }
}

@test "--help says each command and option in the words of the man page" {
	need mandoc
	page=$(rendered | tr 'A-Z' 'a-z')
	while IFS= read -r entry; do
		# The words after the option (and its argument) or the command.
		words=$(echo "$entry" | sed -E 's/^ (-[a-zA-Z], --[a-z-]+( [A-Z]+)?|[a-z]+) //')
		lower=$(echo "$words" | tr 'A-Z' 'a-z')
		[[ "$page" == *"$lower"* ]] || { echo "not in the man page: $words"; false; }
	done < <(helpsection commands; helpsection options)
}

@test "the man page gives every config key with its default" {
	# (All but config, of the command line only.)
	keys=$(sed -n 's/^\t\[K_[A-Z]*\] *= { "\([a-zA-Z]*\)",.*/\1/p' "$ROOT/config.c" | grep -vx config)
	[ "$(echo "$keys" | wc -l)" = 16 ]
	for k in $keys; do
		entry=$(section CONFIGURATION | awk -v k="$k" '
			$1 == ".It" && $2 == "Cm" { f = ($3 == k) } f')
		[ -n "$entry" ] || { echo "no .It Cm $k in CONFIGURATION"; false; }
		[[ "$entry" == *"Default"* || "$entry" == *"Required"* ]] ||
		    { echo "no default for $k"; false; }
	done
}

@test "the man page gives every state, control reply and worker variable of the code" {
	states=$(grep -o '\[W_[A-Z]*\] = "[a-z]*"' "$ROOT/nodesockd.c" | cut -d'"' -f2)
	[ "$(echo "$states" | wc -l)" = 8 ]
	for st in $states; do
		section DESCRIPTION | grep -q "^\.It $st\$" || { echo "state $st"; false; }
	done
	for st in restarting down stopped; do
		grep -q "\"$st\"" "$ROOT/nodesockd.c" || { echo "code lacks: $st"; false; }
		section CONTROL | grep -qw "$st" || { echo "slot state $st"; false; }
	done
	for v in $(grep -ow 'setenv("[A-Z_]*"' "$ROOT/nodesockd.c" | cut -d'"' -f2) LISTEN_ON; do
		section "THE WORKER CHANNEL" | grep -q "^\.It Ev $v\>" || { echo "variable $v"; false; }
	done
	for msg in "already running" "busy: a %s is under way" "interrupted by stop" \
	    "line too long" "unknown command" "resumed %d worker%s" "cannot scale: %s" \
	    "a standby could not be started"; do
		grep -q "$msg" "$ROOT/nodesockd.c" "$ROOT/ipc.c" || { echo "code lacks: $msg"; false; }
	done
	for msg in "already running" "busy: a deploy is under way" "busy: a stop is under way" \
	    "interrupted by stop" "line too long" "unknown command" "resumed 2 workers" \
	    "busy: a scale is under way" "error: cannot scale:" \
	    "busy: a change of standbys is under way"; do
		grep -q "$msg" "$MAN" || { echo "man page lacks: $msg"; false; }
	done
	for s in SIGHUP SIGTERM SIGINT; do
		section SIGNALS | grep -q "Dv $s" || { echo "signal $s"; false; }
	done
}

@test "make install and uninstall honour DESTDIR, PREFIX and MANPREFIX" {
	copytree
	make -C src >/dev/null
	d="$BATS_TEST_TMPDIR/dest"
	run -0 make -C src install DESTDIR="$d" PREFIX=/usr
	[ -x "$d/usr/bin/nodesockd" ]
	run -0 "$d/usr/bin/nodesockd" --version
	version=${output#nodesockd }
	[ "$(grep '^\.Os' "$d/usr/share/man/man1/nodesockd.1")" = ".Os nodesockd\\-$version" ]
	! grep -q VERSION "$d/usr/share/man/man1/nodesockd.1" || false
	[ "$(stat -c %a "$d/usr/share/man/man1/nodesockd.1")" = 644 ]
	run -0 make -C src uninstall DESTDIR="$d" PREFIX=/usr
	[ -z "$(find "$d" -type f)" ]
	run -0 make -C src install DESTDIR="$d" PREFIX=/opt/nsd MANPREFIX=/opt/man
	[ -x "$d/opt/nsd/bin/nodesockd" ]
	[ -f "$d/opt/man/man1/nodesockd.1" ]
	run -0 make -C src uninstall DESTDIR="$d" PREFIX=/opt/nsd MANPREFIX=/opt/man
	[ -z "$(find "$d" -type f)" ]
}

@test "make static: a small static binary that runs workers, apart from make's" {
	need musl-gcc musl-tools
	copytree
	make -C src >/dev/null
	run -0 make -C src static
	bin=src/nodesockd-static
	size=$(stat -c %s "$bin")
	[ "$size" -lt 102400 ] || { echo "$size bytes"; false; }
	# No program interpreter: the kernel runs it as it is.
	! od -A n -c -N 4096 "$bin" | tr -d ' \n' | grep -q 'ld-linux\|ld-musl' || false
	run -0 "$bin" --version
	[[ "$output" =~ ^nodesockd\ [0-9] ]]
	# The objects and the binary of make are untouched and up to date.
	make -C src -q nodesockd
	# It runs a worker.
	cp "$FIX/app.js" .
	NODESOCKD="$PWD/$bin" start_daemon -s app.js
	wait_for 10 grep -q 'deploy done: 1 worker online' "$LOG"
	[ "$(get app.0.sock)" = "$(published_pid 0) 0" ]
	kill -TERM "$DPID"
	wait_for 10 gone "$DPID"
	wait "$DPID"
	[ ! -e app.0.sock ]
	need file
	file "$bin" | grep -q 'statically linked'
	file src/nodesockd | grep -q 'dynamically linked'
}

@test "the example runs as the README says, and holds requests while suspended" {
	grep -q '^    make && ./nodesockd -c example/nodesockd.json$' "$ROOT/README"
	grep -q '^    make check$' "$ROOT/README"
	cp -r "$ROOT/example" .
	cp "$ROOT/index.js" "$ROOT/package.json" .
	start_daemon -c example/nodesockd.json
	wait_for 10 grep -q 'deploy done: 2 workers online' "$LOG"
	[[ "$(get example/app.0.sock)" == "hello from worker 0 (pid $(published_pid 0))" ]]
	[[ "$(get example/app.1.sock)" == "hello from worker 1 (pid $(published_pid 1))" ]]
	run -0 "$NODESOCKD" restart --suspended -c example/nodesockd.json
	get example/app.1.sock >held.out &
	held=$!
	echo "$held" >>pids
	sleep 0.5
	[ ! -s held.out ]
	alive "$held"
	run -0 "$NODESOCKD" resume -c example/nodesockd.json
	[ "$output" = "resumed 2 workers" ]
	wait "$held"
	[ "$(cat held.out)" = "hello from worker 1 (pid $(published_pid 1))" ]
}

@test "example/nginx.conf passes nginx -t" {
	need nginx
	mkdir -p prefix/logs run
	sed "s#/srv/app/run/#$PWD/run/#g" "$ROOT/example/nginx.conf" >site.conf
	grep -q "server unix:$PWD/run/app.0.sock max_fails=0;" site.conf
	grep -q "server unix:$PWD/run/app.1.sock max_fails=0;" site.conf
	cat >nginx.conf <<-EOF
	pid $PWD/prefix/nginx.pid;
	error_log $PWD/prefix/logs/error.log;
	events {}
	http {
		access_log off;
		include $PWD/site.conf;
	}
	EOF
	run -0 nginx -t -p "$PWD/prefix" -e "$PWD/prefix/logs/error.log" -c "$PWD/nginx.conf"
	[[ "$output" == *"test is successful"* ]]
	# The single-socket form in its comment too.
	sed -n 's/^#\t//p' site.conf | grep -v '^$' >single.conf
	grep -q 'proxy_pass http://unix:' single.conf
	printf 'pid %s;\nerror_log %s;\nevents {}\nhttp { server { listen 8080;\n%s\n} }\n' \
	    "$PWD/prefix/nginx.pid" "$PWD/prefix/logs/error.log" "$(cat single.conf)" >single-nginx.conf
	run -0 nginx -t -p "$PWD/prefix" -e "$PWD/prefix/logs/error.log" -c "$PWD/single-nginx.conf"
}

@test "example/nodesockd.service passes systemd-analyze verify" {
	need systemd-analyze systemd
	# verify wants ExecStart's program to exist: point it at ours.
	sed "s#/usr/local/bin/nodesockd#$ROOT/nodesockd#g" "$ROOT/example/nodesockd.service" >nodesockd.service
	run -0 systemd-analyze verify --man=no ./nodesockd.service
	[ "$output" = "" ]
	# A crash of nodesockd kills no worker: the next one takes over.
	grep -q '^KillMode=process$' nodesockd.service
	grep -q '^Restart=always$' nodesockd.service
	# Ready once the workers are: nodesockd sends READY=1.
	grep -q '^Type=notify$' nodesockd.service
	grep -q '^ExecStart=.* -c /srv/app/nodesockd.json$' nodesockd.service
}

@test "example/docker and example/kubernetes parse, and agree with the config they run" {
	need python3
	python3 -c 'import yaml' 2>/dev/null || need python3-yaml-module python3-yaml
	cd "$ROOT/example"
	python3 - <<-'EOF'
	import json, yaml
	cfg = json.load(open('docker/nodesockd.json'))
	# Every Dockerfile line an instruction (or a comment, or a blank);
	# CMD runs nodesockd with that config, as PID 1 (the exec form).
	ins = {}
	for line in open('docker/Dockerfile'):
	    if line.strip() and not line.startswith('#'):
	        word, rest = line.split(None, 1)
	        assert word in ('FROM', 'COPY', 'WORKDIR', 'RUN', 'ENV', 'USER', 'STOPSIGNAL', 'CMD'), word
	        ins[word] = rest.strip()
	assert json.loads(ins['CMD']) == ['nodesockd', '-c', '/app/nodesockd.json']
	assert ins['STOPSIGNAL'] == 'SIGTERM'
	docs = {d['kind']: d for d in yaml.safe_load_all(open('kubernetes/app.yaml'))}
	pod = docs['Deployment']['spec']['template']['spec']
	app, nginx = pod['containers']
	assert app['command'] == json.loads(ins['CMD'])
	mounts = lambda c: {m['mountPath'] for m in c['volumeMounts']}
	assert cfg['tmpDir'] in mounts(app) and cfg['tmpDir'] in mounts(nginx)
	# The grace period covers the preStop sleep and shutdownTimeout.
	sleep = int(app['lifecycle']['preStop']['exec']['command'][1])
	assert pod['terminationGracePeriodSeconds'] > sleep + cfg['shutdownTimeout'] / 1000
	conf = docs['ConfigMap']['data']['app.conf']
	for i in range(cfg['workers']):
	    assert 'server unix:%s/app.%d.sock max_fails=0;' % (cfg['tmpDir'], i) in conf
	assert nginx['readinessProbe']['httpGet']['port'] == nginx['ports'][0]['containerPort']
	EOF
}

@test "the runit and s6 run scripts are valid sh" {
	cd "$ROOT/example"
	for f in runit/run runit/log/run s6/nodesockd/run; do
		[ -x "$f" ] || { echo "$f is not executable"; false; }
		sh -n "$f"
	done
	[ "$(cat s6/nodesockd/type)" = longrun ]
	need shellcheck
	shellcheck runit/run runit/log/run s6/nodesockd/run
}

@test "the C stays under 3,000 lines (wc -l *.c *.h)" {
	n=$(cd "$ROOT" && cat ./*.c ./*.h | wc -l)
	echo "$n lines"
	[ "$n" -lt 3000 ]
}
