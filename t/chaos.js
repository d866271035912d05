'use strict';
// t/chaos.js SEED EVENTS: a seeded chaos run. A daemon ($NODESOCKD, by
// default ./nodesockd) with 3 workers (t/fixtures/chaos-worker.js) behind a
// private Nginx on 127.0.0.1, under steady load from t/fixtures/load.js, and
// EVENTS events drawn from a PRNG (mulberry32) seeded with SEED: kill -9 of a
// worker, SIGSTOP/SIGCONT of a worker, restart, restart --suspended + resume,
// stop + start, SIGHUP, a control client hanging up mid-command, a client
// pipelining 1000 commands, kill -9 of the daemon (idle or mid-deploy) and a
// new daemon, a deploy whose workers crash at boot. After each event settles
// (every wait bounded), the invariants:
//   - every public name app.N.sock points at a live, online worker of the
//     current daemon that answers HTTP;
//   - no process from any worker lives outside the current daemon's tree
//     (each carries NODESOCKD_CHAOS=<run> from the daemon's environment; an
//     old daemon's are allowed until the new one has published, plus
//     drainDelay, shutdownTimeout and 3 s);
//   - the daemon has at most 64 fds and 8 MB of RSS (128 MB: nodesockd-san);
//   - every control command got exactly one final answer ("ok", "error: ");
//   - over a quiet second (HTTP load only) the daemon uses at most 5 % of a
//     core and makes at most 100 read(2)s + write(2)s; while a hung-up
//     client's deploy runs, 25 % and 1000 (a spinning loop makes 10,000s);
//   - no sanitizer report from the daemon or a client.
// At the end a SIGTERM, shortly after a SIGHUP: the daemon exits 0 within a
// bound and leaves no process behind. HTTP failures are counted and printed
// (by event), not judged. The event sequence is a function of SEED alone: a
// failure prints the command that replays it (`make chaos SEED=S EVENTS=N`),
// though timings differ from run to run.
// KEEP_GOING=1 reports a failure and goes on; CHAOS_ONLY=kind,... draws
// from those events alone (another sequence, then); CHAOS_KEEP=1 keeps the
// scratch directory; CHAOS_RUN names the run (t/15-chaos.bats sets it to
// find every process of the run by its mark in teardown).
const fs = require('fs');
const path = require('path');
const net = require('net');
const http = require('http');
const os = require('os');
const { spawn, execFile, execFileSync } = require('child_process');

const SEED = Number(process.argv[2] || 1) >>> 0;
const EVENTS = Number(process.argv[3] || 500);
const BIN = path.resolve(process.env.NODESOCKD || path.join(__dirname, '..', 'nodesockd'));
const SAN = /-san$/.test(BIN);
const RUN = process.env.CHAOS_RUN || `chaos-${process.pid}`;
const FIX = path.join(__dirname, 'fixtures');
const TIMEOUTS = { onlineTimeout: 3000, drainDelay: 150, shutdownTimeout: 1500 };
const MAXFDS = 64, MAXRSS = SAN ? 128 * 1024 : 8 * 1024;	// kB
const MAXIDLE = 5, MAXBUSY = 25;	// % of a core
const MAXIDLEIO = 100, MAXBUSYIO = 1000;	// read(2)s + write(2)s
const SETTLE = 45000;	// ms: a slot in its longest back-off (30 s) is back in it
const GRACE = TIMEOUTS.drainDelay + TIMEOUTS.shutdownTimeout + 3000;
const HZ = Number(execFileSync('getconf', ['CLK_TCK'])) || 100;
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'nodesockd-chaos-'));
const CONF = path.join(DIR, 'app.json'), LOG = path.join(DIR, 'daemon.log');
const IPC = path.join(DIR, 'nodesockd.ipc'), FLAG = path.join(DIR, 'crash');
const ACCESS = path.join(DIR, 'nginx', 'access.log');
process.env.NODESOCKD_CHAOS_HARNESS = RUN;	// on all we start: nginx, load, clients

