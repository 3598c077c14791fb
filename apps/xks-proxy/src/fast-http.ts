/**
 * The XKS fast path: a strict HTTP/1.1 reader for the one kind of request KMS sends the proxy
 * (POST, Content-Length body, a handful of headers, keep-alive), in front of node's HTTP server.
 *
 * Why: at the proxy's request sizes, node's HTTP server (IncomingMessage / ServerResponse
 * streams) costs more CPU per request than SigV4 verification does; bench/xks measures the
 * difference (`BENCH_FAST_PATH=0`, and the layers `xks-hsm` against `xks-hsm+fast`).
 *
 * Safety: the reader accepts only a narrow, unambiguous subset of HTTP/1.1 and hands the
 * connection, from the first byte of the request it declines, to node's HTTP server, which then
 * owns it for good (including its own 4xx answers to malformed input). Declined: any method and
 * target the caller does not accept, other HTTP versions, obs-folded lines, bare CR or LF, control
 * characters, header names that are not tokens, a repeated header, Transfer-Encoding, Expect,
 * Upgrade, a Content-Length that is not plain digits or exceeds the body limit, a missing Host, a
 * header section larger than `maxHeaderBytes`, and a request arriving in more than 32 reads. The
 * two parsers never both read one request, so there is no room for request smuggling between them.
 * Requests on a connection are answered in order, one at a time; a client that pipelines more than
 * a request's worth of bytes is paused. A request read from the socket is handled at the end of the
 * event-loop turn, with every other request read in that turn, and answers are written at the end
 * of the turn that produced them, all connections' together (one write per connection; see
 * end-of-turn.ts): under load the client side is then woken once per turn rather than once per
 * answer (bench/xks measured a fifth less CPU per request in its client, wrk, and the same in the
 * proxy), and each kind of work runs in a row. A pipelining client gets at most
 * `maxRequestsPerTurn` requests handled per turn; the next waits for the next turn, after the
 * event loop has read the other connections. Headers timeout (from a new connection's start, and
 * from each later request's first byte), request timeout and keep-alive idle timeout are enforced
 * by one shared timer.
 */
import { STATUS_CODES, type Server } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import tls, { type TLSSocket } from "node:tls";
import { atEndOfTurn } from "./end-of-turn.js";

// bench/xks's layer servers load this file on its own and queue their HSM calls as the proxy does
export { atEndOfTurn } from "./end-of-turn.js";

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
  handle(method: string, target: string, headers: Record<string, string>, body: Buffer, respond: (r: FastResponse) => void, receivedAt: bigint, remoteAddress: string | undefined): Promise<void>;
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
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const REQUEST_LINE = /^([A-Z]{1,16}) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// field-value: visible ASCII, obs-text, SP and HTAB; no other control characters (CR and LF were split on)
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^\d{1,15}$/;
const DECLINED_HEADERS = new Set(["transfer-encoding", "expect", "upgrade", "te", "http2-settings"]);
const CLOSE_AFTER_END_MS = 5_000;
/**
 * KMS's requests arrive in one or two reads. A request in more pieces than this is handed off
 * (node's parser streams; buffering here would copy a trickled body over and over).
 */
const MAX_REQUEST_PIECES = 32;
/** Queued response bytes after which a connection's next request waits for them to be written. */
const OUT_HIGH_WATER = 16 * 1024;

/**
 * A header section still without CRLFCRLF that already shows a line end other than CRLF (a bare
 * LF, or a CR followed by anything but LF), so it will never be one the fast path reads.
 */
function hasBareLineEnd(buf: Buffer): boolean {
  let i = buf.indexOf(10);
  while (i !== -1) {
    if (i === 0 || buf[i - 1] !== 13) return true;
    i = buf.indexOf(10, i + 1);
  }
  i = buf.indexOf(13);
  while (i !== -1) {
    if (i + 1 < buf.length && buf[i + 1] !== 10) return true;
    i = buf.indexOf(13, i + 1);
  }
  return false;
}

