/**
 * AES-GCM with AAD done in the HSM is standard GCM: python (pyca/cryptography) opens what the HSM
 * seals and the HSM opens what python seals, through the sync API and the async (session pool)
 * path. The python side gets the key's value from an RSA-OAEP wrap opened by openssl.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Hsm, HsmKey } from "../src/index.js";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

let hsm: Hsm;
let key: HsmKey;
let keyValue: Buffer;

const PY_GCM = `import sys, json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
out = []
for a in json.load(sys.stdin):
    g = AESGCM(bytes.fromhex(a["k"]))
    iv, aad = bytes.fromhex(a["iv"]), bytes.fromhex(a["aad"]) if a["aad"] is not None else None
    if a["op"] == "seal":
        out.append(g.encrypt(iv, bytes.fromhex(a["data"]), aad).hex())
    else:
        try:
            out.append(g.decrypt(iv, bytes.fromhex(a["data"]), aad).hex())
        except Exception:
            out.append(None)
print(json.dumps(out))`;

type PyOp = { op: "seal" | "open"; iv: Buffer; data: Buffer; aad: Buffer | undefined };
const py = (ops: PyOp[]) =>
  python<(string | null)[]>(
    PY_GCM,
    ops.map((o) => ({ op: o.op, k: hex(keyValue), iv: hex(o.iv), data: hex(o.data), aad: o.aad ? hex(o.aad) : null })),
  );

beforeAll(async () => {
  hsm = await openTestHsm({ sessionPoolSize: 4 });
  key = await hsm.generateKey(uniqueName("gcm"), "AES-256");
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "gcm-"));
  const pem = path.join(dir, "k.pem");
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem]);
  const pub = hsm.importPublicKey(execFileSync("openssl", ["pkey", "-in", pem, "-pubout", "-outform", "DER"]));
  const wrapped = path.join(dir, "w.bin");
  writeFileSync(wrapped, hsm.wrapRsaOaep(pub, key, "sha1").bytes);
  hsm.releasePublicKey(pub);
  keyValue = execFileSync("openssl", [
    "pkeyutl",
    "-decrypt",
    "-inkey",
    pem,
    "-in",
    wrapped,
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha1",
  ]);
  expect(keyValue).toHaveLength(32);
});
afterAll(async () => {
  keyValue?.fill(0);
  await hsm?.close();
});

const cases = [
  { name: "32 B + 32 B AAD", pt: 32, aad: 32 },
  { name: "1 B, no AAD", pt: 1, aad: undefined },
  { name: "4 KiB + 1 KiB AAD", pt: 4096, aad: 1024 },
];

test.each(cases)("HSM seals ($name), python opens; python seals, HSM opens (sync)", ({ pt: n, aad: m }) => {
  const iv = randomBytes(12);
  const pt = randomBytes(n);
  const aad = m === undefined ? undefined : randomBytes(m);
  const sealed = hsm.encryptAesGcm(key, iv, pt, aad);
  expect(sealed).toHaveLength(n + 16);
  const iv2 = randomBytes(12);
  const pt2 = randomBytes(n);
  const [opened, pySealed] = py([
    { op: "open", iv, data: sealed, aad },
    { op: "seal", iv: iv2, data: pt2, aad },
  ]);
  expect(opened).toBe(hex(pt));
  expect(hex(hsm.decryptAesGcm(key, iv2, Buffer.from(pySealed!, "hex"), aad))).toBe(hex(pt2));
});

test("the async path (session pool, libuv threadpool) agrees with python under 64 concurrent operations", async () => {
  const n = 64;
  const items = Array.from({ length: n }, () => ({ iv: randomBytes(12), pt: randomBytes(32), aad: randomBytes(16) }));
  const sealed = await Promise.all(items.map((it) => hsm.encryptAesGcmAsync(key, it.iv, it.pt, it.aad)));
  const opened = py(items.map((it, i) => ({ op: "open" as const, iv: it.iv, data: sealed[i]!, aad: it.aad })));
  expect(opened).toEqual(items.map((it) => hex(it.pt)));
  const pySealed = py(items.map((it) => ({ op: "seal" as const, iv: it.iv, data: it.pt, aad: it.aad })));
  const back = await Promise.all(items.map((it, i) => hsm.decryptAesGcmAsync(key, it.iv, Buffer.from(pySealed[i]!, "hex"), it.aad)));
  expect(back.map(hex)).toEqual(items.map((it) => hex(it.pt)));
});

test("a wrong AAD or a flipped tag bit is refused with ERR_DECRYPTION_FAILED (python refuses it too), and the sessions stay usable", async () => {
  const iv = randomBytes(12);
  const pt = randomBytes(32);
  const aad = Buffer.from("context-a");
  const sealed = hsm.encryptAesGcm(key, iv, pt, aad);
  const badTag = Buffer.from(sealed);
  badTag[badTag.length - 1]! ^= 0x01;
  expect(py([{ op: "open", iv, data: badTag, aad }])).toEqual([null]);
  expect(() => hsm.decryptAesGcm(key, iv, sealed, Buffer.from("context-b"))).toThrow(
    expect.objectContaining({ code: "ERR_DECRYPTION_FAILED", message: "decryption failed" }),
  );
  expect(() => hsm.decryptAesGcm(key, iv, badTag, aad)).toThrow(expect.objectContaining({ code: "ERR_DECRYPTION_FAILED" }));
  await expect(hsm.decryptAesGcmAsync(key, iv, badTag, aad)).rejects.toMatchObject({ code: "ERR_DECRYPTION_FAILED" });
  // a failed operation must not leave the session with an active operation (CKR_OPERATION_ACTIVE)
  expect(hex(hsm.decryptAesGcm(key, iv, sealed, aad))).toBe(hex(pt));
  const many = await Promise.all(Array.from({ length: 8 }, () => hsm.decryptAesGcmAsync(key, iv, sealed, aad)));
  expect(new Set(many.map(hex))).toEqual(new Set([hex(pt)]));
});

test("empty plaintexts are refused before reaching the token (SoftHSM would leave the operation active)", async () => {
  expect(() => hsm.encryptAesGcm(key, randomBytes(12), Buffer.alloc(0))).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  await expect(hsm.encryptAesGcmAsync(key, randomBytes(12), Buffer.alloc(0))).rejects.toMatchObject({ code: "ERR_USAGE" });
  const iv = randomBytes(12);
  expect(py([{ op: "open", iv, data: hsm.encryptAesGcm(key, iv, Buffer.from("x")), aad: undefined }])).toEqual([hex(Buffer.from("x"))]);
});