class Fail extends Error {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (m) => console.log(`chaos: ${m}`);
const mark = (m) => fs.appendFileSync(LOG, `chaos: ${m}\n`);

function mulberry32(a) {
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
const rand = mulberry32(SEED);

// Processes, from /proc, zombies left out: pid -> { ppid, cmd, worker (has
// the daemons' mark), ours (has a mark of this run) }.
function procs() {
	const m = new Map();
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
			const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
			if (f[0] === 'Z') continue;
			const env = `\0${fs.readFileSync(`/proc/${d}/environ`, 'latin1')}`;
			const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
			const worker = env.includes(`\0NODESOCKD_CHAOS=${RUN}\0`);
			m.set(Number(d), { ppid: Number(f[1]), cmd: cmd.slice(0, 60), worker,
				ours: worker || env.includes(`\0NODESOCKD_CHAOS_HARNESS=${RUN}\0`) });
		} catch (e) { /* gone meanwhile, or not ours to read */ }
	}
	return m;
}
function inTree(ps, pid, top) {
	for (let i = 0; pid > 1 && i < 100; i++, pid = ps.has(pid) ? ps.get(pid).ppid : 0)
		if (pid === top) return true;
	return false;
}
const list = (ps) => ps.map(([pid, p]) => `\n  ${pid} (${p.cmd}; parent ${p.ppid})`).join('');
function statOf(pid) {
	const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
	const num = (file, re) => Number((re.exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8')) || [0, 0])[1]);
	return { ticks: Number(f[11]) + Number(f[12]), rss: num('status', /VmRSS:\s+(\d+)/),
		fds: fs.readdirSync(`/proc/${pid}/fd`).length,
		io: num('io', /syscr: (\d+)/) + num('io', /syscw: (\d+)/) };
}
const cpuPct = (s0, s1, ms) => ((s1.ticks - s0.ticks) / HZ) * 100000 / Math.max(ms, 1);

// A file from byte offset off on (the daemon's log, Nginx's).
function readFrom(file, off) {
	const fd = fs.openSync(file, 'r'), buf = Buffer.alloc(Math.max(0, fs.fstatSync(fd).size - off));
	fs.readSync(fd, buf, 0, buf.length, off);
	fs.closeSync(fd);
	return buf.toString('latin1');
}
const logSize = () => fs.statSync(LOG).size;
async function logged(off, re, ms = 20000) {
	for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) {
		const m = re.exec(readFrom(LOG, off));
		if (m) return m[0];
	}
	throw new Fail(`the daemon never logged ${re} within ${ms} ms`);
}

// The daemons. d is the current one: { pid, proc, exited, code once exited }.
let d = null, nginx = null, load = null, restarts = 0;
const daemons = [];
function startDaemon() {
	const out = fs.openSync(LOG, 'a');
	const proc = spawn(BIN, ['-c', CONF], { stdio: ['ignore', out, out],
		env: { ...process.env, NODESOCKD_CHAOS: RUN, CHAOS_CRASH: FLAG } });
	fs.closeSync(out);
	const me = d = { pid: proc.pid, proc, code: undefined };
	me.exited = new Promise((r) => proc.on('exit', (c, s) => { me.code = s || c; r(); }));
	daemons.push(me);
	mark(`daemon started, pid ${d.pid}`);
}

// A command through the CLI: { code, out, err }. Exit 0 (ok) or 1 (error:)
// means a final answer came, 2 none. A client's sanitizer report is kept.
const SANRE = /(AddressSanitizer|LeakSanitizer|runtime error:).*/;
let sanReport = null;
const ctl = (...args) => new Promise((resolve) => execFile(BIN, [...args, '-c', CONF], { timeout: 30000 }, (e, out, err) => {
	sanReport = sanReport || (SANRE.exec(err) || [])[0];
	resolve({ code: e ? (e.killed ? 'timeout' : e.code) : 0, out, err });
}));
async function must(...args) {
	const r = await ctl(...args);
	if (r.code !== 0) throw new Fail(`"${args.join(' ')}" exited ${r.code}: ${(r.err + r.out).trim().slice(0, 300)}`);
	return r;
}

// One raw control connection: send text (and half-close, with end); the
// lines received once the daemon closes, once enough(lines), or at 30 s,
// and whether it connected at all.
const raw = (text, end, enough) => new Promise((resolve) => {
	let buf = '', connected = false;
	const c = net.connect(IPC, () => { connected = true; if (end) c.end(text); else c.write(text); });
	const done = () => { clearTimeout(t); c.destroy(); resolve(Object.assign(buf.split('\n').filter(Boolean), { connected })); };
	const t = setTimeout(done, 30000);
	c.on('data', (b) => { buf += b; if (enough(buf.split('\n'))) done(); }).on('close', done).on('error', done);
});
const finals = (lines) => lines.filter((l) => l === 'ok' || l.startsWith('error: '));

const get = (sock) => new Promise((resolve) => {
	const fail = (e) => resolve({ error: e.code || e.message });
	const req = http.get({ socketPath: sock, agent: false, timeout: 3000 }, (res) => {
		let body = '';
		res.setEncoding('utf8').on('error', fail).on('data', (c) => { body += c; })
			.on('end', () => resolve({ status: res.statusCode, body }));
	}).on('error', fail).on('timeout', () => req.destroy(new Error('no answer within 3 s')));
});

const pub = (i) => path.join(DIR, `app.${i}.sock`);
function pubPid(i) {
	try { return Number(/\.sock\.(\d+)$/.exec(fs.readlinkSync(pub(i)))[1]); } catch (e) { return 0; }
}
const pubPids = () => [0, 1, 2].map(pubPid);
function changed(before, why) {
	const now = pubPids();
	if (now.some((p, i) => p === before[i])) throw new Fail(`${why}: not every slot got a new worker: ${before} -> ${now}`);
}

// Why the slots are not all fine, or null: status (on a connection of its
// own, which must get one final answer, last) shows one worker a slot,
// online; the public name points at it; it is a child of the current daemon
// and answers HTTP with its pid and slot.
async function slotsWrong() {
	const st = await raw('status\n', true, () => false);
	if (!st.connected) return 'the control socket does not answer';
	if (finals(st).length !== 1 || st[st.length - 1] !== 'ok')
		throw new Fail(`"status" got ${finals(st).length} final answers, not one, last: ${st.slice(-3).join(' | ')}`);
	const rows = st.slice(1, -1).map((l) => l.split(/\s+/));
	if (rows.length !== 3 || rows.some((r, i) => r[0] !== String(i) || r[2] !== 'online'))
		return `status is not one online worker a slot:\n${st.join('\n')}`;
	const ps = procs();
	for (let i = 0; i < 3; i++) {
		const pid = pubPid(i);
		if (String(pid) !== rows[i][1]) return `app.${i}.sock points at pid ${pid}, status says ${rows[i][1]}`;
		if (!ps.has(pid)) return `app.${i}.sock: worker ${pid} is not alive`;
		if (ps.get(pid).ppid !== d.pid) return `app.${i}.sock: ${pid} is not a child of the daemon ${d.pid}`;
		const r = await get(pub(i));
		if (r.body !== `${pid} ${i}\n`) return `app.${i}.sock: HTTP ${JSON.stringify(r)}, not "${pid} ${i}"`;
	}
	return null;
}

// Wait until the slots are fine and, within GRACE of that, nothing of a
// worker is left outside the current daemon's tree.
async function settle() {
	const t0 = Date.now();
	let okSince = 0;
	for (;; await sleep(100)) {
		if (d.code !== undefined) throw new Fail(`the daemon (pid ${d.pid}) exited: ${d.code}`);
		if (nginx && nginx.exitCode !== null) throw new Fail('nginx exited (harness)');
		const why = await slotsWrong();
		if (why) {
			okSince = 0;
			if (Date.now() - t0 > SETTLE) throw new Fail(`not settled after ${SETTLE} ms: ${why}`);
			continue;
		}
		okSince = okSince || Date.now();
		const ps = procs(), left = [...ps].filter(([pid, p]) => p.worker && !inTree(ps, pid, d.pid));
		if (!left.length) return;
		if (Date.now() - okSince > GRACE)
			throw new Fail(`processes of workers outside the daemon's tree, ${GRACE} ms after the slots were fine:${list(left)}`);
	}
}

// After each event: fds, RSS, CPU and read(2)s + write(2)s over a quiet
// second, and no sanitizer report since the last time.
const stats = { fds: 0, rss: 0, idle: 0, idleio: 0, busy: 0, failures: {} };
let sanOff = 0;
async function measure() {
	const s0 = statOf(d.pid), t0 = Date.now();
	await sleep(1000);
	const s1 = statOf(d.pid), cpu = cpuPct(s0, s1, Date.now() - t0), io = s1.io - s0.io;
	stats.fds = Math.max(stats.fds, s1.fds);
	stats.rss = Math.max(stats.rss, s1.rss);
	stats.idle = Math.max(stats.idle, cpu);
	stats.idleio = Math.max(stats.idleio, io);
	if (s1.fds > MAXFDS) throw new Fail(`the daemon has ${s1.fds} open fds (at most ${MAXFDS})`);
	if (s1.rss > MAXRSS) throw new Fail(`the daemon's VmRSS is ${s1.rss} kB (at most ${MAXRSS})`);
	if (cpu > MAXIDLE || io > MAXIDLEIO)
		throw new Fail(`over a quiet second the daemon used ${cpu.toFixed(1)} % of a core and made ${io} reads+writes (at most ${MAXIDLE} %, ${MAXIDLEIO})`);
	const text = readFrom(LOG, sanOff), san = SANRE.exec(text);
	sanOff += text.length;
	if (san || sanReport) throw new Fail(`sanitizer report: ${san ? san[0] : sanReport}`);
}

// The events. Each gets three numbers from the PRNG, used or not, so that
// the sequence depends on the seed alone, and says what it did in `what`.
let what = '';
const events = {
	async kill9worker(a) {
		const i = Math.floor(a * 3), pid = pubPid(i);
		what = `slot ${i} pid ${pid}`;
		process.kill(pid, 'SIGKILL');
	},
	async stopcont(a, b) {
		const i = Math.floor(a * 3), pid = pubPid(i), ms = 50 + Math.floor(b * 950);
		what = `slot ${i} pid ${pid} for ${ms} ms`;
		process.kill(pid, 'SIGSTOP');
		await sleep(ms);
		process.kill(pid, 'SIGCONT');
	},
	async restart() {
		const before = pubPids();
		await must('restart');
		changed(before, 'restart');
	},
	async suspended(a) {
		const before = pubPids(), ms = Math.floor(a * 500);
		what = `resume after ${ms} ms`;
		await must('restart', '--suspended');
		changed(before, 'restart --suspended');
		await sleep(ms);
		const r = await must('resume');
		if (r.out.trim() !== 'resumed 3 workers') throw new Fail(`resume said ${JSON.stringify(r.out)}`);
	},
	async stopstart(a) {
		const ms = Math.floor(a * 500);
		what = `start after ${ms} ms`;
		await must('stop');
		const there = [0, 1, 2].filter((i) => { try { return fs.lstatSync(pub(i)); } catch (e) { return false; } });
		if (there.length) throw new Fail(`after stop, public names remain: ${there}`);
		for (const t0 = Date.now(); ; await sleep(100)) {
			const left = [...procs()].filter(([pid, p]) => p.worker && pid !== d.pid);
			if (!left.length) break;
			if (Date.now() - t0 > GRACE) throw new Fail(`${GRACE} ms after stop, processes of workers remain:${list(left)}`);
		}
		await sleep(ms);
		await must('start');
	},
	async sighup() {
		const before = pubPids(), off = logSize();
		process.kill(d.pid, 'SIGHUP');
		const m = await logged(off, /deploy (done|failed).*|SIGHUP ignored.*/);
		if (!m.startsWith('deploy done')) throw new Fail(`SIGHUP: ${m}`);
		changed(before, 'SIGHUP');
	},
	async hangup(a, b) {
		// With a status first, a reply may be queued for the dead client.
		const text = b < 0.5 ? 'restart\n' : 'status\nrestart\n', off = logSize();
		what = JSON.stringify(text);
		await new Promise((resolve) => {
			const c = net.connect(IPC, () => c.write(text, () => { c.destroy(); resolve(); }));
			c.on('error', resolve);
		});
		const t0 = Date.now(), s0 = statOf(d.pid);
		const m = await logged(off, /deploy (done|failed).*/), s1 = statOf(d.pid);
		const cpu = cpuPct(s0, s1, Date.now() - t0), io = s1.io - s0.io;
		stats.busy = Math.max(stats.busy, cpu);
		what += `, daemon at ${cpu.toFixed(0)} % and ${io} reads+writes meanwhile`;
		if (!m.startsWith('deploy done')) throw new Fail(`hung-up client's restart: ${m}`);
		if (cpu > MAXBUSY || io > MAXBUSYIO) throw new Fail(`the daemon spun during the deploy (at most ${MAXBUSY} %, ${MAXBUSYIO})`);
	},
	async pipeline(a, b) {
		const pos = Math.floor(a * 1000), end = b < 0.5, before = pubPids();
		what = `restart at ${pos}, ${end ? 'half-closed' : 'kept open'}`;
		const cmds = Array(1000).fill('status');
		cmds[pos] = 'restart';
		const lines = await raw(`${cmds.join('\n')}\n`, end, (l) => !end && finals(l).length >= 1000);
		const f = finals(lines), bad = f.filter((l) => l !== 'ok');
		if (f.length !== 1000 || bad.length)
			throw new Fail(`1000 pipelined commands: ${f.length} final answers, ${bad.length} errors ${bad.slice(0, 3)}`);
		changed(before, 'pipelined restart');
	},
	async kill9daemon(a, b) {
		const how = ['idle', 'mid-restart', 'mid-SIGHUP'][Math.floor(a * 3)], ms = Math.floor(b * 800);
		what = `${how}${how === 'idle' ? '' : ` after ${ms} ms`}, old daemon pid ${d.pid}`;
		const cli = how === 'mid-restart' ? ctl('restart') : null;
		if (how === 'mid-SIGHUP') process.kill(d.pid, 'SIGHUP');
		if (how !== 'idle') await sleep(ms);
		process.kill(d.pid, 'SIGKILL');
		await Promise.race([d.exited, sleep(5000)]);
		if (d.code === undefined) throw new Fail('the daemon did not die of SIGKILL within 5 s');
		const r = cli && await cli;
		if (r && r.code !== 0 && r.code !== 2) throw new Fail(`restart cut by kill -9 exited ${r.code}: ${r.err}`);
		startDaemon();
		restarts++;
		what += `, new daemon pid ${d.pid}`;
	},
	async crashboot() {
		const before = pubPids();
		fs.writeFileSync(FLAG, '');
		const r = await ctl('restart');
		fs.rmSync(FLAG, { force: true });
		what = r.err.trim().replace(/^nodesockd: /, '');
		if (r.code !== 1) throw new Fail(`a deploy crashing at boot exited ${r.code}, not 1`);
		if (String(pubPids()) !== String(before)) throw new Fail(`a failed deploy changed the public names: ${before} -> ${pubPids()}`);
	},
};
// CHAOS_ONLY=kind,kind: draw from these alone (to chase one fault).
const kinds = process.env.CHAOS_ONLY ? process.env.CHAOS_ONLY.split(',') : Object.keys(events);
for (const k of kinds) if (!events[k]) throw new Error(`CHAOS_ONLY: no event ${k}; there are ${Object.keys(events)}`);

// Nginx's failed answers since the last call, by status (it logs no 200).
let accessOff = 0;
function httpFailures() {
	const text = readFrom(ACCESS, accessOff), by = {};
	accessOff += text.length;
	for (const l of text.split('\n')) if (l) by[l.split(' ')[0]] = (by[l.split(' ')[0]] || 0) + 1;
	return by;
}

async function nginxUp() {
	const port = await new Promise((r) => {
		const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); });
	});
	const n = path.dirname(ACCESS), url = `http://127.0.0.1:${port}/`;
	const vars = { DIR: n, SOCK: DIR, PORT: port, USER: process.getuid() === 0 ? 'user root;' : '' };
	fs.mkdirSync(n);
	fs.writeFileSync(`${n}/nginx.conf`, fs.readFileSync(path.join(FIX, 'chaos-nginx.conf'), 'utf8')
		.replace(/@(\w+)@/g, (m, v) => vars[v]));
	fs.writeFileSync(ACCESS, '');
	const out = fs.openSync(`${n}/out`, 'a');
	nginx = spawn('nginx', ['-p', n, '-e', `${n}/error.log`, '-c', `${n}/nginx.conf`], { stdio: ['ignore', out, out] });
	fs.closeSync(out);
	for (const t0 = Date.now(); Date.now() - t0 < 10000 && nginx.exitCode === null; await sleep(100)) {
		const ok = await new Promise((r) => http.get(url, { timeout: 2000 }, (res) => r(res.resume().statusCode === 200))
			.on('error', () => r(false)));
		if (ok) return url;
	}
	throw new Fail(`nginx did not come up on ${url}: ${fs.readFileSync(`${n}/out`, 'utf8')}`);
}

