/**
 * Every wrap the HSM produces is opened by tools nobody here wrote (openssl 3 CLI and
 * /usr/bin/python3 with pyca/cryptography), and what comes out is checked against the key's true
 * value, established independently: for secret keys, a known-answer operation done *inside the HSM*
 * (AES-GCM encryption, HMAC, C_DigestKey) must verify in python under the unwrapped bytes; for key
 * pairs, the unwrapped PKCS#8 must carry the public key the HSM reports.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { CKM_AES_KEY_WRAP_PAD, type Hsm, oaepMechanism, type HsmKey, type HsmPublicKey } from "../src/index.js";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

let hsm: Hsm;
let dir: string;
let pub: HsmPublicKey;
const keyPem = () => path.join(dir, "provider.pem");
const base = uniqueName("wrapout");
let aes: HsmKey;
let aes128: HsmKey;
let hmac160: HsmKey;
let hmac256: HsmKey;
let ec: HsmKey;
let rsa: HsmKey;

/** Private-key operation with the openssl CLI on the provider's private key. */
function opensslDecrypt(blob: Uint8Array, opts: string[]): Buffer {
  const inFile = path.join(dir, `in-${randomBytes(4).toString("hex")}.bin`);
  writeFileSync(inFile, blob);
  const args = ["pkeyutl", "-decrypt", "-inkey", keyPem(), "-in", inFile];
  for (const o of opts) args.push("-pkeyopt", o);
  return execFileSync("openssl", args);
}
const OAEP_SHA1 = ["rsa_padding_mode:oaep", "rsa_oaep_md:sha1", "rsa_mgf1_md:sha1"];
const OAEP_SHA256 = ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"];

/** python: AES-GCM decrypt with a candidate key; returns the plaintext hex or null. */
function pyGcmDecrypt(key: Buffer, iv: Buffer, ct: Buffer, aad: Buffer): string | null {
  return python<string | null>(
    `import sys, json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
a = json.load(sys.stdin)
try:
    print(json.dumps(AESGCM(bytes.fromhex(a["k"])).decrypt(bytes.fromhex(a["iv"]), bytes.fromhex(a["ct"]), bytes.fromhex(a["aad"])).hex()))
except Exception:
    print(json.dumps(None))`,
    { k: hex(key), iv: hex(iv), ct: hex(ct), aad: hex(aad) },
  );
}

/** The HSM encrypts a fresh message under `key`; python must open it with `candidate`. */
function assertIsAesKeyValue(key: HsmKey, candidate: Buffer): void {
  const iv = randomBytes(12);
  const pt = randomBytes(32);
  const aad = randomBytes(20);
  const ct = hsm.encryptAesGcm(key, iv, pt, aad);
  expect(pyGcmDecrypt(candidate, iv, ct, aad)).toBe(hex(pt));
}

/** The HSM computes an HMAC with `key`; python must get the same with `candidate`. */
function assertIsHmacKeyValue(key: HsmKey, candidate: Buffer, hash: "sha1" | "sha256" = "sha256"): void {
  const data = randomBytes(40);
  const mac = hsm.signHmac(key, hash, data);
  const pyMac = python<string>(
    `import sys, json
from cryptography.hazmat.primitives import hmac, hashes
a = json.load(sys.stdin)
h = hmac.HMAC(bytes.fromhex(a["k"]), hashes.SHA256() if a["h"] == "sha256" else hashes.SHA1()); h.update(bytes.fromhex(a["d"]))
print(json.dumps(h.finalize().hex()))`,
    { k: hex(candidate), d: hex(data), h: hash },
  );
  expect(pyMac).toBe(hex(mac));
}

/** python: RFC 5649 unwrap. */
function pyKwpUnwrap(kek: Buffer, wrapped: Uint8Array): Buffer {
  return Buffer.from(
    python<string>(
      `import sys, json
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
a = json.load(sys.stdin)
print(json.dumps(aes_key_unwrap_with_padding(bytes.fromhex(a["kek"]), bytes.fromhex(a["w"])).hex()))`,
      { kek: hex(kek), w: hex(wrapped) },
    ),
    "hex",
  );
}

