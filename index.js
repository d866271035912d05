'use strict';
// nodesockd: the worker side.
//
// nodesockd starts each worker the way child_process.fork() does: Node's own
// IPC channel on fd 3 (NODE_CHANNEL_FD=3, JSON serialization), so here
// process.send() and process.on('message') talk to the daemon. Messages are
// plain JSON strings:
//   worker -> daemon: "online" (listening, ready), "restart" (replace me),
//                     "heartbeat" (with the watchdog on: still alive)
//   daemon -> worker: "shutdown" (finish in-flight work, exit), "resume",
//                     and {"worker": N} (a standby's slot, before "resume")
// The environment carries the socket path (in $LISTEN_ON, or in the variable
// named by $NODESOCKD_LISTEN_VAR), NODESOCKD_WORKER_ID (the worker's index;
// empty for a standby, which has none until it is published),
// NODESOCKD_SUSPENDED ("true" when started suspended), NODESOCKD_ORPHAN_MS
// (how long to serve on when the daemon dies; below) and
// NODESOCKD_WATCHDOG_MS (0, or the period within which to send "heartbeat").
//
// Outside nodesockd (no process.send) loading this module does nothing at
// all: no listener, no handle, no side effect; the same app runs locally.

const net = require('net');

const env = process.env;
let workerId = /^[0-9]+$/.test(env.NODESOCKD_WORKER_ID || '')
  ? Number(env.NODESOCKD_WORKER_ID) : undefined;

// Under nodesockd: an IPC channel, and the worker id the daemon always sets
// (empty for a standby). Requiring both keeps the helper inert in a process
// that merely has an IPC channel to some other parent (a cluster worker, a
// test runner's fork()).
const UNDER = typeof process.send === 'function'
  && (workerId !== undefined || env.NODESOCKD_WORKER_ID === '');

let suspended = UNDER && env.NODESOCKD_SUSPENDED === 'true';
let waiting = null;        // the one pending suspend() promise, shared
let wake = null;           // resolves it
let stopping = false;      // "shutdown" or SIGTERM received, or orphan time up
let managed = null;        // the server listen() runs, once called
let announced = false;     // "online" sent: the daemon may have published us
let orphan = false;        // the channel to the daemon is gone
let orphanTimer = null;    // the end of the grace period of an orphan

const noop = () => {};

// Ask the daemon something; never throws (a dead channel is not our error).
function send(msg) {
  if (!UNDER || !process.connected) return false;
  process.send(msg, noop);
  return true;
}

// Keeping the process alive.
//
// Node keeps a forked child alive while it has 'message' or 'disconnect'
// listeners on process: each such listener bumps a reference count on
// process.channel. The helper must listen from load time (a "resume" may
// arrive before anyone calls suspend(), and must be remembered), but these
// listeners must not keep alive a process that would otherwise exit. So,
// right after adding them, we take back exactly their own references with
// process.channel.unrefCounted(): the app's own 'message' listeners (and
// Node's pending writes) keep counting as usual. unrefCounted() is
// undocumented but long-standing (execa relies on it, Deno and Bun mirror
// it); where it is missing we fall back to the documented
// process.channel.unref(), which turns the counting off for good (then an
// app that waits for messages with nothing else to keep it alive should call
// process.channel.ref() itself).
//
// A pending suspend() promise does hold a reference, though: code that
// awaits it must not silently end because nothing else was pending. listen()
// needs no reference of its own: the listening server keeps the process up.
function channelRef(up) {
  const ch = process.channel;
  if (!ch) return;                       // disconnected: nothing to hold
  if (typeof ch.refCounted === 'function') {
    if (up) ch.refCounted(); else ch.unrefCounted();
  } else if (up) {
    ch.ref();
  } else {
    ch.unref();
  }
}

// Stop holding requests: every suspend() promise resolves.
function release() {
  if (!suspended) return;
  suspended = false;
  if (wake) {
    wake();
    wake = null;
    channelRef(false);
  }
}

function onMessage(msg) {
  if (msg === 'resume') release();
  else if (msg === 'shutdown') shutdown();
  else if (msg && Number.isInteger(msg.worker)) {
    workerId = msg.worker;                 // a standby given its slot
    env.NODESOCKD_WORKER_ID = String(workerId);
  }
}

