/**
 * The XKS fast path (src/http/fast-http.ts) put in front of a plain node HTTP server by
 * fastPathInFront, as server.ts does it, driven over raw sockets: well-formed POSTs
 * are served by the fast path (keep-alive, pipelined, byte by byte); whatever it declines reaches
 * node from the declined request's first byte, and node answers it byte for byte as a node server
 * without the fast path does (CL+TE smuggling attempts included); Connection: close and half-close;
 * headers / request / keep-alive timeouts; closeIdle(); handler failures; backpressure; TLS; the
 * parseRequestHead subset.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import tls from "node:tls";
import { EndOfTurn, fastPathInFront, parseRequestHead, type FastHttp, type FastHttpOptions, type FastResponse } from "../src/http/fast-http.js";
import { sleep, testDir } from "./proxy-helpers.js";

// ------------------------------------------------------------------ servers
const errors: unknown[] = [];
let bigServed = 0;
/** Handlers of /gate/* requests waiting to be let through. */
const gate: Array<() => void> = [];
/** What happened, in order: handlers responding, server-side socket writes (see spyWrites). */
const events: string[] = [];
/** The `receivedAt` the fast path gave each /turn/* handler. */
const turnReceivedAt: bigint[] = [];

/** node's side: echoes what node's parser made of the request. */
function nodeHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
    const body = JSON.stringify({ via: "node", method: req.method, url: req.url, encrypted, body: Buffer.concat(chunks).toString("latin1") });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}

/** The fast side: echoes method, target, some headers and the body; a few targets misbehave on purpose. */
async function fastHandle(
  method: string,
  target: string,
  headers: Record<string, string>,
  body: Buffer,
  respond: (r: FastResponse) => void,
  receivedAt: bigint,
): Promise<void> {
  if (target === "/throw") throw new Error("handler exploded");
  if (target === "/silent") return;
  if (target === "/slow") await sleep(50);
  if (target.startsWith("/turn/")) {
    events.push(`handle ${target}`);
    turnReceivedAt.push(receivedAt);
  }
  if (target.startsWith("/gate/")) {
    await new Promise<void>((resolve) => gate.push(resolve));
    events.push(`respond ${target}`);
  }
  if (target === "/bad-header") return respond({ status: 200, headers: { "bad name": "x" }, body: "" });
  if (target.startsWith("/big/")) {
    bigServed++;
    return respond({ status: 200, headers: {}, body: `${target}\n`.padEnd(64 * 1024, "x") });
  }
  const echo = {
    via: "fast",
    method,
    target,
    host: headers.host,
    authorization: headers.authorization,
    contentType: headers["content-type"],
    bodyLength: body.length,
    body: body.toString("latin1"),
  };
  respond({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(echo) });
}

/** A listening server; `sockets` are the server-side sockets the fast path got. */
interface Pair {
  port: number;
  server: http.Server;
  fast?: FastHttp;
  sockets: net.Socket[];
}
const pairs: Pair[] = [];