let dateSecond = -1;
let dateText = "";
/** The Date header value, rendered once a second. */
function httpDate(now: number): string {
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

interface ParsedHead {
  method: string;
  target: string;
  headers: Record<string, string>;
  contentLength: number;
  close: boolean;
}

/**
 * Parses a header section (without the final CRLFCRLF) as the fast path accepts it, or returns
 * undefined for anything it declines. Exported for the differential tests against node's parser.
 */
export function parseRequestHead(head: string, maxBodyBytes: number): ParsedHead | undefined {
  const lines = head.split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    // obs-fold (a line starting with SP/HTAB) and "name :" both fail the token test
    if (!TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) return undefined;
    const key = name.toLowerCase();
    // `in` also sees Object.prototype's names (__proto__, constructor...): such a header is declined too
    if (key in headers || DECLINED_HEADERS.has(key)) return undefined;
    headers[key] = value;
  }
  if (headers["host"] === undefined) return undefined;
  let contentLength = 0;
  const cl = headers["content-length"];
  if (cl !== undefined) {
    if (!DIGITS.test(cl)) return undefined;
    contentLength = Number(cl);
    if (contentLength > maxBodyBytes) return undefined;
  }
  const connection = headers["connection"]?.toLowerCase();
  let close = false;
  if (connection !== undefined) {
    for (const t of connection.split(",")) {
      const token = t.trim();
      if (token === "close") close = true;
      else if (token !== "keep-alive" && token !== "") return undefined;
    }
  }
  return { method: m[1]!, target: m[2]!, headers, contentLength, close };
}

