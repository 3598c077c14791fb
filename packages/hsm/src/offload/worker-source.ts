/**
 * The source of a GCM worker thread, run with `new Worker(source, { eval: true })` so the same
 * code works from the built package and from the TypeScript sources under jest. It loads pkcs11js
 * and the PKCS#11 module by path (dlopen hands back the module the main thread initialised: PKCS#11
 * state — initialisation, login, sessions — belongs to the process), never calls C_Initialize or
 * C_Finalize, and runs one Init + Encrypt/Decrypt at a time, synchronously, on the session and key
 * handles the main thread sends.
 *
 * A job is one transferred ArrayBuffer: session handle (8 bytes) ‖ key handle (8) ‖ IV ‖ AAD ‖
 * input. The answer transfers the output buffer and the job buffer back (the token may have written
 * the IV into it); the input bytes are zeroed first, so no plaintext stays behind in this thread.
 *
 * A job with \`read\` set is one key-state read on the session it names (never key material): "find"
 * (C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal with a template, up to \`max\` handles),
 * "attrs" (C_GetAttributeValue of non-secret attributes) or "sessionInfo" (C_GetSessionInfo).
 */
export const WORKER_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const pkcs11js = require(workerData.pkcs11js);
const p = new pkcs11js.PKCS11();
p.load(workerData.library);
parentPort.postMessage({ ready: true });
const B = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
function read(j) {
  const s = B(j.session);
  if (j.read === "find") {
    const t = j.template.map((a) => (a.value instanceof Uint8Array ? { type: a.type, value: B(a.value) } : a));
    p.C_FindObjectsInit(s, t);
    try {
      const out = [];
      for (;;) {
        const want = Math.min(64, j.max - out.length);
        const batch = p.C_FindObjects(s, want);
        for (const h of batch) out.push(h);
        if (batch.length < want || out.length >= j.max) return out;
      }
    } finally {
      p.C_FindObjectsFinal(s);
    }
  }
  if (j.read === "attrs") return p.C_GetAttributeValue(s, B(j.h), j.types.map((type) => ({ type: type })));
  p.C_GetSessionInfo(s);
  return null;
}
parentPort.on("message", (j) => {
  if (j.read !== undefined) {
    try {
      parentPort.postMessage({ id: j.id, ok: true, result: read(j) });
    } catch (err) {
      const e = err || {};
      parentPort.postMessage({ id: j.id, ok: false, fn: "", message: String(e.message || e), code: typeof e.code === "number" ? e.code : 0, name: String(e.name || "Error") });
    }
    return;
  }
  const buf = j.buf;
  const all = Buffer.from(buf);
  const s = all.subarray(0, 8);
  const k = all.subarray(8, 16);
  let at = 16;
  const iv = all.subarray(at, (at += j.ivLen));
  const param = { type: j.ptype, iv: iv, tagBits: j.tagBits };
  if (j.ivBits !== undefined) param.ivBits = j.ivBits;
  if (j.aadLen >= 0) param.aad = all.subarray(at, (at += j.aadLen));
  const input = all.subarray(at, at + j.inLen);
  const out = Buffer.alloc(j.outLen);
  let fn = j.enc ? "C_EncryptInit" : "C_DecryptInit";
  try {
    if (j.enc) {
      p.C_EncryptInit(s, { mechanism: j.mech, parameter: param }, k);
      fn = "C_Encrypt";
      const r = p.C_Encrypt(s, input, out);
      input.fill(0);
      parentPort.postMessage({ id: j.id, ok: true, len: r.length, out: out.buffer, buf: buf }, [out.buffer, buf]);
    } else {
      p.C_DecryptInit(s, { mechanism: j.mech, parameter: param }, k);
      fn = "C_Decrypt";
      const r = p.C_Decrypt(s, input, out);
      parentPort.postMessage({ id: j.id, ok: true, len: r.length, out: out.buffer, buf: buf }, [out.buffer, buf]);
    }
  } catch (err) {
    input.fill(0);
    out.fill(0);
    const e = err || {};
    parentPort.postMessage({ id: j.id, ok: false, fn: fn, message: String(e.message || e), code: typeof e.code === "number" ? e.code : 0, name: String(e.name || "Error") });
  }
});
`;