/** node's HTTP server with (options given) or without (null) the fast path in front, wired like server.ts. */
async function startPair(over: Partial<FastHttpOptions> | null, tlsFiles?: { key: string; cert: string }): Promise<Pair> {
  const server = tlsFiles ? https.createServer(tlsFiles, nodeHandler) : http.createServer(nodeHandler);
  const pair: Pair = { port: 0, server, sockets: [] };
  if (over) {
    // the server-side sockets, seen before the fast path gets them
    server.on(tlsFiles ? "secureConnection" : "connection", (socket: net.Socket) => pair.sockets.push(socket));
    pair.fast = fastPathInFront(server, {
      accepts: (method, target) => method === "POST" && !target.startsWith("/node/"),
      handle: fastHandle,
      maxBodyBytes: 1024,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5000,
      onError: (err) => errors.push(err),
      turns: new EndOfTurn(),
      ...over,
    } as Omit<FastHttpOptions, "handOff">);
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  pair.port = (server.address() as AddressInfo).port;
  pairs.push(pair);
  return pair;
}

// ------------------------------------------------------------------ raw client
/** A JSON body the test servers send: fastHandle's or nodeHandler's echo, or an error. */
interface Echo {
  via?: string;
  method?: string;
  target?: string;
  url?: string;
  host?: string;
  authorization?: string;
  contentType?: string;
  encrypted?: boolean;
  bodyLength?: number;
  body?: string;
  errorName?: string;
}

interface Res {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed, when it is JSON. */
  json: Echo | undefined;
}

/** One response at the start of `s` (latin1) and its length, or undefined while incomplete. */
function parseOne(s: string, closed: boolean): [Res, number] | undefined {
  const e = s.indexOf("\r\n\r\n");
  if (e < 0) return undefined;
  const [statusLine, ...lines] = s.slice(0, e).split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
  const status = Number(statusLine!.split(" ")[1]);
  let i = e + 4;
  let body = "";
  if (status >= 200 && headers["content-length"] !== undefined) {
    i += Number(headers["content-length"]);
    if (s.length < i) return undefined;
    body = s.slice(e + 4, i);
  } else if (status >= 200) {
    if (!closed) return undefined; // no length (node's 4xx answers, before it closes): the body runs until close
    body = s.slice(i);
    i = s.length;
  }
  let json: Echo | undefined;
  try {
    json = JSON.parse(body) as Echo;
  } catch {
    // not JSON
  }
  return [{ status, headers, body, json }, i];
}

/** A raw client connection: exact bytes out; every byte in (`all`) and the responses parsed from them. */
class Conn {
  all = "";
  closed = false;
  readonly responses: Res[] = [];
  private rest = "";
  private wake = (): void => undefined;
  private readonly closedP: Promise<void>;
  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.all += d.toString("latin1");
      this.rest += d.toString("latin1");
      this.parse();
    });
    socket.on("error", () => undefined);
    this.closedP = new Promise((resolve) => socket.once("close", resolve)).then(() => {
      this.closed = true;
      this.parse();
    });
  }
  private parse(): void {
    for (let p = parseOne(this.rest, this.closed); p; p = parseOne(this.rest, this.closed)) {
      this.responses.push(p[0]);
      this.rest = this.rest.slice(p[1]);
    }
    this.wake();
  }
  write(bytes: string): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.from(bytes, "latin1"));
  }
  /** The responses that are not 1xx. */
  finals(): Res[] {
    return this.responses.filter((r) => r.status >= 200);
  }
  /** Waits for n final responses, the socket's close or `ms`; returns the final responses. */
  async read(n: number, ms = 3000): Promise<Res[]> {
    const until = Date.now() + ms;
    while (this.finals().length < n && !this.closed && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, until - Date.now());
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.finals();
  }
  async closedWithin(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.closedP.then(() => true), new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(t);
    return result;
  }
  /** Sends `bytes` one byte every `everyMs` until they are all sent, the socket closes or `capMs` passed; returns the count sent. */
  async dribble(bytes: string, everyMs: number, capMs: number): Promise<number> {
    const t0 = Date.now();
    let sent = 0;
    for (; !this.closed && sent < bytes.length && Date.now() - t0 < capMs; await sleep(everyMs)) this.write(bytes[sent++]!);
    return sent;
  }
}

const conns: Conn[] = [];
async function connect(port: number, ca?: string): Promise<Conn> {
  const socket = ca ? tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca }) : net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const c = new Conn(socket);
  conns.push(c);
  await new Promise((resolve) => {
    socket.once(ca ? "secureConnect" : "connect", resolve);
    socket.once("close", resolve);
  });
  return c;
}

/** The server-side socket of client `c` on `pair`. */
async function serverSocketOf(pair: Pair, c: Conn): Promise<net.Socket> {
  let serverSide: net.Socket | undefined;
  for (let i = 0; i < 100 && !serverSide; i++, await sleep(5)) serverSide = pair.sockets.find((s) => s.remotePort === c.socket.localPort);
  return serverSide!;
}

/** The server-side socket of client `c` on `pair`, its writes counted and logged to `events` as `write <label>`. */
async function spyWrites(pair: Pair, c: Conn, label: string): Promise<{ writes: number }> {
  const serverSide = await serverSocketOf(pair, c);
  const count = { writes: 0 };
  const write = serverSide!.write.bind(serverSide!) as (...args: unknown[]) => boolean;
  serverSide!.write = ((...args: unknown[]) => {
    count.writes++;
    events.push(`write ${label}`);
    return write(...args);
  }) as net.Socket["write"];
  return count;
}