// How long an orphan serves on: NODESOCKD_ORPHAN_MS, in the environment the
// daemon gives, 60 s when unset or not a number of milliseconds; 0 drains
// and exits at once when the daemon goes away.
function orphanMs() {
  const v = env.NODESOCKD_ORPHAN_MS;
  return /^[0-9]+$/.test(v || '') ? Number(v) : 60000;
}

function say(what) {
  try {
    process.stderr.write(`nodesockd: worker ${workerId} (pid ${process.pid}): ${what}\n`);
  } catch (e) { /* nowhere to say it */ }
}

// The channel closed: the daemon died (a crash, kill -9, the OOM killer).
// The public names still lead here, so keep serving: an init starts the
// next daemon, which lets this worker serve until its own workers are
// published, then sends SIGTERM, and this one drains and exits. A worker
// can never join the next daemon's channel, so the grace period is only
// the bound on how long an orphan serves when no daemon comes: its timer is
// unref'd, and never keeps alive a process that is done otherwise.
//
// Nothing will ever send "resume" now: a suspended worker resumes at once,
// and the requests it holds are served rather than stranded (the next
// daemon's workers start unsuspended anyway).
//
// Without listen(), the app runs its own server: the helper only resumes,
// and (with NODESOCKD_ORPHAN_MS=0) remembers the stop for a later listen().
function orphaned() {
  if (orphan) return;
  orphan = true;
  release();
  if (stopping) return;
  const ms = orphanMs();
  // With 0, go now, as the helper always did. So does a worker whose
  // "online" never got out: it was never published, nobody reaches it.
  if (ms === 0 || (managed && !announced)) {
    shutdown();
    return;
  }
  if (!managed) return;
  say(`the daemon is gone; serving on until SIGTERM, for ${ms} ms at most`);
  orphanTimer = setTimeout(() => {
    say(`no nodesockd took over within ${ms} ms: draining and exiting`);
    shutdown();
  }, ms);
  orphanTimer.unref();
}

if (UNDER) {
  process.on('message', onMessage);
  process.on('disconnect', orphaned);
  channelRef(false);
  channelRef(false);
}

// The watchdog: "heartbeat" at a third of its period, from a timer that
// keeps nothing alive and stops when the event loop is blocked, which is
// what the daemon must notice: then it replaces this worker and kills it.
const WATCHDOG = Number(env.NODESOCKD_WATCHDOG_MS) || 0;
if (UNDER && WATCHDOG > 0) {
  setInterval(() => send('heartbeat'), Math.max(1, Math.floor(WATCHDOG / 3))).unref();
}

// A promise resolved once the worker may serve: at once, unless it was
// started suspended and "resume" has not arrived yet.
function suspend() {
  if (!suspended) return Promise.resolve();
  if (!waiting) {
    waiting = new Promise((resolve) => { wake = resolve; });
    channelRef(true);
  }
  return waiting;
}

// Express/Connect middleware: hold each request until resumed. It is the
// middleware itself, not a factory: `app.use(suspend.express)`. Called as
// `suspend.express()` it would have no next() to call, so it says so there,
// at the app's start, rather than failing on a request.
suspend.express = function nodesockdSuspend(req, res, next) {
  if (typeof next !== 'function') {
    throw new TypeError('nodesockd: suspend.express is the middleware itself: ' +
      'use app.use(suspend.express), not suspend.express()');
  }
  if (!suspended) return next();
  suspend().then(() => next());
};

function isSuspended() {
  return suspended;
}

function getWorkerId() {
  return UNDER ? workerId : undefined;
}

// Ask the daemon to start a replacement for this worker (it will then send
// "shutdown" here). false outside nodesockd.
function restart() {
  return send('restart');
}

// Graceful stop, on "shutdown", on SIGTERM, or at the end of an orphan's
// grace period. Without listen(), only remembered: the app handles
// "shutdown" itself (process.on('message') sees it too), or listen() acts on
// it later.
function shutdown() {
  if (stopping) return;
  stopping = true;
  if (orphanTimer) clearTimeout(orphanTimer);
  orphanTimer = null;
  if (managed) drain(managed.server);
}

