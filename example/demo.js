#!/usr/bin/env node
'use strict';
// make demo: the example app (example/nodesockd.json, two workers) under
// nodesockd, behind a private Nginx on 127.0.0.1 and a free high port
// serving example/nginx.conf's site. Everything runs as the current user
// out of one temporary directory. It prints the URL and serves until
// Ctrl-C, then stops Nginx and nodesockd by their pids and removes the
// directory.
//
//   DEMO_LOAD=1     load from 4 clients, a deploy (nodesockd restart) every
//                   3 s, and in the end "N requests, 0 failed"
//   DEMO_SECONDS=N  end by itself after N seconds of serving
//   DEMO_PORT=N     this port rather than a free one
//   NGINX=PATH      this nginx (default: nginx in PATH, /usr/sbin, /usr/local/sbin)
//   NODESOCKD=PATH  this daemon (default: ./nodesockd, which make demo builds)
//
// Nginx and nodesockd run in sessions of their own, so that Ctrl-C reaches
// only this script, which stops each of them once: a second SIGINT would
// tell nodesockd to kill its workers at once rather than let them finish.
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const env = process.env;
const LOAD = env.DEMO_LOAD === '1';
const SECONDS = Number(env.DEMO_SECONDS || 0);
const DEPLOY_EVERY = 3000;
const CLIENTS = 4;
const DEADLINE = 10000;       // ms a request has, from its start to its last byte

