/**
 * A raw HTTP/1.1 client for the per-source tests: one TCP connection from a chosen loopback
 * address (127.0.0.0/8 all reach the proxy on 127.0.0.1, each as its own source), requests written
 * as text (pipelined if wanted), answers read by Content-Length.
 */
import net from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { XksCredential } from "@ciop/xks";
import { parseConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { testDir } from "./proxy-helpers.js";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConn {
  private buf = "";
  private readonly answers: RawAnswer[] = [];
  private waiter: (() => void) | undefined;
  closed = false;
  readonly closedP: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buf += d;
      this.parse();
    });
    socket.on("error", () => undefined);
    this.closedP = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static open(port: number, localAddress = "127.0.0.1"): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1", localAddress });
      s.once("connect", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = this.buf.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(":");
        headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      const len = Number(headers["content-length"] ?? "0");
      if (this.buf.length < end + 4 + len) return;
      this.answers.push({ status: Number(lines[0]!.split(" ")[1]), headers, body: this.buf.slice(end + 4, end + 4 + len) });
      this.buf = this.buf.slice(end + 4 + len);
      this.waiter?.();
    }
  }

  write(text: string): void {
    this.socket.write(text, "latin1");
  }

  /** The next `n` answers, or fewer if the connection closes or `ms` pass. */
  async read(n = 1, ms = 5000): Promise<RawAnswer[]> {
    const deadline = Date.now() + ms;
    while (this.answers.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
      });
      this.waiter = undefined;
    }
    return this.answers.splice(0, n);
  }

  /** Whether the server closes the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closedP.then(() => true), new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(t);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A request as text; signed as KMS signs it when `cred` is given. */
export async function requestText(port: number, path: string, body: string, cred?: XksCredential, extraHeaders: Record<string, string> = {}): Promise<string> {
  let headers: Record<string, string> = { host: `localhost:${port}`, "content-type": "application/json", ...extraHeaders };
  if (cred) {
    const signer = new SignatureV4({
      credentials: cred,
      region: "us-east-1",
      service: "kms-xks-proxy",
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = (await signer.sign({ method: "POST", protocol: "http:", hostname: "localhost", port, path, query: {}, headers, body })) as unknown as {
      headers: Record<string, string>;
    };
    headers = signed.headers;
  }
  let text = `POST ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  return `${text}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * A proxy started from ciop TOML for the raw-socket tests, with the connections they open
 * (destroyed at close): `describe`'s beforeAll starts it, afterAll closes it.
 */
export class RawProxy {
  private readonly conns: RawConn[] = [];

  private constructor(
    readonly srv: RunningServer,
    readonly port: number,
  ) {}

  static async start(toml: string, dirName: string, logSink: (line: string) => void = () => undefined): Promise<RawProxy> {
    const srv = await startServer(await parseConfig(toml, { dir: testDir(dirName) }), { logSink });
    return new RawProxy(srv, Number(new URL(srv.url).port));
  }

  /** A connection from the loopback address `from` (its own source). */
  async open(from: string): Promise<RawConn> {
    const c = await RawConn.open(this.port, from);
    this.conns.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await this.srv.close();
  }
}