function drain(server) {
  // Stop accepting; exit once every connection has ended. An app with
  // long-lived connections (WebSockets, SSE) should end them itself on
  // "shutdown", or the daemon kills the worker after shutdownTimeout.
  //
  // Only the listener is closed: net.Server's close(), not http.Server's.
  // Since Node 19 the latter also calls closeIdleConnections(), and where
  // that counts a connection accepted but whose request is not parsed yet
  // as idle (nodejs/node#63470), it would destroy a connection that Nginx
  // has opened and sent its request on: a reset, and a 502 with a single
  // socket. Such a connection is served instead, with `Connection: close`.
  net.Server.prototype.close.call(server, () => process.exit(0));
  // Requests held by suspend() would never be released (a worker that was
  // never resumed must not serve), so the server would never close: go now.
  // (An orphan has resumed already: it serves what it holds.)
  if (wake) process.exit(0);
  // In-flight responses that have not started yet end their connection; one
  // whose headers are out leaves its connection idle when done: close it then.
  for (const [res, sock] of managed.open) {
    if (!res.headersSent) res.setHeader('Connection', 'close');
    else res.once('close', () => closeIfIdle(sock));
  }
  for (const sock of managed.conns) closeIfIdle(sock);
}

// Drop a keep-alive connection between two requests: one that has served a
// request and has none in flight. A connection that has not sent its first
// request yet is left to send it.
function closeIfIdle(sock) {
  if (!sock || sock.destroyed || !managed.served.has(sock)) return;
  for (const s of managed.open.values()) if (s === sock) return;
  sock.destroy();
}

// listen(server, fallback): the whole integration in one call.
//
// `server` is an http.Server (or https/net.Server), or an object whose
// listen() returns one (an Express or Koa app). It listens on the socket
// path nodesockd gives; outside nodesockd on $LISTEN_ON if set (a number
// means a TCP port), else on `fallback` (a port, a path, or listen options).
// Once listening it reports "online"; on "shutdown" or SIGTERM (the next
// daemon's, when this one died: see orphaned()) it closes the listener,
// lets in-flight requests finish with `Connection: close`, drops idle
// keep-alive connections (a connection that has not sent its first request
// yet may still send it, and is answered with `Connection: close`) and
// exits 0 when the last connection has ended. Returns the server. Call it
// once.
function listen(server, fallback) {
  if (managed) throw new Error('nodesockd: listen() may be called only once');
  if (!server || typeof server.listen !== 'function') {
    throw new TypeError('nodesockd: listen() needs an http.Server or an app with a listen() method');
  }
  const name = env.NODESOCKD_LISTEN_VAR || 'LISTEN_ON';
  let where = env[name];
  if (where === undefined || where === '') where = fallback;
  if (where === undefined || where === null || where === '') {
    throw new Error(`nodesockd: nowhere to listen: $${name} is not set and no fallback was given`);
  }
  if (typeof where === 'string' && /^[0-9]+$/.test(where)) where = Number(where);

  // net.Server.listen() returns the server itself, app.listen() a new one.
  const srv = server.listen(where);
  if (!(srv instanceof net.Server)) {
    throw new TypeError('nodesockd: listen() did not return a server');
  }
  const open = new Map();                // responses not finished yet -> socket
  const conns = new Set();               // connections open
  const served = new WeakSet();          // connections that sent a request
  managed = { server: srv, open, conns, served };

  srv.on('connection', (sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
  });
  // First in line, before the app writes anything: track the in-flight
  // responses; once stopping, every new one ends its connection.
  srv.prependListener('request', (req, res) => {
    served.add(req.socket);
    open.set(res, req.socket);
    res.once('close', () => open.delete(res));
    if (stopping) res.setHeader('Connection', 'close');
  });

  srv.once('listening', () => { announced = send('online'); });
  if (UNDER) process.on('SIGTERM', shutdown);
  // "shutdown" before listen(), or the daemon gone already (so this worker
  // was never published): stop now. The listener is bound synchronously (a
  // path or a port), so close() works.
  if (stopping || (UNDER && !process.connected)) {
    stopping = true;
    drain(srv);
  }
  return srv;
}

module.exports = { suspend, isSuspended, getWorkerId, restart, listen };
