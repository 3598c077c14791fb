/** A connection the fast path hands to node's HTTP server (see DESIGN.md). */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";

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