/** python: load PKCS#8 DER, return its SubjectPublicKeyInfo DER (hex) and the key class. */
function pyPkcs8ToSpki(der: Buffer): { spki: string; kind: string; curve: string | null; bits: number | null } {
  return python(
    `import sys, json
from cryptography.hazmat.primitives.serialization import load_der_private_key, Encoding, PublicFormat
a = json.load(sys.stdin)
k = load_der_private_key(bytes.fromhex(a["der"]), password=None)
curve = getattr(getattr(k, "curve", None), "name", None)
bits = getattr(k, "key_size", None)
print(json.dumps({"spki": k.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex(), "kind": type(k).__name__, "curve": curve, "bits": bits}))`,
    { der: hex(der) },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "wrapout-"));
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPem()]);
  const spki = execFileSync("openssl", ["pkey", "-in", keyPem(), "-pubout", "-outform", "DER"]);
  hsm = await openTestHsm();
  pub = hsm.importPublicKey(spki);
  [aes, aes128, hmac160, hmac256, ec, rsa] = await Promise.all([
    hsm.generateKey(`${base}-aes`, "AES-256"),
    hsm.generateKey(`${base}-aes128`, "AES-128"),
    hsm.generateKey(`${base}-hmac160`, "HMAC-160"),
    hsm.generateKey(`${base}-hmac256`, "HMAC-256"),
    hsm.generateKey(`${base}-ec`, "EC-NISTP256"),
    hsm.generateKey(`${base}-rsa`, "RSA-2048"),
  ]);
}, 60_000);
afterAll(async () => {
  if (pub) hsm.releasePublicKey(pub);
  await hsm?.close();
});

test("RSA-OAEP (SHA-1/MGF1-SHA-1) wrap opens with openssl to the AES key's true value", () => {
  const out = hsm.wrapRsaOaep(pub, aes, "sha1");
  expect(out).toMatchObject({ hostFallback: false, mechanisms: ["CKM_RSA_PKCS_OAEP(SHA-1)"] });
  expect(out.bytes).toHaveLength(256);
  const k = opensslDecrypt(out.bytes, OAEP_SHA1);
  expect(k).toHaveLength(32);
  assertIsAesKeyValue(aes, k);
  // and C_DigestKey inside the HSM agrees with SHA-256 of the unwrapped bytes
  expect(hex(hsm.digestKey(aes, "sha256"))).toBe(
    python<string>(`import sys,json,hashlib;print(json.dumps(hashlib.sha256(bytes.fromhex(json.load(sys.stdin))).hexdigest()))`, hex(k)),
  );
});

test("a different key's value does not pass the known-answer check (the check can fail)", () => {
  const k = opensslDecrypt(hsm.wrapRsaOaep(pub, aes, "sha1").bytes, OAEP_SHA1);
  k[0]! ^= 1;
  const iv = randomBytes(12);
  const ct = hsm.encryptAesGcm(aes, iv, randomBytes(32), Buffer.alloc(0));
  expect(pyGcmDecrypt(k, iv, ct, Buffer.alloc(0))).toBeNull();
});

test("RSA PKCS#1 v1.5 wrap opens with openssl to the AES-128 key's true value", () => {
  const out = hsm.wrapRsaPkcs1(pub, aes128);
  expect(out).toMatchObject({ hostFallback: false, mechanisms: ["CKM_RSA_PKCS"] });
  const k = opensslDecrypt(out.bytes, ["rsa_padding_mode:pkcs1"]);
  expect(k).toHaveLength(16);
  assertIsAesKeyValue(aes128, k);
});