const HOST = "Host: xks.example.com\r\n";
/** A request the fast path accepts (POST, Host, Content-Length), with `extra` header lines. */
const req = (target: string, body = "", extra = ""): string =>
  `POST ${target} HTTP/1.1\r\n${HOST}${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const PING = `GET /ping HTTP/1.1\r\n${HOST}\r\n`;
/** Raw bytes without the Date header (the only part of node's answer that varies). */
const norm = (raw: string): string => raw.replace(/^date: [^\r]*\r\n/gim, "");

let main: Pair, nodeAlone: Pair, timed: Pair;

/** The same bytes to the wired server and to node alone; both connections once `n` responses came (or close, or `ms`). */
async function toBoth(bytes: string, n: number, ms?: number): Promise<[Conn, Conn]> {
  const [wired, alone] = await Promise.all([main.port, nodeAlone.port].map((port) => connect(port)));
  wired!.write(bytes);
  alone!.write(bytes);
  await Promise.all([wired!.read(n, ms), alone!.read(n, ms)]);
  return [wired!, alone!];
}

beforeAll(async () => {
  main = await startPair({});
  nodeAlone = await startPair(null);
  timed = await startPair({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 });
});
afterEach(() => {
  for (const c of conns.splice(0)) c.socket.destroy();
});
afterAll(async () => {
  for (const p of pairs) {
    p.fast?.closeAll();
    p.server.closeAllConnections();
    await new Promise((resolve) => p.server.close(resolve));
  }
});

// ------------------------------------------------------------------ served by the fast path
describe("the fast path serves well-formed POSTs", () => {
  test("a well-formed POST is answered via fast with keep-alive headers, and the connection stays open for the next one", async () => {
    const c = await connect(main.port);
    c.write(req("/kms/xks/v1/keys/k1/encrypt", '{"a":1}', "Authorization: AWS4-HMAC-SHA256 Credential=x\r\nContent-Type: application/json\r\n"));
    const [r] = await c.read(1);
    expect(r!.status).toBe(200);
    expect(r!.headers).toMatchObject({
      connection: "keep-alive",
      "keep-alive": "timeout=5",
      "content-length": String(r!.body.length),
      "content-type": "application/json",
    });
    expect(r!.headers.date).toMatch(/GMT$/);
    expect(r!.json).toEqual({
      via: "fast",
      method: "POST",
      target: "/kms/xks/v1/keys/k1/encrypt",
      host: "xks.example.com",
      authorization: "AWS4-HMAC-SHA256 Credential=x",
      contentType: "application/json",
      bodyLength: 7,
      body: '{"a":1}',
    });
    expect(await c.closedWithin(200)).toBe(false);
    c.write(req("/again", "z"));
    expect((await c.read(2)).map((x) => [x.json?.via, x.json?.target])).toEqual([
      ["fast", "/kms/xks/v1/keys/k1/encrypt"],
      ["fast", "/again"],
    ]);
  });

  test("three POSTs pipelined in one write are answered in order on one connection", async () => {
    const c = await connect(main.port);
    c.write(req("/1") + req("/2", "bb") + req("/3", "ccc"));
    const rs = await c.read(3);
    expect(rs.map((r) => [r.json?.via, r.json?.target, r.json?.body])).toEqual([
      ["fast", "/1", ""],
      ["fast", "/2", "bb"],
      ["fast", "/3", "ccc"],
    ]);
    expect(c.closed).toBe(false);
  });

  test("the answers to three POSTs pipelined in one write leave in one socket write", async () => {
    const c = await connect(main.port);
    const spy = await spyWrites(main, c, "c");
    c.write(req("/1") + req("/2", "bb") + req("/3", "ccc"));
    expect((await c.read(3)).map((r) => r.json?.target)).toEqual(["/1", "/2", "/3"]);
    expect(spy.writes).toBe(1);
  });

  test("answers given in one event-loop turn on two connections are written after both handlers responded, one write each", async () => {
    events.length = 0;
    const [a, b] = [await connect(main.port), await connect(main.port)];
    const spies = [await spyWrites(main, a!, "a"), await spyWrites(main, b!, "b")];
    a!.write(req("/gate/a"));
    b!.write(req("/gate/b"));
    for (let i = 0; i < 200 && gate.length < 2; i++) await sleep(5);
    expect(gate).toHaveLength(2);
    // both handlers go on in the same turn (as HSM calls finishing in one turn do)
    for (const open of gate.splice(0)) open();
    expect((await a!.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/gate/a" });
    expect((await b!.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/gate/b" });
    expect(events).toEqual(["respond /gate/a", "respond /gate/b", "write a", "write b"]);
    expect(spies.map((s) => s.writes)).toEqual([1, 1]);
  });

  test("requests read in one event-loop turn are handled after every read of that turn, in the order they arrived", async () => {
    const [a, b] = [await connect(main.port), await connect(main.port)];
    const [sa, sb] = [await serverSocketOf(main, a!), await serverSocketOf(main, b!)];
    events.length = 0;
    // two connections' reads in one turn, as one poll of the event loop delivers them
    sa.emit("data", Buffer.from(req("/turn/a")));
    sb.emit("data", Buffer.from(req("/turn/b")));
    events.push("reads done");
    expect((await a!.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/turn/a" });
    expect((await b!.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/turn/b" });
    expect(events).toEqual(["reads done", "handle /turn/a", "handle /turn/b"]);
  });

  test("a handler run at the end of the turn is told when its request was read, not when it was handled", async () => {
    const c = await connect(main.port);
    const sc = await serverSocketOf(main, c);
    turnReceivedAt.length = 0;
    const before = process.hrtime.bigint();
    sc.emit("data", Buffer.from(req("/turn/late")));
    const read = process.hrtime.bigint();
    // the rest of a busy turn: 30 ms of other I/O callbacks before the handle step
    while (process.hrtime.bigint() - read < 30_000_000n);
    expect((await c.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/turn/late" });
    expect(turnReceivedAt).toHaveLength(1);
    expect(turnReceivedAt[0]! >= before && turnReceivedAt[0]! <= read).toBe(true);
  });

  test("300 small POSTs pipelined at once are all answered in order, at most 8 handled (and one write) per event-loop turn", async () => {
    const c = await connect(main.port);
    const spy = await spyWrites(main, c, "c");
    c.write(Array.from({ length: 300 }, (_, i) => req(`/p/${i}`, "x".repeat(i % 7))).join(""));
    const rs = await c.read(300, 10_000);
    expect(rs).toHaveLength(300);
    expect(rs.findIndex((r, i) => r.status !== 200 || r.json?.target !== `/p/${i}`)).toBe(-1);
    // issue 14 item 11: a pipelining client gets at most maxRequestsPerTurn (8) requests handled
    // per turn, answered in one write; before, all 300 went in a handful of turns (~5 writes)
    expect(spy.writes).toBeGreaterThanOrEqual(Math.ceil(300 / 8));
    expect(spy.writes).toBeLessThan(300 / 2);
    expect(c.closed).toBe(false);
  });

  test("a request in a few pieces is served by the fast path; one whose head dribbles in byte by byte is handed to node, which serves it", async () => {
    const bytes = req("/split", "0123456789", "Content-Type: application/json\r\n");
    const few = await connect(main.port);
    const size = Math.ceil(bytes.length / 8);
    for (let at = 0; at < bytes.length; at += size) {
      few.write(bytes.slice(at, at + size));
      await sleep(10);
    }
    expect((await few.read(1))[0]!.json).toMatchObject({ via: "fast", target: "/split", contentType: "application/json", body: "0123456789" });
    const dribbled = await connect(main.port);
    expect(await dribbled.dribble(bytes, 1, 10_000)).toBe(bytes.length);
    expect((await dribbled.read(1))[0]!.json).toMatchObject({ via: "node", url: "/split", body: "0123456789" });
  });

  test("update() (a config reload) applies a new body limit from the next request on", async () => {
    const p = await startPair({ maxBodyBytes: 1024 });
    const body = "x".repeat(100);
    const before = await connect(p.port);
    before.write(req("/limit", body));
    expect((await before.read(1))[0]!.json).toMatchObject({ via: "fast", bodyLength: 100 });
    p.fast!.update({ maxBodyBytes: 50, keepAliveTimeoutMs: 5000 });
    const after = await connect(p.port);
    after.write(req("/limit", body));
    expect((await after.read(1))[0]!.json).toMatchObject({ via: "node", url: "/limit", body });
  });

  test("a body trickled in byte by byte is handed to node with the head, which serves the whole request", async () => {
    const body = "b".repeat(60);
    const c = await connect(main.port);
    const bytes = req("/trickled-body", body);
    c.write(bytes.slice(0, bytes.length - body.length));
    expect(await c.dribble(body, 1, 10_000)).toBe(body.length);
    expect((await c.read(1))[0]!.json).toMatchObject({ via: "node", url: "/trickled-body", body });
  });
});

// ------------------------------------------------------------------ hand-off to node
describe("hand-off keeps the bytes and gives node the connection for good", () => {
  test.each([
    ["sent one at a time", false],
    ["pipelined in one write", true],
  ])("fast POST, then GET /ping (node), then a POST that node now serves: %s", async (_name, pipelined) => {
    const c = await connect(main.port);
    const reqs = [req("/first", "one"), PING, req("/after", "xyz")];
    if (pipelined) c.write(reqs.join(""));
    for (let i = 0; i < reqs.length; i++) {
      if (!pipelined) c.write(reqs[i]!);
      await c.read(i + 1);
    }
    expect(c.finals().map((r) => r.json)).toEqual([
      expect.objectContaining({ via: "fast", target: "/first", body: "one" }),
      expect.objectContaining({ via: "node", method: "GET", url: "/ping", body: "" }),
      expect.objectContaining({ via: "node", method: "POST", url: "/after", body: "xyz" }),
    ]);
  });

  test.each<[string, string, { status: number; body?: string }]>([
    ["an obs-folded header line", `POST /a HTTP/1.1\r\n${HOST}X-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n`, { status: 400 }],
    ["a bare LF ending a line inside the head", `POST /a HTTP/1.1\r\nHost: x\nX-A: 1\r\nContent-Length: 0\r\n\r\n`, { status: 400 }],
    ["a duplicate Content-Length", `POST /a HTTP/1.1\r\n${HOST}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`, { status: 400 }],
    [
      "Transfer-Encoding: chunked (node decodes the body)",
      `POST /a HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      { status: 200, body: "hello" },
    ],
    ["Expect: 100-continue", `POST /a HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi`, { status: 200, body: "hi" }],
    ["a missing Host", "POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", { status: 400 }],
    ["a space between header name and colon", `POST /a HTTP/1.1\r\n${HOST}Content-Length : 0\r\n\r\n`, { status: 400 }],
    ["a control character in a header value", `POST /a HTTP/1.1\r\n${HOST}X-A: a\x01b\r\nContent-Length: 0\r\n\r\n`, { status: 400 }],
    ["HTTP/1.0", `POST /a HTTP/1.0\r\n${HOST}Content-Length: 2\r\n\r\nhi`, { status: 200, body: "hi" }],
    ["a Content-Length above maxBodyBytes", req("/a", "z".repeat(2000)), { status: 200, body: "z".repeat(2000) }],
    ["a method other than POST", `PUT /a HTTP/1.1\r\n${HOST}Content-Length: 2\r\n\r\nhi`, { status: 200, body: "hi" }],
    ["a target accepts() declines", req("/node/x", "hi"), { status: 200, body: "hi" }],
  ])("%s goes to node, which answers byte for byte as node alone does (never via fast)", async (_name, bytes, want) => {
    const [wired, alone] = await toBoth(bytes, 1);
    const [r] = wired.finals();
    expect(r?.status).toBe(want.status);
    if (want.body !== undefined) expect(r!.json).toMatchObject({ via: "node", body: want.body });
    expect(wired.all).not.toContain('"via":"fast"');
    expect(norm(wired.all)).toBe(norm(alone.all));
  });
});