// On any exit: every process of the run, by pid: those below us (Nginx's
// workers too, whose marks its title overwrites) and those marked (what
// the workers of a killed daemon left); then the scratch directory.
// Again until none is found: a worker may have forked meanwhile.
function cleanup() {
	for (let round = 0, found = 1; found && round < 20; round++) {
		const ps = procs();
		found = 0;
		for (const [pid, p] of ps)
			if (pid !== process.pid && (p.ours || inTree(ps, pid, process.pid))) try { process.kill(pid, 'SIGKILL'); found++; } catch (e) { /* gone */ }
		Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);	// sleep 50 ms
	}
	if (process.env.CHAOS_KEEP) say(`kept ${DIR}`);
	else fs.rmSync(DIR, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { say(`${s}: cleaning up`); process.exit(130); });

const replay = `${process.env.CHAOS_ONLY ? `CHAOS_ONLY=${process.env.CHAOS_ONLY} ` : ''}make chaos${SAN ? ' SAN=1' : ''} SEED=${SEED} EVENTS=${EVENTS}`;
function report(where, msg) {
	say(`FAILED at ${where}: ${msg}`);
	say(`replay: ${replay}`);
	const tail = fs.readFileSync(LOG, 'latin1').trimEnd().split('\n').slice(-40);
	say(`daemon log, last 40 lines:\n${tail.map((l) => `  | ${l}`).join('\n')}`);
}

