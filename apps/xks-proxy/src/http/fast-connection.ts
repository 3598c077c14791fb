/** One connection on the fast path: its states and transitions are tabled in DESIGN.md. */
import type { Socket } from "node:net";
import type { EndOfTurn } from "./end-of-turn.js";
import type { FastHttp, FastResponse } from "./fast-http.js";
import { HandedOffSocket } from "./handed-off-socket.js";
import { CRLFCRLF, hasBareLineEnd, parseRequestHead, renderResponse } from "./request-head.js";

const CLOSE_AFTER_END_MS = 5_000;
/**
 * KMS's requests arrive in one or two reads. A request in more pieces than this is handed off
 * (node's parser streams; buffering here would copy a trickled body over and over).
 */
const MAX_REQUEST_PIECES = 32;
/** Queued response bytes after which a connection's next request waits for them to be written. */
const OUT_HIGH_WATER = 16 * 1024;

type Phase = "idle" | "head" | "body" | "busy" | "closing";

/** One connection on the fast path. */
export class FastConnection {
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
      this.handOff();
      return;
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
   * from the network, so the handler waits for the end of this turn's I/O ({@link EndOfTurn}
   * "handle"), where the requests of every connection that was readable are handled in a row; a
   * pipelined request that follows an answer is handled right away, in the same turn, unless this
   * connection already had `maxRequestsPerTurn` in a row: then it waits for the next turn's
   * "handle" step, and the event loop reads the other connections first.
   */
  private pump(fromSocket = false): void {
    if (this.phase === "busy" || this.phase === "closing" || this.handedOff) return;
    const buf = this.pending;
    if (buf === null) {
      this.waitForMore();
      return;
    }
    const o = this.http.options;
    const max = this.http.maxHeaderBytes;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // too long, or line ends other than CRLF (node answers those at once): node's to answer
      if (buf.length > max || hasBareLineEnd(buf)) this.handOff();
      else this.waitForMore();
      return;
    }
    if (end > max) {
      this.handOff();
      return;
    }
    const head = parseRequestHead(buf.toString("latin1", 0, end), o.maxBodyBytes);
    let accepted = false;
    try {
      accepted = head !== undefined && o.accepts(head.method, head.target);
    } catch (err) {
      o.onError?.(err);
    }
    if (!head || !accepted) {
      this.handOff();
      return;
    }
    const total = end + 4 + head.contentLength;
    if (buf.length < total) {
      this.phase = "body";
      this.deadline = this.requestStart + o.requestTimeoutMs;
      this.waitForMore();
      return;
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
      this.http.options.turns.at("handle", handle);
    } else if (++this.inTurn < this.http.maxRequestsPerTurn) handle();
    else {
      this.inTurn = 0;
      this.http.options.turns.at("handle", handle);
    }
  }

  /** Nothing complete to serve: wait for more bytes, unless the client has half-closed. */
  private waitForMore(): void {
    if (this.peerEnded) this.end();
  }

  /**
   * Queues a response; returns whether the connection closes after it (a broken response forces
   * it). The queued bytes go out with every other connection's in the write step at the end of this
   * event-loop turn ({@link EndOfTurn}): under load the client side is woken once per turn instead
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
    if (this.out === "") this.http.options.turns.at("write", this.flush);
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
    if (close || this.http.closing) {
      this.end();
      return;
    }
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
