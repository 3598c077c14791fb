/**
 * The XKS fast path: a strict HTTP/1.1 reader for the one kind of request KMS sends the proxy
 * (POST, Content-Length body, a handful of headers, keep-alive), in front of node's HTTP server.
 * Everything it declines goes, from that request's first byte, to node's server for good. Why it
 * exists (the CPU it saves), its connection states, its invariants (one parser per request, answers
 * in order, what the end-of-turn steps promise) and the numbers behind it: DESIGN.md.
 *
 * This file: the options, the per-listener part ({@link FastHttp}: connections, the one timer that
 * enforces every timeout) and {@link fastPathInFront}. A connection's reader: fast-connection.ts;
 * the header parser and response renderer: request-head.ts.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { EndOfTurn } from "./end-of-turn.js";
import { FastConnection } from "./fast-connection.js";

// bench/xks's layer servers load this file on its own (dist/fast-http.js) and queue their HSM
// calls in the same end-of-turn schedule as the fast path
export { EndOfTurn, type TurnStep } from "./end-of-turn.js";
export { HandedOffSocket } from "./handed-off-socket.js";
export { parseRequestHead } from "./request-head.js";

/** A response for the fast path to write. */
export interface FastResponse {
  status: number;
  /** Lower-case names; content-length, date and connection are added. */
  headers: Readonly<Record<string, string>>;
  body: string;
  /** Close the connection after this response. */
  close?: boolean;
  /**
   * The request was authenticated: from now on the connection's idle periods may last
   * `keepAliveTimeoutMs` (until then they are bounded by `untrustedIdleTimeoutMs`).
   */
  authenticated?: boolean;
}

export interface FastHttpOptions {
  /** Does the fast path serve this request line? Anything else goes to node's HTTP server. */
  accepts(method: string, target: string): boolean;
  /**
   * Serves one request; must call `respond` exactly once (before the promise settles). Header
   * names are lower case, values trimmed, as node gives them. `receivedAt`: when the whole request
   * had been read (`process.hrtime.bigint()`), which can be earlier in the turn than this call.
   */
  handle(
    method: string,
    target: string,
    headers: Record<string, string>,
    body: Buffer,
    respond: (r: FastResponse) => void,
    receivedAt: bigint,
    remoteAddress: string | undefined,
  ): Promise<void>;
  /** Receives a connection (as a Duplex, unread bytes first) the fast path declined. */
  handOff(stream: Duplex): void;
  /** Largest request body (bytes); a larger declared body is handed off. */
  maxBodyBytes: number;
  /** Largest header section (bytes; default 16 KiB, node's default). */
  maxHeaderBytes?: number;
  /** From a new connection's start, or a later request's first byte, to the request's last header (ms). */
  headersTimeoutMs: number;
  /** From a request's first byte to its last body byte (ms). */
  requestTimeoutMs: number;
  /** Idle time between requests before the connection is closed (ms). */
  keepAliveTimeoutMs: number;
  /**
   * Idle time between requests on a connection none of whose responses was marked
   * `authenticated` (ms; default keepAliveTimeoutMs).
   */
  untrustedIdleTimeoutMs?: number;
  /** Requests of one connection handled in one event-loop turn, at most (default 8). */
  maxRequestsPerTurn?: number;
  /** Called when a response could not be written or a handler failed (never with request data). */
  onError?(err: unknown): void;
  /** The end-of-turn schedule requests are handled and answers written in (shared with the HSM backend). */
  turns: EndOfTurn;
}

/** The fast path for every connection of one listener. */
export class FastHttp {
  readonly maxHeaderBytes: number;
  readonly maxRequestsPerTurn: number;
  keepAliveSecs: number;
  closing = false;
  private readonly connections = new Set<FastConnection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly options: FastHttpOptions) {
    this.maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024;
    this.maxRequestsPerTurn = Math.max(1, options.maxRequestsPerTurn ?? 8);
    this.keepAliveSecs = Math.floor(options.keepAliveTimeoutMs / 1000);
  }

  /** Serves a new connection (a TCP socket, or a TLS socket after its handshake). */
  connection(socket: Socket): void {
    if (socket.destroyed) return;
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.connections.add(new FastConnection(socket, this));
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), 1000);
      this.timer.unref();
    }
  }

  /**
   * Applies a reloaded configuration's body limit and keep-alive idle timeout: the limit from the
   * next request on, the timeout from each connection's next idle period.
   */
  update(limits: { maxBodyBytes: number; keepAliveTimeoutMs: number }): void {
    this.options.maxBodyBytes = limits.maxBodyBytes;
    this.options.keepAliveTimeoutMs = limits.keepAliveTimeoutMs;
    this.keepAliveSecs = Math.floor(limits.keepAliveTimeoutMs / 1000);
  }

  /** Closes idle connections now and every other one after its response in progress. */
  closeIdle(): void {
    this.closing = true;
    for (const c of this.connections) if (c.idle) c.end();
  }

  /** Destroys every connection. */
  closeAll(): void {
    this.closing = true;
    for (const c of this.connections) c.socket.destroy();
    this.stopTimer();
  }

  /** @internal */
  forget(c: FastConnection): void {
    this.connections.delete(c);
    if (this.connections.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Destroys connections past their deadline (a busy request has none: the HSM call has its own timeout). */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (c.phase !== "busy" && now > c.deadline) c.socket.destroy();
    }
  }
}

/**
 * Puts a fast path in front of a node HTTP or HTTPS server: node's own connection listener (on
 * 'connection', or 'secureConnection' for TLS; the first one, registered by node's constructor)
 * is taken off and becomes the hand-off, and the fast path gets each new connection after the
 * listeners already there (an mTLS check that destroys a refused socket runs first).
 */
export function fastPathInFront(server: Server, options: Omit<FastHttpOptions, "handOff"> & { onHandOff?(): void }): FastHttp {
  const event = server instanceof tls.Server ? "secureConnection" : "connection";
  const nodeListener = server.listeners(event)[0] as ((socket: unknown) => void) | undefined;
  if (nodeListener === undefined) throw new Error(`the server has no ${event} listener to put the fast path in front of`);
  server.removeListener(event, nodeListener);
  const { onHandOff, ...rest } = options;
  const fast = new FastHttp({
    ...rest,
    handOff: (stream) => {
      onHandOff?.();
      nodeListener.call(server, stream);
    },
  });
  server.on(event, (socket: Socket) => fast.connection(socket));
  return fast;
}
