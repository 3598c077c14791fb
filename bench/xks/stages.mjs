// bench/xks/stages.mjs: per-request cost of each stage of the XKS request path, in one process,
// without HTTP or the HSM (a node:crypto AES-GCM key manager stands in), in microseconds.
import { randomBytes } from "node:crypto";
import { handleXksHttpRequest, verifyXksSignature } from "@ciop/xks";
import { encryptBody, softwareKeyManager, xksSigner } from "./common.mjs";

const cred = { accessKeyId: "ABCDEFGHIJKLMNOPQRSTUVWX23", secretAccessKey: randomBytes(32).toString("base64") };
const store = { name: "s", uriPrefix: "/bench/xks", credentials: [cred], keys: new Set(["k1"]) };
const signed = xksSigner(cred);
const encPath = "/bench/xks/kms/xks/v1/keys/k1/encrypt";
const reqs = [];
for (let i = 0; i < 256; i++) {
  const r = await signed(encPath, encryptBody(), 4443);
  // as node's http server hands them over: lower-case names, the body as bytes
  const headers = { connection: "keep-alive", "content-length": String(Buffer.byteLength(r.body)) };
  for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
  reqs.push({ method: "POST", url: encPath, headers, body: Buffer.from(r.body) });
}
const service = { stores: [store], crypto: softwareKeyManager("k1"), health: () => ({}) };

async function measure(name, fn, n = 20000) {
  for (let i = 0; i < 2000; i++) await fn(reqs[i % reqs.length]);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(reqs[i % reqs.length]);
  const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(`${name.padEnd(50)} ${us.toFixed(1).padStart(8)} µs`);
}
await measure("verifyXksSignature", (r) => verifyXksSignature({ method: r.method, path: r.url, query: "", headers: r.headers, body: r.body }, store));
await measure("handleXksHttpRequest (software AES-GCM)", async (r) => {
  const o = await handleXksHttpRequest(r, service);
  if (o.status !== 200) throw new Error(o.body);
});
await measure("log line JSON.stringify", () =>
  JSON.stringify({
    time: new Date().toISOString(),
    level: "info",
    pid: 1,
    msg: "request",
    kmsRequestId: "x",
    operation: "Encrypt",
    store: "s",
    key: "k1",
    status: 200,
    latencyMs: 1.23,
  }),
);
