// bench/xks/stages.mjs: per-request cost of each stage of the XKS request path, in one process,
// without HTTP or the HSM (a node:crypto AES-GCM key manager stands in), in microseconds.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { handleXksHttpRequest, verifyXksSignature } from "@ciop/xks";

const cred = { accessKeyId: "ABCDEFGHIJKLMNOPQRSTUVWX23", secretAccessKey: randomBytes(32).toString("base64") };
const store = { name: "s", uriPrefix: "/bench/xks", credentials: [cred], keys: new Set(["k1"]) };
const keyBytes = randomBytes(32);
const crypto = {
  async describeKey(id) { return id === "k1" ? { keySpec: "AES_256", enabled: true, canEncrypt: true, canDecrypt: true } : undefined; },
  async encrypt(_id, iv, pt, aad) { const c = createCipheriv("aes-256-gcm", keyBytes, iv); c.setAAD(aad); const o = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]); return o; },
  async decrypt(_id, iv, ct, aad) { const d = createDecipheriv("aes-256-gcm", keyBytes, iv); d.setAAD(aad); d.setAuthTag(ct.subarray(ct.length - 16)); return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]); },
};
const signer = new SignatureV4({ credentials: cred, region: "us-east-1", service: "kms-xks-proxy", sha256: Sha256, uriEscapePath: false, applyChecksum: false });
const md = (op) => ({ awsPrincipalArn: "arn:aws:iam::111122223333:role/bench", kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/x", kmsOperation: op, kmsRequestId: randomUUID() });
async function signed(path, obj) {
  const body = JSON.stringify(obj);
  const s = await signer.sign({ method: "POST", protocol: "https:", hostname: "localhost", port: 4443, path, query: {}, headers: { host: "localhost:4443", "content-type": "application/json" }, body }, { signingDate: new Date() });
  const headers = {};
  for (const [k, v] of Object.entries(s.headers)) headers[k.toLowerCase()] = v;
  headers["content-length"] = String(Buffer.byteLength(body));
  headers["connection"] = "keep-alive";
  return { method: "POST", url: path, headers, body: Buffer.from(body) };
}
const encPath = "/bench/xks/kms/xks/v1/keys/k1/encrypt";
const reqs = [];
for (let i = 0; i < 256; i++) reqs.push(await signed(encPath, { requestMetadata: md("Encrypt"), plaintext: randomBytes(32).toString("base64"), encryptionAlgorithm: "AES_GCM", additionalAuthenticatedData: randomBytes(64).toString("base64") }));
const service = { stores: [store], crypto, health: () => ({}) };

async function measure(name, fn, n = 20000) {
  for (let i = 0; i < 2000; i++) await fn(reqs[i % reqs.length]);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(reqs[i % reqs.length]);
  const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(`${name.padEnd(50)} ${us.toFixed(1).padStart(8)} µs`);
}
await measure("verifyXksSignature", (r) => verifyXksSignature({ method: r.method, path: r.url, query: "", headers: r.headers, body: r.body }, store));
await measure("handleXksHttpRequest (software AES-GCM)", async (r) => { const o = await handleXksHttpRequest(r, service); if (o.status !== 200) throw new Error(o.body); });
await measure("log line JSON.stringify", (r) => JSON.stringify({ time: new Date().toISOString(), level: "info", pid: 1, msg: "request", kmsRequestId: "x", operation: "Encrypt", store: "s", key: "k1", status: 200, latencyMs: 1.23 }));