test("RSA-OAEP wrap of an HMAC key opens to the value the HSM computes HMACs with", () => {
  const k = opensslDecrypt(hsm.wrapRsaOaep(pub, hmac256, "sha1").bytes, OAEP_SHA1);
  expect(k).toHaveLength(32);
  assertIsHmacKeyValue(hmac256, k);
});

test("RSA-AES composed in the HSM (OAEP-SHA-1 of an ephemeral key, then KWP 0x210A): python opens both layers to the true key", () => {
  expect(hsm.capabilities().aesKeyWrapPadMechanism).toBe(CKM_AES_KEY_WRAP_PAD);
  const out = hsm.wrapRsaAes(pub, aes, "sha1");
  expect(out.hostFallback).toBe(false);
  expect(out.mechanisms).toEqual(["CKM_AES_KEY_GEN(session)", "CKM_AES_KEY_WRAP_PAD", "CKM_RSA_PKCS_OAEP(SHA-1)"]);
  expect(out.bytes).toHaveLength(256 + 40);
  const eph = opensslDecrypt(out.bytes.subarray(0, 256), OAEP_SHA1);
  expect(eph).toHaveLength(32);
  const k = pyKwpUnwrap(eph, out.bytes.subarray(256));
  expect(k).toHaveLength(32);
  assertIsAesKeyValue(aes, k);
});

test("low-level pieces (session KEK, C_WrapKey with KWP 0x210A and KW 0x2109): python unwraps to the true key", () => {
  const kek = hsm.generateSessionAesKey(256);
  try {
    // learn the session KEK's value the only way a sensitive key leaves: OAEP under the provider key
    const kekValue = opensslDecrypt(hsm.wrapKey(oaepMechanism("sha1"), pub, kek), OAEP_SHA1);
    expect(kekValue).toHaveLength(32);
    const kwp = hsm.wrapKey({ mechanism: CKM_AES_KEY_WRAP_PAD }, kek, aes);
    expect(kwp).toHaveLength(40);
    assertIsAesKeyValue(aes, pyKwpUnwrap(kekValue, kwp));
    const kw = hsm.wrapKey({ mechanism: 0x2109 }, kek, aes);
    const plainKw = python<string>(
      `import sys, json
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
a = json.load(sys.stdin)
print(json.dumps(aes_key_unwrap(bytes.fromhex(a["kek"]), bytes.fromhex(a["w"])).hex()))`,
      { kek: hex(kekValue), w: hex(kw) },
    );
    assertIsAesKeyValue(aes, Buffer.from(plainKw, "hex"));
    kekValue.fill(0);
  } finally {
    hsm.destroySessionKey(kek);
  }
});

test("RSA-AES with OAEP-SHA-256 (SoftHSM refuses it): KWP stays in the HSM, the ephemeral key is OAEP'd on the host, reported, and it opens to the true key", () => {
  const events: unknown[] = [];
  const listener = (e: unknown) => events.push(e);
  hsm.on("host-fallback", listener);
  try {
    const out = hsm.wrapRsaAes(pub, aes, "sha256");
    expect(out.hostFallback).toBe(true);
    expect(out.mechanisms).toEqual(["CKM_AES_KEY_WRAP_PAD", "host:RSA-OAEP(SHA-256)"]);
    expect(events).toEqual([expect.objectContaining({ operation: "wrapRsaAes", key: aes.name, material: "ephemeral-key" })]);
    const eph = opensslDecrypt(out.bytes.subarray(0, 256), OAEP_SHA256);
    assertIsAesKeyValue(aes, pyKwpUnwrap(eph, out.bytes.subarray(256)));
  } finally {
    hsm.off("host-fallback", listener);
  }
});

