// Type declarations for nodesockd, the worker side of the nodesockd daemon.
/// <reference types="node" />

import type { IncomingMessage, ServerResponse } from 'http';
import type { ListenOptions, Server } from 'net';

/** Where to listen outside nodesockd: a TCP port, a UNIX socket path, or listen options. */
export type ListenTarget = number | string | ListenOptions;

/** Anything whose listen() returns the server it starts: an Express or Koa app. */
export interface Listenable<S extends Server = Server> {
  listen(target: ListenTarget): S;
}

/**
 * Resolves once the worker may serve: at once, unless it was started
 * suspended (`restart --suspended`) and the daemon has not sent "resume" yet.
 * If the daemon dies meanwhile, it resolves then: nothing would ever send
 * "resume". All callers share the same pending promise. Never rejects.
 */
export declare function suspend(): Promise<void>;
export declare namespace suspend {
  /**
   * Express/Connect middleware that holds each request until the worker is
   * resumed, then calls `next()`: `app.use(suspend.express)`. It is the
   * middleware itself, not a factory: called without `next`, as in
   * `app.use(suspend.express())`, it throws a TypeError that says so.
   */
  function express(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
}

/**
 * True while the worker was started suspended and has not been resumed
 * (by "resume", or by the daemon's death).
 */
export declare function isSuspended(): boolean;

/**
 * The worker's index (0, 1, …) under nodesockd; undefined outside it, and in
 * a standby worker until the daemon publishes it in a slot (it says which
 * just before "resume"). With the daemon's watchdog on, the package sends
 * the heartbeats by itself: nothing to call.
 */
export declare function getWorkerId(): number | undefined;

/**
 * Asks the daemon to start a replacement for this worker (which then gets
 * "shutdown"). Returns true if the request was sent, false outside nodesockd.
 */
export declare function restart(): boolean;

/**
 * The whole integration in one call: listens on the socket path nodesockd
 * gives (`$LISTEN_ON`, or the variable named by `$NODESOCKD_LISTEN_VAR`);
 * outside nodesockd on `$LISTEN_ON` if set (digits mean a TCP port), else on
 * `fallback`. Throws if there is nowhere to listen. Reports "online" once
 * listening; on "shutdown" or SIGTERM closes the listener, answers in-flight
 * requests with `Connection: close`, drops idle keep-alive connections (one
 * that has not sent its first request yet may still send it, and is answered
 * with `Connection: close`) and exits 0 when the last connection has ended.
 *
 * When the daemon dies, the worker serves on: the next daemon lets it serve
 * until its own workers are published, then sends SIGTERM. With no daemon
 * after `$NODESOCKD_ORPHAN_MS` milliseconds (60000 when unset; the daemon's
 * `orphanTimeout`), it drains and exits as on "shutdown"; with 0, it does so
 * at once. One line on stderr says it is orphaned, one that it exits for it.
 * Returns the server. May be called once per process.
 */
export declare function listen<S extends Server>(server: S, fallback?: ListenTarget): S;
export declare function listen<S extends Server>(app: Listenable<S>, fallback?: ListenTarget): S;