async function main() {
	const t0 = Date.now(), failed = [];
	say(`seed ${SEED} events ${EVENTS} daemon ${BIN} dir ${DIR}`);
	fs.writeFileSync(CONF, JSON.stringify({ script: path.join(FIX, 'chaos-worker.js'), workers: 3, ...TIMEOUTS }));
	startDaemon();
	await settle();
	const url = await nginxUp();
	load = spawn(process.execPath, [path.join(FIX, 'load.js'), url, '100000', '3', '10000'],
		{ env: { ...process.env, STOP: path.join(DIR, 'stop') }, stdio: ['ignore', 'pipe', 'inherit'] });
	let loadOut = '';
	load.stdout.on('data', (b) => { loadOut += b; });
	const loadDone = new Promise((r) => load.on('exit', r));
	await measure();
	for (let n = 1; n <= EVENTS; n++) {
		const kind = kinds[Math.floor(rand() * kinds.length)], args = [rand(), rand(), rand()], te = Date.now();
		mark(`event ${n} ${kind}`);
		what = '';
		try {
			await events[kind](...args);
			await settle();
			await measure();
			const by = httpFailures(), nf = Object.values(by).reduce((x, y) => x + y, 0);
			if (nf) stats.failures[kind] = (stats.failures[kind] || 0) + nf;
			say(`event ${n}/${EVENTS} ${kind}${what ? ` (${what})` : ''}: ok, ${((Date.now() - te) / 1000).toFixed(1)}s` +
				`${nf ? `, HTTP failures ${JSON.stringify(by)}` : ''}`);
		} catch (e) {
			if (!(e instanceof Fail)) throw e;
			report(`event ${n}/${EVENTS} (${kind}${what ? `: ${what}` : ''})`, e.message);
			failed.push(`${n} ${kind}`);
			if (!process.env.KEEP_GOING) return 1;
			// Go on from a clean state: no crash flag, no stray, a daemon.
			fs.rmSync(FLAG, { force: true });
			const ps = procs();
			for (const [pid, p] of ps) if (p.worker && !inTree(ps, pid, d.pid)) try { process.kill(pid, 'SIGKILL'); } catch (x) { /* gone */ }
			if (d.code !== undefined) { startDaemon(); restarts++; }
			await sleep(2000);
		}
	}
	// The end: the load's figures; then a SIGTERM, 0 to 300 ms after a
	// SIGHUP (so during its forks, often): exit 0, nothing left behind.
	fs.writeFileSync(path.join(DIR, 'stop'), '');
	await Promise.race([loadDone, sleep(15000)]);
	const ld = /requests (\d+) ok (\d+) non200 (\d+) errors (\d+) timeouts (\d+)/.exec(loadOut) || [];
	const off = logSize(), ms = Math.floor(rand() * 300);
	mark(`SIGHUP, then SIGTERM ${ms} ms later`);
	process.kill(d.pid, 'SIGHUP');
	await sleep(ms);
	process.kill(d.pid, 'SIGTERM');
	await Promise.race([d.exited, sleep(TIMEOUTS.shutdownTimeout + 10000)]);
	let end = d.code === 0 ? '' : `the daemon did not exit 0 on SIGTERM: ${d.code}`;
	if (!end && / killing every worker/.test(readFrom(LOG, off))) end = 'one SIGTERM made the daemon kill every worker';
	for (const t1 = Date.now(); !end; await sleep(100)) {
		const left = [...procs()].filter(([, p]) => p.worker);
		if (!left.length) break;
		if (Date.now() - t1 > GRACE) end = `${GRACE} ms after the daemon's exit, processes of workers remain:${list(left)}`;
	}
	if (end) {
		report(`the end (SIGTERM ${ms} ms after a SIGHUP)`, end);
		failed.push('end');
	}
	say(`HTTP failures by event: ${JSON.stringify(stats.failures)}; load: ${(/requests .* maxms \d+/.exec(loadOut) || ['none'])[0]}`);
	say(`summary: seed ${SEED} events ${EVENTS} time ${((Date.now() - t0) / 1000).toFixed(0)}s max-fds ${stats.fds}` +
		` max-rss ${stats.rss}kB max-idle-cpu ${stats.idle.toFixed(1)}% max-idle-io ${stats.idleio}` +
		` max-busy-cpu ${stats.busy.toFixed(0)}% requests ${ld[1]} http-failures ${Number(ld[3]) + Number(ld[4]) + Number(ld[5])}` +
		` daemon-restarts ${restarts} result ${failed.length ? `FAILED (${failed.join(', ')})` : 'ok'}`);
	return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
	say(`${e instanceof Fail ? 'FAILED' : 'harness error'}: ${e.stack || e}`);
	say(`replay: ${replay}`);
	process.exit(1);
});
