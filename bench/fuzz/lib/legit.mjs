// The legitimate client that runs beside the fuzz: KMS-like SigV4-signed Encrypt and Decrypt
// requests (signed with @smithy/signature-v4), paced at a fixed rate over keep-alive connections,
// latency measured from each request's due time to the end of its answer (no coordinated omission).
import net from "node:net";
import tls from "node:tls";
import { encryptBody, requestMetadata, xksSigner } from "../../xks/common.mjs";
import { ResponseReader } from "./http-response.mjs";
import { render } from "./wire.mjs";

export class LegitClient {
  /** `targets`: the proxies to spread requests over; `store`: { prefix, credentials }; `ciphertexts` to decrypt. */
  constructor({ targets, store, key, ciphertexts, rate, connections = 2, localAddress }) {
    Object.assign(this, { targets, store, key, ciphertexts, rate, connections, localAddress });
    this.sign = xksSigner(store.credentials[0]);
    this.phases = new Map();
    this.phase = undefined;
    this.conns = [];
    this.queue = [];
    this.n = 0;
  }

  bucket(name = this.phase) {
    let b = this.phases.get(name);
    if (!b) {
      b = { lat: [], codes: {}, errors: 0, sent: 0 };
      this.phases.set(name, b);
    }
    return b;
  }

  connect(target) {
    // from its own loopback address (KMS is never the attacker's source): per-source limits that
    // throttle the fuzzer's 127.0.0.1 do not apply to it
    const from = this.localAddress ? { localAddress: this.localAddress } : {};
    const sock = target.tls
      ? tls.connect({ host: "127.0.0.1", port: target.port, servername: "localhost", rejectUnauthorized: false, ...from })
      : net.connect({ host: "127.0.0.1", port: target.port, ...from });
    const c = { sock, target, inflight: undefined, ready: false };
    c.reader = new ResponseReader(() => "POST");
    sock.setNoDelay?.(true);
    sock.on(target.tls ? "secureConnect" : "connect", () => {
      c.ready = true;
      this.pump();
    });
    sock.on("data", (d) => {
      c.reader.push(d);
      while (c.reader.responses.length) {
        const r = c.reader.responses.shift();
        this.done(c, r.status);
      }
      if (c.reader.invalid) sock.destroy();
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      if (c.inflight) {
        c.inflight.bucket.errors++;
        c.inflight = undefined;
      }
      this.conns = this.conns.filter((x) => x !== c);
      // reconnect after a pause (a proxy that refuses connections must not make this spin)
      if (this.running) setTimeout(() => this.running && this.conns.push(this.connect(target)), 100);
    });
    return c;
  }

  done(c, status) {
    const f = c.inflight;
    c.inflight = undefined;
    if (!f) return;
    const ms = performance.now() - f.due;
    f.bucket.codes[status] = (f.bucket.codes[status] ?? 0) + 1;
    if (status === 200) f.bucket.lat.push(ms);
    else f.bucket.errors++;
    this.pump();
  }

  async request(target) {
    const i = this.n++;
    const path = (op) => `${this.store.prefix}/kms/xks/v1/keys/${this.key}/${op}`;
    if (i % 2 === 0) return this.sign(path("encrypt"), encryptBody(), target.port);
    const c = this.ciphertexts[i % this.ciphertexts.length];
    const body = {
      requestMetadata: requestMetadata("Decrypt"),
      ciphertext: c.ciphertext,
      encryptionAlgorithm: "AES_GCM",
      initializationVector: c.initializationVector,
      authenticationTag: c.authenticationTag,
    };
    if (c.additionalAuthenticatedData !== undefined) body.additionalAuthenticatedData = c.additionalAuthenticatedData;
    if (c.ciphertextMetadata !== undefined) body.ciphertextMetadata = c.ciphertextMetadata;
    return this.sign(path("decrypt"), body, target.port);
  }

  pump() {
    while (this.queue.length) {
      const due = this.queue[0];
      const c = this.conns.find((x) => x.ready && !x.inflight && x.target === due.target && !x.sock.destroyed);
      if (!c) return;
      this.queue.shift();
      c.inflight = due;
      this.request(due.target).then((r) => {
        const headers = [
          ...Object.entries(r.headers).filter(([k]) => k.toLowerCase() !== "content-length"),
          ["content-length", String(Buffer.byteLength(r.body))],
        ];
        c.sock.write(render({ method: "POST", target: r.path, headers, body: Buffer.from(r.body) }));
      });
    }
  }

  start(phase) {
    this.phase = phase;
    this.running = true;
    for (const t of this.targets) for (let i = 0; i < this.connections; i++) this.conns.push(this.connect(t));
    const interval = 1000 / this.rate;
    let next = performance.now();
    let k = 0;
    const tick = () => {
      if (!this.running) return;
      const now = performance.now();
      while (next <= now) {
        const b = this.bucket();
        b.sent++;
        this.queue.push({ due: next, bucket: b, target: this.targets[k++ % this.targets.length] });
        next += interval;
      }
      this.pump();
      this.timer = setTimeout(tick, Math.max(1, next - performance.now()));
    };
    tick();
  }

  mark(phase) {
    this.phase = phase;
  }

  async stop() {
    this.running = false;
    clearTimeout(this.timer);
    // let requests in flight finish (up to 5 s)
    for (let i = 0; i < 100 && this.conns.some((c) => c.inflight); i++) await new Promise((r) => setTimeout(r, 50));
    for (const q of this.queue) q.bucket.errors++;
    this.queue = [];
    for (const c of this.conns) c.sock.destroy();
  }

  /** { sent, ok, errors, codes, p50, p99, max } for a phase. */
  summary(phase) {
    const b = this.bucket(phase);
    const lat = [...b.lat].sort((x, y) => x - y);
    const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] : NaN);
    return { sent: b.sent, ok: lat.length, errors: b.errors, codes: b.codes, p50: pct(0.5), p99: pct(0.99), max: lat.at(-1) ?? NaN };
  }
}