const say = (msg) => console.log(msg);
const warn = (msg) => console.error(`nodesockd demo: ${msg}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A name to show: ./nodesockd from the checkout, else the path as it is.
function shown(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `./${rel}` : p;
}

function executable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function findNginx() {
  if (env.NGINX) return executable(env.NGINX) ? env.NGINX : null;
  const dirs = (env.PATH || '').split(':').filter(Boolean).concat(['/usr/sbin', '/usr/local/sbin']);
  for (const d of dirs) {
    if (executable(path.join(d, 'nginx'))) return path.join(d, 'nginx');
  }
  return null;
}

function freePort() {
  if (env.DEMO_PORT) return Promise.resolve(Number(env.DEMO_PORT));
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One GET with a hard deadline: 'ok' (200), or what went wrong.
function get(url) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => finish(res.statusCode === 200 ? { ok: true, body }
        : { ok: false, why: `status ${res.statusCode}` }));
      res.on('error', (e) => finish({ ok: false, why: e.code || e.message }));
    });
    req.on('error', (e) => finish({ ok: false, why: e.code || e.message }));
    const timer = setTimeout(() => {
      finish({ ok: false, why: `no answer within ${DEADLINE} ms` });
      req.destroy();
    }, DEADLINE);
  });
}

// A child that runs in a session of its own, and a promise of its end.
function start(file, args, stdio) {
  const child = spawn(file, args, { detached: true, stdio });
  child.ended = new Promise((resolve) => {
    child.once('error', (e) => { warn(`${file}: ${e.message}`); resolve(); });
    child.once('exit', () => resolve());
  });
  return child;
}

function running(child) {
  return child && child.exitCode === null && child.signalCode === null;
}

// SIGKILL to a child's process group (its session's: Nginx's workers too).
function killGroup(child) {
  if (!child || !child.pid) return;
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
}

// Signal SIG, wait up to MS for the end, then SIGKILL; true if it took that.
async function stopChild(child, sig, ms) {
  if (!running(child)) return false;
  child.kill(sig);
  const ended = await Promise.race([child.ended.then(() => true), sleep(ms).then(() => false)]);
  if (ended) return false;
  warn(`pid ${child.pid} did not stop within ${ms / 1000} s: killed`);
  killGroup(child);
  await child.ended;
  return true;
}

async function main() {
  const nodesockd = env.NODESOCKD || path.join(root, 'nodesockd');
  if (!executable(nodesockd)) {
    warn(`no ${nodesockd}: build it first with make (a C compiler is needed)`);
    return 1;
  }
  const nginx = findNginx();
  if (!nginx) {
    warn(`nginx is not installed${env.NGINX ? ` (no ${env.NGINX})` : ''}: ` +
      'apt-get install nginx (Debian, Ubuntu) or brew install nginx (macOS)');
    return 1;
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodesockd-demo.'));
  const ipc = path.join(dir, 'nodesockd.ipc');
  const ngx = path.join(dir, 'nginx');
  const workerPids = new Set();   // started, not yet seen to end
  let daemon = null;
  let front = null;
  let stopping = null;
  let status = 0;

  // The load, when DEMO_LOAD=1.
  const n = { requests: 0, failed: 0 };
  let loadOn = false;
  let loops = [];
  // The deploys, when DEMO_LOAD=1: one at a time, each to its end.
  let deploys = Promise.resolve();
  let deployTimer = null;
  let deployed = 0;

  const killWorkers = () => {
    for (const pid of workerPids) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  const stop = () => {
    if (stopping) return stopping;
    stopping = (async () => {
      clearTimeout(deployTimer);
      await deploys;
      loadOn = false;
      await Promise.all(loops);
      await stopChild(front, 'SIGTERM', 10000);
      // nodesockd stops its workers, or, if it had to be killed, their groups go.
      if (await stopChild(daemon, 'SIGTERM', 15000)) killWorkers();
      fs.rmSync(dir, { recursive: true, force: true });
      say(`nodesockd demo: stopped; ${dir} removed`);
      if (LOAD) {
        say(`${n.requests} requests, ${n.failed} failed`);
        if (n.failed > 0 || n.requests === 0) status = 1;
      }
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = (sig) => {
    if (++signals > 1) {
      warn(`${sig} again: killing everything`);
      killGroup(front);
      killGroup(daemon);
      killWorkers();
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    }
    stop().then(() => process.exit(status));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);

  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;

    // example/nginx.conf's site, its sockets in our directory, on our port.
    let site = fs.readFileSync(path.join(__dirname, 'nginx.conf'), 'utf8');
    const edited = site.replace(/\/srv\/app\/run\//g, `${dir}/`)
      .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
    if (edited === site || !edited.includes(`listen 127.0.0.1:${port};`)) {
      throw new Error('example/nginx.conf has no /srv/app/run/ sockets or no "listen 80;"');
    }
    site = edited;
    fs.mkdirSync(ngx);
    fs.writeFileSync(path.join(ngx, 'site.conf'), site);
    // Nginx's master as root would run its workers as nobody, who cannot
    // reach sockets in our directory: name the current user then.
    let user = '';
    if (process.getuid && process.getuid() === 0) {
      const gid = process.getgid();
      const group = fs.readFileSync('/etc/group', 'utf8').split('\n')
        .map((l) => l.split(':')).find((f) => Number(f[2]) === gid);
      user = `user ${os.userInfo().username}${group ? ` ${group[0]}` : ''};`;
    }
    fs.writeFileSync(path.join(ngx, 'nginx.conf'), `daemon off;
${user}
worker_processes 1;
pid ${ngx}/nginx.pid;
error_log ${ngx}/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path ${ngx}/client_body;
	proxy_temp_path ${ngx}/proxy;
	fastcgi_temp_path ${ngx}/fastcgi;
	uwsgi_temp_path ${ngx}/uwsgi;
	scgi_temp_path ${ngx}/scgi;
	include ${ngx}/site.conf;
}
`);

    // nodesockd: the example's config, its sockets in our directory. Its
    // log goes on to stderr; the pids of the workers alive are kept from it.
    daemon = start(nodesockd, ['-c', path.join(__dirname, 'nodesockd.json'), '-t', dir],
      ['ignore', 'inherit', 'pipe']);
    let partial = '';
    daemon.stderr.on('data', (d) => {
      process.stderr.write(d);
      const text = partial + d;
      const lines = text.split('\n');
      partial = lines.pop();
      for (const l of lines) {
        const m = /worker \d+ \(pid (\d+)\) (started|exited|was killed)/.exec(l);
        if (m && m[2] === 'started') workerPids.add(Number(m[1]));
        else if (m) workerPids.delete(Number(m[1]));
      }
    });
    front = start(nginx, ['-p', ngx, '-e', path.join(ngx, 'error.log'), '-c', path.join(ngx, 'nginx.conf')],
      ['ignore', 'ignore', 'inherit']);

    // Up when Nginx answers 200 through a worker.
    const until = Date.now() + 30000;
    for (;;) {
      if (!running(daemon) || !running(front)) {
        const log = path.join(ngx, 'error.log');
        if (fs.existsSync(log)) process.stderr.write(fs.readFileSync(log, 'utf8'));
        throw new Error(`${running(daemon) ? 'nginx' : 'nodesockd'} exited`);
      }
      const r = await get(url);
      if (r.ok) break;
      if (Date.now() > until) throw new Error(`no answer from ${url} within 30 s: ${r.why}`);
      await sleep(200);
    }

    const ns = shown(nodesockd);
    say(`nodesockd demo: ${url} is a private Nginx (pid ${front.pid}) in front of`);
    say(`  nodesockd (pid ${daemon.pid}) and the 2 workers of example/app.js, on UNIX sockets in ${dir}`);
    if (LOAD) {
      say(`Under load from ${CLIENTS} clients, a deploy every ${DEPLOY_EVERY / 1000} s; Ctrl-C stops it all.`);
    } else {
      say('Try, from another terminal:');
      say(`  curl ${url}`);
      say(`  ${ns} status -i ${ipc}`);
      say(`  ${ns} restart -i ${ipc}    # a deploy: no request fails`);
      say(`Ctrl-C stops it all and removes ${dir}.`);
    }

    if (LOAD) {
      loadOn = true;
      let told = 0;
      const loop = async () => {
        while (loadOn) {
          const r = await get(url);
          n.requests++;
          if (!r.ok) {
            n.failed++;
            if (told++ < 10) warn(`failed request: ${r.why}`);
          }
        }
      };
      loops = Array.from({ length: CLIENTS }, loop);
      const deploy = async () => {
        const c = start(nodesockd, ['restart', '-i', ipc], ['ignore', 'pipe', 'pipe']);
        let out = '';
        c.stdout.on('data', (d) => { out += d; });
        c.stderr.on('data', (d) => { out += d; });
        await c.ended;
        deployed++;
        const how = c.exitCode === 0 ? 'done' : `failed: ${out.trim()}`;
        say(`deploy ${deployed} ${how}; ${n.requests} requests so far, ${n.failed} failed`);
        if (c.exitCode !== 0) status = 1;
      };
      const next = () => {
        deployTimer = setTimeout(() => {
          if (stopping) return;
          deploys = deploy().then(() => { if (!stopping) next(); });
        }, DEPLOY_EVERY);
      };
      next();
    }
    if (SECONDS > 0) setTimeout(() => stop().then(() => process.exit(status)), SECONDS * 1000);
  } catch (e) {
    warn(e.message);
    status = 1;
    await stop();
    return 1;
  }
  return null;   // serving: the end comes from a signal or DEMO_SECONDS
}

main().then((code) => { if (code !== null) process.exit(code); });