/** Renders a whole response (status line, headers, body) as one string. */
function renderResponse(r: FastResponse, close: boolean, keepAliveSecs: number, now: number): string {
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}\r\n`;
  for (const name in r.headers) {
    const value = r.headers[name]!;
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) throw new Error(`invalid response header ${name}`);
    head += `${name}: ${value}\r\n`;
  }
  head += `date: ${httpDate(now)}\r\ncontent-length: ${Buffer.byteLength(r.body)}\r\n`;
  head += close ? "connection: close\r\n" : `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSecs}\r\n`;
  return `${head}\r\n${r.body}`;
}

/**
 * A connection the fast path declined, as the Duplex node's HTTP server reads from: the bytes
 * not yet consumed first, then whatever the socket delivers. Writes, ends and destroys go to the
 * socket; `setTimeout` too (node's keep-alive timeout).
 */
export class HandedOffSocket extends Duplex {
  constructor(
    private readonly socket: Socket,
    unread: Buffer | null,
    /** The client had already half-closed: the unread bytes are all there is. */
    ended = false,
  ) {
    super({ allowHalfOpen: false });
    if (unread && unread.length > 0) this.push(unread);
    if (ended) this.push(null);
    socket.on("data", (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("close", () => this.destroy());
    socket.on("error", (err) => this.destroy(err));
    socket.on("timeout", () => this.emit("timeout"));
    socket.resume();
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, encoding, cb);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(() => cb());
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.socket.setTimeout(ms);
    if (cb) this.once("timeout", cb);
    return this;
  }
  // the peer, as node's request handlers read it from req.socket
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  // what a handler asks of a TLS socket (the Salesforce route group's client-certificate check)
  get encrypted(): boolean {
    return (this.socket as Partial<TLSSocket>).encrypted === true;
  }
  get authorized(): boolean {
    return (this.socket as Partial<TLSSocket>).authorized === true;
  }
  getPeerCertificate(detailed?: boolean): ReturnType<TLSSocket["getPeerCertificate"]> | undefined {
    const s = this.socket as Partial<TLSSocket>;
    return typeof s.getPeerCertificate === "function" ? s.getPeerCertificate(detailed as true) : undefined;
  }
}

type Phase = "idle" | "head" | "body" | "busy" | "closing";

/** One connection on the fast path. */
class FastConnection {
  private pending: Buffer | null = null;
  phase: Phase = "idle";
  /** When the current phase times out (ms since the epoch). */
  deadline: number;
  private requestStart = 0;
  /** Reads that delivered the current request so far. */
  private requestPieces = 0;
  /** The client has half-closed (FIN): answer what is in progress, then close. */
  private peerEnded = false;
  private handedOff = false;
  /** Responses rendered but not yet written (see {@link write}). */
  private out = "";
  /** Requests wait until the queued responses are written (a pipelining client's). */
  private waitingForFlush = false;
  /** Requests handled one after another in this turn (a pipelining client's). */
  private inTurn = 0;
  /** A response was marked authenticated: idle periods may last the keep-alive timeout. */
  private trusted = false;
  private readonly remoteAddress: string | undefined;
  private readonly onData = (d: Buffer): void => this.data(d);

  constructor(
    readonly socket: Socket,
    private readonly http: FastHttp,
  ) {
    // a new connection has the headers timeout to send its first request, as in node's server
    this.deadline = Date.now() + http.options.headersTimeoutMs;
    this.remoteAddress = socket.remoteAddress;
    socket.on("data", this.onData);
    socket.on("error", () => socket.destroy());
    socket.on("end", this.onEnd);
    socket.once("close", () => http.forget(this));
  }

  private readonly onEnd = (): void => {
    // requests already complete are still answered (pump), then the connection ends
    this.peerEnded = true;
    this.pump();
  };

  private data(d: Buffer): void {
    // after the response that closes the connection nothing more is read
    if (this.phase === "closing") return;
    this.pending = this.pending === null ? d : Buffer.concat([this.pending, d]);
    if (this.phase === "idle") this.beginRequest(Date.now());
    else if ((this.phase === "head" || this.phase === "body") && ++this.requestPieces > MAX_REQUEST_PIECES) {
      // a request dribbling in: node's incremental parser is the better reader for that
      return this.handOff();
    }
    if (this.phase === "busy") {
      // pipelined bytes beyond one request's worth wait in the kernel, not in memory
      if (this.pending.length > this.http.maxHeaderBytes + this.http.options.maxBodyBytes) this.socket.pause();
      return;
    }
    this.pump(true);
  }

  private beginRequest(now: number): void {
    this.phase = "head";
    this.requestPieces = 1;
    this.requestStart = now;
    this.deadline = now + this.http.options.headersTimeoutMs;
  }

  /**
   * Serves the next complete request in `pending`, if any. `fromSocket`: the bytes just arrived
   * from the network, so the handler waits for the end of this turn's I/O ({@link atEndOfTurn}
   * "handle"), where the requests of every connection that was readable are handled in a row; a
   * pipelined request that follows an answer is handled right away, in the same turn, unless this
   * connection already had `maxRequestsPerTurn` in a row: then it waits for the next turn's
   * "handle" step, and the event loop reads the other connections first.
   */
  private pump(fromSocket = false): void {
    if (this.phase === "busy" || this.phase === "closing" || this.handedOff) return;
    const buf = this.pending;
    if (buf === null) return this.waitForMore();
    const o = this.http.options;
    const max = this.http.maxHeaderBytes;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // too long, or line ends other than CRLF (node answers those at once): node's to answer
      if (buf.length > max || hasBareLineEnd(buf)) return this.handOff();
      return this.waitForMore();
    }
    if (end > max) return this.handOff();
    const head = parseRequestHead(buf.toString("latin1", 0, end), o.maxBodyBytes);
    let accepted = false;
    try {
      accepted = head !== undefined && o.accepts(head.method, head.target);
    } catch (err) {
      o.onError?.(err);
    }
    if (!head || !accepted) return this.handOff();
    const total = end + 4 + head.contentLength;
    if (buf.length < total) {
      this.phase = "body";
      this.deadline = this.requestStart + o.requestTimeoutMs;
      return this.waitForMore();
    }
    const body = buf.subarray(end + 4, total);
    this.pending = buf.length === total ? null : buf.subarray(total);
    this.phase = "busy";
    let close = head.close || this.http.closing;
    let answered = false;
    const respond = (r: FastResponse): void => {
      if (answered) return;
      answered = true;
      if (r.authenticated === true) this.trusted = true;
      close = this.write(r, close || r.close === true);
    };
    const finish = (): void => {
      if (!answered) respond({ status: 500, headers: { "content-type": "application/json" }, body: '{"errorName":"InternalException"}' });
      this.next(close);
    };
    const receivedAt = process.hrtime.bigint();
    const handle = (): void => {
      let handled: Promise<void>;
      try {
        handled = o.handle(head.method, head.target, head.headers, body, respond, receivedAt, this.remoteAddress);
      } catch (err) {
        handled = Promise.reject(err);
      }
      handled.then(finish, (err: unknown) => {
        o.onError?.(err);
        finish();
      });
    };
    if (fromSocket) {
      this.inTurn = 0;
      atEndOfTurn("handle", handle);
    } else if (++this.inTurn < this.http.maxRequestsPerTurn) handle();
    else {
      this.inTurn = 0;
      atEndOfTurn("handle", handle);
    }
  }

  /** Nothing complete to serve: wait for more bytes, unless the client has half-closed. */
  private waitForMore(): void {
    if (this.peerEnded) this.end();
  }

  /**
   * Queues a response; returns whether the connection closes after it (a broken response forces
   * it). The queued bytes go out with every other connection's in the write step at the end of this
   * event-loop turn ({@link atEndOfTurn}): under load the client side is woken once per turn instead
   * of once per response, and a connection's pipelined answers leave in one write.
   */
  private write(r: FastResponse, close: boolean): boolean {
    if (this.socket.destroyed) return true;
    let text: string;
    try {
      text = renderResponse(r, close, this.http.keepAliveSecs, Date.now());
    } catch (err) {
      this.http.options.onError?.(err);
      text = renderResponse({ status: 500, headers: { "content-type": "application/json" }, body: '{"errorName":"InternalException"}' }, true, 0, Date.now());
      close = true;
    }
    if (this.out === "") atEndOfTurn("write", this.flush);
    this.out += text;
    return close;
  }

  /** Writes what {@link write} queued (one socket write, however many responses). */
  readonly flush = (): void => {
    const text = this.out;
    if (text === "") return;
    this.out = "";
    const waiting = this.waitingForFlush;
    this.waitingForFlush = false;
    if (this.socket.destroyed) return;
    if (!this.socket.write(text)) {
      // the client is not reading: take no more requests from it until it does
      this.socket.pause();
      this.socket.once("drain", () => this.goOn());
    } else if (waiting) this.goOn();
  };

  /** Reads and serves again after a pause for the client to take its answers. */
  private goOn(): void {
    if (this.phase === "closing") return;
    this.socket.resume();
    this.pump();
  }

  /** After a response: close, or go on with the next request (pipelined bytes may be waiting). */
  private next(close: boolean): void {
    if (close || this.http.closing) return this.end();
    const now = Date.now();
    if (this.pending === null) {
      this.phase = "idle";
      const o = this.http.options;
      this.deadline = now + (this.trusted ? o.keepAliveTimeoutMs : (o.untrustedIdleTimeoutMs ?? o.keepAliveTimeoutMs));
    } else this.beginRequest(now);
    if (this.out.length >= OUT_HIGH_WATER) {
      // a pipelining client has a socket buffer's worth of answers queued: go on after they are written
      this.waitingForFlush = true;
    } else if (!this.socket.writableNeedDrain) this.goOn();
  }

  /** Ends the connection after what has been written (FIN), destroyed if the peer lingers. */
  end(): void {
    if (this.phase === "closing") return;
    this.flush();
    this.phase = "closing";
    this.deadline = Date.now() + CLOSE_AFTER_END_MS;
    this.socket.end();
  }

  private handOff(): void {
    // answers already given leave before node's
    this.flush();
    this.handedOff = true;
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("end", this.onEnd);
    this.socket.pause();
    this.http.forget(this);
    const unread = this.pending;
    this.pending = null;
    this.http.options.handOff(new HandedOffSocket(this.socket, unread, this.peerEnded));
  }

  get idle(): boolean {
    return this.phase === "idle";
  }
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