test("RSA-AES of an HMAC-160 key (SoftHSM would zero-pad it inside KWP): exact 20 bytes after unwrapping", () => {
  expect(hsm.capabilities().kwpPadsSecretKeys).toBe(true);
  const out = hsm.wrapRsaAes(pub, hmac160, "sha1");
  expect(out.hostFallback).toBe(true);
  const eph = opensslDecrypt(out.bytes.subarray(0, 256), OAEP_SHA1);
  const k = pyKwpUnwrap(eph, out.bytes.subarray(256));
  expect(k).toHaveLength(20);
  // SoftHSM wants an HMAC key at least as long as the digest: HMAC-160 goes with SHA-1
  assertIsHmacKeyValue(hmac160, k, "sha1");
});

test.each([
  ["EC P-256", () => ec, "EllipticCurvePrivateKey", "secp256r1"],
  ["RSA-2048", () => rsa, "RSAPrivateKey", null],
] as const)("RSA-AES of an %s private key opens to exact PKCS#8 carrying the HSM's public key", (_n, get, kind, curve) => {
  const key = get();
  const out = hsm.wrapRsaAes(pub, key, "sha1");
  const eph = opensslDecrypt(out.bytes.subarray(0, 256), OAEP_SHA1);
  const der = pyKwpUnwrap(eph, out.bytes.subarray(256));
  // exact DER: the outer SEQUENCE length covers every byte (no SoftHSM zero padding)
  expect(der[0]).toBe(0x30);
  const info = pyPkcs8ToSpki(der);
  expect(info.kind).toContain(kind.replace("PrivateKey", ""));
  if (curve) expect(info.curve).toBe(curve);
  else expect(info.bits).toBe(2048);
  expect(info.spki).toBe(hex(hsm.publicKeyOf(key)));
  // strict parsers (cryptography 48, cloud importers) reject trailing bytes: there are none
  const strictLen = python<number>(
    `import sys, json
d = bytes.fromhex(json.load(sys.stdin))
n = d[1]
l = (int.from_bytes(d[2:2 + (n & 0x7f)], "big") + 2 + (n & 0x7f)) if n & 0x80 else n + 2
print(json.dumps(l))`,
    hex(der),
  );
  expect(strictLen).toBe(der.length);
});

test("the HSM's EC public key matches what openssl derives from the exported private key", async () => {
  const der = await hsm.exportKeyToHost(ec, "test: independent public-key check");
  try {
    const f = path.join(dir, "ec.der");
    writeFileSync(f, der);
    const spki = execFileSync("openssl", ["pkey", "-inform", "DER", "-in", f, "-pubout", "-outform", "DER"]);
    expect(hex(spki)).toBe(hex(hsm.publicKeyOf(ec)));
  } finally {
    der.fill(0);
  }
});

test("exportKeyToHost of a secret key equals the OAEP-unwrapped value and is reported", async () => {
  const before = hsm.hostFallbacks.length;
  const v = await hsm.exportKeyToHost(aes, "test: compare with OAEP");
  expect(hex(v)).toBe(hex(opensslDecrypt(hsm.wrapRsaOaep(pub, aes, "sha1").bytes, OAEP_SHA1)));
  expect(hsm.hostFallbacks.length).toBe(before + 1);
  expect(hsm.hostFallbacks.at(-1)).toMatchObject({ operation: "exportKeyToHost", material: "target-key", reason: "test: compare with OAEP" });
  v.fill(0);
});

test("RSA-OAEP and PKCS#1 v1.5 refuse private keys and point at wrapRsaAes", () => {
  expect(() => hsm.wrapRsaOaep(pub, ec, "sha1")).toThrow(/wrapRsaAes/);
  expect(() => hsm.wrapRsaPkcs1(pub, rsa)).toThrow(expect.objectContaining({ code: "ERR_KEY_TYPE_UNSUPPORTED" }));
});

test("a released public key cannot be used", async () => {
  const p2 = hsm.importPublicKey(execFileSync("openssl", ["pkey", "-in", keyPem(), "-pubout", "-outform", "DER"]));
  hsm.releasePublicKey(p2);
  expect(() => hsm.wrapRsaOaep(p2, aes, "sha1")).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  expect(readFileSync(keyPem(), "utf8")).toContain("PRIVATE KEY");
});