// ------------------------------------------------------------------ smuggling
describe("request smuggling attempts", () => {
  const smuggled = req("/smuggled");
  test.each([
    ["Content-Length + Transfer-Encoding", `POST /a HTTP/1.1\r\n${HOST}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`],
    ["Content-Length + 'Transfer-Encoding :'", `POST /a HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`],
    [
      "Content-Length + obs-folded Transfer-Encoding",
      `POST /a HTTP/1.1\r\n${HOST}Content-Length: 5\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    ],
  ])("%s with a second request in the body: node's parser alone decides (400, close), the smuggled POST is served by no one", async (_name, bytes) => {
    const [wired, alone] = await toBoth(bytes, 2, 2000);
    expect(wired.finals().map((r) => r.status)).toEqual([400]);
    expect(wired.closed).toBe(true);
    expect(wired.all).not.toMatch(/via|smuggled/);
    expect(norm(wired.all)).toBe(norm(alone.all));
  });

  test("a fast-path POST whose Content-Length body holds a whole request: it stays body, the next request is parsed after it", async () => {
    const c = await connect(main.port);
    c.write(req("/outer", smuggled));
    const [r] = await c.read(1);
    expect(r!.json).toMatchObject({ via: "fast", target: "/outer", bodyLength: smuggled.length, body: smuggled });
    expect(await c.read(2, 300)).toHaveLength(1);
    c.write(req("/next"));
    expect((await c.read(2))[1]!.json).toMatchObject({ via: "fast", target: "/next" });
  });
});

// ------------------------------------------------------------------ closing
describe("closing", () => {
  test("Connection: close gets connection: close, the socket is closed, and a request pipelined after it is not served", async () => {
    const c = await connect(main.port);
    c.write(req("/bye", "", "Connection: close\r\n") + req("/ignored"));
    const rs = await c.read(2);
    expect(rs).toHaveLength(1);
    expect(rs[0]!.json).toMatchObject({ via: "fast", target: "/bye" });
    expect(rs[0]!.headers).toMatchObject({ connection: "close" });
    expect(rs[0]!.headers["keep-alive"]).toBeUndefined();
    expect(c.closed).toBe(true);
  });

  test("a client half-close (end()) after a complete request still gets the response, then the socket closes", async () => {
    const c = await connect(main.port);
    c.write(req("/slow", "x"));
    c.socket.end();
    expect((await c.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/slow", body: "x" });
    expect(await c.closedWithin(1000)).toBe(true);
  });

  // Regression (fixed): the FIN set peerEnded while /slow was in progress, and next() then ended the
  // connection without looking at the complete request already in `pending`. node alone answers both.
  test("requests pipelined before a client half-close are all answered, not only the one in progress", async () => {
    const c = await connect(main.port);
    c.write(req("/slow") + req("/second"));
    c.socket.end();
    expect((await c.read(2, 2000)).map((r) => r.json?.target)).toEqual(["/slow", "/second"]);
  });

  test("closeIdle() closes idle connections at once, lets a request in progress finish its response, then closes it", async () => {
    let release = (): void => undefined;
    let started = (): void => undefined;
    const inProgress = new Promise<void>((resolve) => (started = resolve));
    const p = await startPair({
      handle: async (_m, target, _h, _b, respond) => {
        if (target === "/wait") {
          await new Promise<void>((resolve) => {
            release = resolve;
            started();
          });
        }
        respond({ status: 200, headers: {}, body: `done ${target}` });
      },
    });
    const idle = await connect(p.port);
    idle.write(req("/first"));
    await idle.read(1);
    const busy = await connect(p.port);
    busy.write(req("/wait"));
    await inProgress;
    p.fast!.closeIdle();
    expect(await idle.closedWithin(500)).toBe(true); // the keep-alive timeout is 5 s: only closeIdle() closes it
    expect(await busy.closedWithin(300)).toBe(false);
    release();
    expect((await busy.read(1))[0]).toMatchObject({ status: 200, body: "done /wait" });
    expect(await busy.closedWithin(1000)).toBe(true);
    const late = await connect(p.port);
    expect(await late.closedWithin(1000)).toBe(true);
    expect(late.all).toBe("");
  });
});

// ------------------------------------------------------------------ timeouts (1 s sweep)
describe("timeouts (headers 300 ms, request 600 ms, keep-alive 300 ms; swept every 1 s)", () => {
  test("an idle keep-alive connection outlives its response but is closed after the keep-alive timeout", async () => {
    const c = await connect(timed.port);
    c.write(req("/a"));
    expect((await c.read(1))[0]?.json?.via).toBe("fast");
    expect(await c.closedWithin(150)).toBe(false);
    expect(await c.closedWithin(2500)).toBe(true);
  });

  test("a slowloris sending one header byte every 200 ms is closed at the headers timeout, before its head completes", async () => {
    const c = await connect(timed.port);
    const bytes = req("/loris");
    expect(await c.dribble(bytes, 200, 3000)).toBeLessThan(bytes.length);
    expect(c.closed).toBe(true);
    expect(c.all).toBe("");
  });

  test("a body that stops arriving, or trickles in one byte every 200 ms, is closed at the request timeout", async () => {
    const stalled = await connect(timed.port);
    stalled.write(`POST /a HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nabc`);
    const trickle = await connect(timed.port);
    trickle.write(`POST /a HTTP/1.1\r\n${HOST}Content-Length: 20\r\n\r\n`);
    expect(await trickle.dribble("b".repeat(20), 200, 3000)).toBeLessThan(20);
    expect(trickle.closed).toBe(true);
    expect(await stalled.closedWithin(2500)).toBe(true);
    expect(stalled.all + trickle.all).toBe("");
  });
});

// ------------------------------------------------------------------ failures and backpressure
describe("handler failures and backpressure", () => {
  test("a handler that throws (or never responds) gets a 500 InternalException JSON answer, onError sees the error, the connection goes on", async () => {
    errors.length = 0;
    const c = await connect(main.port);
    c.write(req("/throw") + req("/silent") + req("/after"));
    const rs = await c.read(3);
    expect(rs.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(rs[0]!.headers["content-type"]).toBe("application/json");
    expect(rs[0]!.json).toEqual({ errorName: "InternalException" });
    expect(rs[1]!.json).toEqual({ errorName: "InternalException" });
    expect(errors).toEqual([expect.objectContaining({ message: "handler exploded" })]);
    expect(rs[2]!.json).toMatchObject({ via: "fast", target: "/after" });
  });

  // Regression (fixed): write() rendered the fallback 500 with `connection: close` but pump() passed
  // its own `close` (false) to next(), so the connection stayed open and the next pipelined request
  // was served (RFC 9112 §9.6: no further requests after sending "close").
  test("a response with an invalid header becomes a 500 with connection: close, and the server then closes the connection", async () => {
    errors.length = 0;
    const c = await connect(main.port);
    c.write(req("/bad-header") + req("/next"));
    const rs = await c.read(2, 1000);
    expect(errors).toHaveLength(1);
    expect(rs[0]).toMatchObject({ status: 500, headers: expect.objectContaining({ connection: "close" }) });
    expect(rs).toHaveLength(1);
    expect(c.closed).toBe(true);
  });

  test("a client pipelining 400 requests (26 MB of answers) without reading stalls only itself: bounded buffering, others served", async () => {
    bigServed = 0;
    const hog = await connect(main.port);
    hog.socket.pause();
    hog.write(Array.from({ length: 400 }, (_, i) => req(`/big/${i}`)).join(""));
    for (let last = -1, i = 0; bigServed !== last && i < 40; i++) {
      last = bigServed;
      await sleep(150);
    }
    expect(bigServed).toBeGreaterThan(0);
    expect(bigServed).toBeLessThan(400);
    const serverSide = main.sockets.find((s) => s.remotePort === hog.socket.localPort);
    expect(serverSide!.writableLength).toBeLessThan(256 * 1024);
    const other = await connect(main.port);
    other.write(req("/meanwhile"));
    expect((await other.read(1))[0]?.json).toMatchObject({ via: "fast", target: "/meanwhile" });
    hog.socket.resume();
    const rs = await hog.read(400, 20_000);
    expect(rs).toHaveLength(400);
    expect(rs.findIndex((r, i) => r.status !== 200 || !r.body.startsWith(`/big/${i}\n`))).toBe(-1);
  });
});

// Regression (fixed): the reader only looked for CRLFCRLF, so a head ending in "\n\n" (bare LF only)
// was neither served nor handed off until the headers timeout destroyed the connection (20 s in
// server.ts). node alone answers 400 at once.
test("a head with bare-LF line endings only is handed to node (400 at once), not left waiting for CRLFCRLF", async () => {
  const c = await connect(main.port);
  c.write("POST /a HTTP/1.1\nHost: x\nContent-Length: 0\n\n");
  expect((await c.read(1, 1500))[0]?.status).toBe(400);
});

// ------------------------------------------------------------------ TLS
describe("over TLS (node's 'secureConnection' listener)", () => {
  let tlsPair: Pair;
  let ca: string;
  beforeAll(async () => {
    const dir = testDir("fast-http-tls");
    const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    ca = readFileSync(cert, "utf8");
    tlsPair = await startPair({}, { key: readFileSync(key, "utf8"), cert: ca });
  });

  test("a fast request and then handed-off requests on one TLS connection are all answered; node sees an encrypted socket", async () => {
    const c = await connect(tlsPair.port, ca);
    c.write(req("/tls-fast", "t"));
    await c.read(1);
    c.write(PING + req("/tls-after", "u"));
    expect((await c.read(3)).map((r) => r.json)).toEqual([
      expect.objectContaining({ via: "fast", target: "/tls-fast", body: "t" }),
      expect.objectContaining({ via: "node", url: "/ping", encrypted: true }),
      expect.objectContaining({ via: "node", url: "/tls-after", body: "u", encrypted: true }),
    ]);
  });
});

// ------------------------------------------------------------------ parseRequestHead
describe("parseRequestHead", () => {
  const KMS = "POST /kms/xks/v1/keys/k1/encrypt HTTP/1.1\r\nHost: xks.example.com";
  test("accepts a KMS-like head: lower-case names, trimmed values, the content length, keep-alive or close", () => {
    const auth = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab";
    const head = `${KMS}\r\nAuthorization: ${auth}\r\nX-Amz-Date:20260101T000000Z\r\nContent-Type:  application/json \t\r\nContent-Length: 1024`;
    expect(parseRequestHead(head, 1024)).toEqual({
      method: "POST",
      target: "/kms/xks/v1/keys/k1/encrypt",
      headers: { host: "xks.example.com", authorization: auth, "x-amz-date": "20260101T000000Z", "content-type": "application/json", "content-length": "1024" },
      contentLength: 1024,
      close: false,
    });
    expect(parseRequestHead(`${KMS}\r\nConnection: Keep-Alive, close`, 1024)?.close).toBe(true);
    expect(parseRequestHead(KMS, 1024)).toMatchObject({ contentLength: 0, close: false });
  });

  test.each([
    ["obs-fold (SP)", `${KMS}\r\nX-A: 1\r\n folded`],
    ["obs-fold (HTAB)", `${KMS}\r\nX-A: 1\r\n\tfolded`],
    ["a bare LF", `${KMS}\nX-A: 1`],
    ["a bare CR in a value", `${KMS}\r\nX-A: a\rb`],
    ["a duplicate Content-Length", `${KMS}\r\nContent-Length: 1\r\nContent-Length: 1`],
    ["a duplicate Host in another case", `${KMS}\r\nhost: other`],
    ["Transfer-Encoding", `${KMS}\r\nTransfer-Encoding: chunked`],
    ["Expect", `${KMS}\r\nExpect: 100-continue`],
    ["Upgrade", `${KMS}\r\nUpgrade: h2c`],
    ["TE", `${KMS}\r\nTE: trailers`],
    ["a missing Host", "POST / HTTP/1.1\r\nContent-Length: 0"],
    ["a space before the colon", `${KMS}\r\nContent-Length : 0`],
    ["an empty header name", `${KMS}\r\n: x`],
    ["a line without a colon", `${KMS}\r\nX-A`],
    ["a control character in a value", `${KMS}\r\nX-A: a\x01b`],
    ["DEL in a value", `${KMS}\r\nX-A: a\x7fb`],
    ["HTTP/1.0", "POST / HTTP/1.0\r\nHost: x"],
    ["a lower-case method", "post / HTTP/1.1\r\nHost: x"],
    ["an absolute-form target", "POST http://x/ HTTP/1.1\r\nHost: x"],
    ["two spaces in the request line", "POST  / HTTP/1.1\r\nHost: x"],
    ["a Content-Length above the limit", `${KMS}\r\nContent-Length: 1025`],
    ["a signed Content-Length", `${KMS}\r\nContent-Length: +1`],
    ["a list Content-Length", `${KMS}\r\nContent-Length: 1, 1`],
    ["an empty Content-Length", `${KMS}\r\nContent-Length:`],
    ["Connection: upgrade", `${KMS}\r\nConnection: upgrade`],
    ["a header named __proto__", `${KMS}\r\n__proto__: x`],
    ["a header named constructor", `${KMS}\r\nConstructor: x`],
  ])("declines %s", (_name, head) => {
    expect(parseRequestHead(head, 1024)).toBeUndefined();
  });
});
