// Sends one fuzz case over a raw socket (net or tls) and collects what comes back, byte-exact:
// every answer parsed by the strict reader, whether the proxy closed the connection, and whether
// it answered in time.
import net from "node:net";
import tls from "node:tls";
import { ResponseReader } from "./http-response.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connection whose data/close go to whichever case currently uses it. */
class Conn {
  constructor(sock) {
    this.sock = sock;
    this.closed = false;
    this.handler = undefined;
    sock.on("data", (d) => this.handler?.data(d));
    sock.on("close", () => {
      this.closed = true;
      this.handler?.close();
    });
    sock.on("error", (e) => {
      this.error = e.code ?? e.message;
    });
  }
}

function open(target, rawTcp, timeoutMs) {
  return new Promise((resolve) => {
    const tlsOn = target.tls && !rawTcp;
    const sock = tlsOn
      ? tls.connect({ host: "127.0.0.1", port: target.port, servername: "localhost", rejectUnauthorized: false })
      : net.connect(target.port, "127.0.0.1");
    const c = new Conn(sock);
    const t = setTimeout(() => {
      sock.destroy();
      resolve({ conn: c, error: "connect timeout" });
    }, timeoutMs);
    sock.once(tlsOn ? "secureConnect" : "connect", () => {
      clearTimeout(t);
      sock.setNoDelay(true);
      resolve({ conn: c });
    });
    sock.once("close", () => {
      clearTimeout(t);
      resolve({ conn: c, error: c.error ?? "closed while connecting" });
    });
  });
}

/** Swallows what a TLS listener sends to non-TLS bytes (counted, not parsed). */
class TlsSink {
  constructor() {
    this.responses = [];
    this.bytes = 0;
  }
  push(d) {
    this.bytes += d.length;
    return true;
  }
  close() {}
}

/** Idle keep-alive connections per target, reused by well-formed single-request cases. */
export class Pool {
  constructor() {
    this.idle = new Map();
  }
  take(name) {
    const list = this.idle.get(name);
    while (list?.length) {
      const c = list.pop();
      if (!c.closed && !c.sock.destroyed) return c;
    }
    return undefined;
  }
  give(name, c) {
    if (c.closed || c.sock.destroyed) return;
    c.handler = undefined;
    let list = this.idle.get(name);
    if (!list) {
      list = [];
      this.idle.set(name, list);
    }
    if (list.length >= 2) c.sock.destroy();
    else list.push(c);
  }
  closeAll() {
    for (const list of this.idle.values()) for (const c of list) c.sock.destroy();
    this.idle.clear();
  }
}

/**
 * Runs case `c` against `target`. Returns { responses, interim, invalid, closedByPeer, timedOut,
 * connectError, reused, elapsedMs }.
 */
export async function runCase(c, target, pool, { timeoutMs = 5000, quietMs = 300 } = {}) {
  const started = performance.now();
  const writes = c.writes ?? [{ data: c.bytes }];
  const reqs = c.requests;
  const allWellFormed = reqs.length > 0 && reqs.every((r) => r.wellFormed);
  const want = c.minAnswers ?? (allWellFormed ? reqs.length : 0);
  let reused = false;
  let conn;
  if (c.pool && !c.end && pool) {
    conn = pool.take(target.name);
    reused = conn !== undefined;
  }
  if (!conn) {
    const o = await open(target, c.rawTcp, timeoutMs);
    if (o.error) return { responses: [], connectError: o.error, elapsedMs: performance.now() - started };
    conn = o.conn;
  }
  const methods = reqs.map((r) => r.method);
  // raw bytes on a TLS port: the answer is TLS (an alert) or nothing, not HTTP
  const reader = c.rawTcp && target.tls ? new TlsSink() : new ResponseReader(() => methods.shift() ?? "POST");
  let lastData = performance.now();
  let wake;
  const poke = () => wake?.();
  conn.handler = {
    data: (d) => {
      lastData = performance.now();
      reader.push(d);
      poke();
    },
    close: () => {
      reader.close();
      poke();
    },
  };
  // writes (with their delays); a closed socket stops them
  let writing = true;
  const writer = (async () => {
    if (c.rawBytes) conn.sock.write(c.rawBytes);
    for (const w of writes) {
      if (w.delay) await sleep(w.delay);
      if (conn.closed || conn.sock.destroyed) break;
      conn.sock.write(w.data);
    }
    if (c.end && !conn.closed && !conn.sock.destroyed) conn.sock.end();
    writing = false;
    lastData = Math.max(lastData, performance.now());
    poke();
  })();
  const deadline = started + timeoutMs + writes.reduce((s, w) => s + (w.delay ?? 0), 0);
  let timedOut = false;
  let abandoned = false;
  for (;;) {
    const now = performance.now();
    if (conn.closed || reader.invalid) break;
    if (!writing) {
      if (c.abandonMs !== undefined && reader.responses.length >= want && now - lastData >= c.abandonMs) {
        abandoned = true;
        break;
      }
      if (!c.end && reader.responses.length >= want && (allWellFormed || now - lastData >= quietMs)) break;
    }
    if (now >= deadline) {
      timedOut = true;
      break;
    }
    await new Promise((r) => {
      wake = r;
      setTimeout(r, writing ? 20 : Math.min(quietMs, 50));
    });
    wake = undefined;
  }
  await writer;
  const out = {
    responses: reader.responses,
    interim: reader.interim ?? [],
    invalid: reader.invalid,
    closedByPeer: conn.closed,
    timedOut,
    abandoned,
    reused,
    socketError: conn.error,
    elapsedMs: performance.now() - started,
  };
  conn.handler = undefined; // what happens after this is the fuzzer's own doing
  const lastClose = reader.responses.at(-1)?.headers.some(([n, v]) => n === "connection" && /close/i.test(v));
  if (!conn.closed && !timedOut && !abandoned && !reader.invalid && allWellFormed && c.pool && !c.end && !lastClose && pool) pool.give(target.name, conn);
  else if (c.reset && !conn.sock.destroyed && !(conn.sock instanceof tls.TLSSocket)) conn.sock.resetAndDestroy();
  else conn.sock.destroy();
  return out;
}
