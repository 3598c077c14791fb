/**
 * Host-side fallback discipline. SoftHSM is a software token, so fallbacks are allowed there by
 * default; `assumeHardwareToken` makes the same token count as hardware, where a fallback is refused
 * with a message naming the missing mechanism and the alternatives, unless `allowHostFallback` is
 * set. Every fallback that happens is reported (event, callback and list).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { CiopError } from "@ciop/core";
import type { HostFallbackEvent } from "../src/index.js";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

const base = uniqueName("fallback");
let dir: string;
let spki: Buffer;
const pem = () => path.join(dir, "p.pem");

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "fallback-"));
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem()]);
  spki = execFileSync("openssl", ["pkey", "-in", pem(), "-pubout", "-outform", "DER"]);
  // the keys, made once through an ordinary handle
  const h = await openTestHsm();
  await Promise.all([h.generateKey(`${base}-aes`, "AES-256"), h.generateKey(`${base}-ec`, "EC-NISTP256")]);
  await h.close();
});

function catchErr(f: () => unknown): CiopError {
  try {
    f();
  } catch (e) {
    return e as CiopError;
  }
  throw new Error("expected a refusal");
}

test("hardware token, no flag: OAEP-SHA-256 inside RSA-AES is refused, naming the mechanism and the alternatives; nothing is reported as used", async () => {
  const hsm = await openTestHsm({ assumeHardwareToken: true });
  const events: HostFallbackEvent[] = [];
  hsm.on("host-fallback", (e) => events.push(e));
  const pub = hsm.importPublicKey(spki);
  try {
    const key = hsm.findKey(`${base}-aes`)!;
    const err = catchErr(() => hsm.wrapRsaAes(pub, key, "sha256"));
    expect(err.code).toBe("ERR_HOST_FALLBACK_REFUSED");
    expect(err.message).toContain("CKM_RSA_PKCS_OAEP with SHA-256");
    expect(err.message).toContain("it accepts: sha1");
    expect(err.message).toContain("refused for hardware token");
    expect(err.message).toMatch(/Alternatives: .*OAEP sha1.*allowHostFallback/);
    expect(err.details).toMatchObject({ operation: "wrapRsaAes", material: "ephemeral-key" });
    // the in-HSM variant still works
    expect(hsm.wrapRsaAes(pub, key, "sha1").hostFallback).toBe(false);
    expect(events).toEqual([]);
    expect(hsm.hostFallbackUsed).toBe(false);
  } finally {
    hsm.releasePublicKey(pub);
    await hsm.close();
  }
});

test("hardware token, no flag: a private key under RSA-AES (SoftHSM pads PKCS#8 in KWP) and exportKeyToHost are refused", async () => {
  const hsm = await openTestHsm({ assumeHardwareToken: true });
  const pub = hsm.importPublicKey(spki);
  try {
    const ec = hsm.findKey(`${base}-ec`)!;
    const err = catchErr(() => hsm.wrapRsaAes(pub, ec, "sha1"));
    expect(err.code).toBe("ERR_HOST_FALLBACK_REFUSED");
    expect(err.message).toContain("CKM_AES_KEY_WRAP_PAD");
    expect(err.message).toContain("PKCS#8");
    expect(err.message).toContain("the key itself");
    expect(err.message).toContain("CKM_RSA_AES_KEY_WRAP");
    await expect(hsm.exportKeyToHost(hsm.findKey(`${base}-aes`)!, "test")).rejects.toMatchObject({ code: "ERR_HOST_FALLBACK_REFUSED" });
    expect(hsm.hostFallbacks).toEqual([]);
  } finally {
    hsm.releasePublicKey(pub);
    await hsm.close();
  }
});

test("hardware token with allowHostFallback: the same wraps work, are flagged, emitted, passed to onHostFallback and listed; output opens with openssl+python", async () => {
  const seen: HostFallbackEvent[] = [];
  const hsm = await openTestHsm({ assumeHardwareToken: true, allowHostFallback: true, onHostFallback: (e) => seen.push(e) });
  const emitted: HostFallbackEvent[] = [];
  hsm.on("host-fallback", (e) => emitted.push(e));
  const pub = hsm.importPublicKey(spki);
  try {
    const aes = hsm.findKey(`${base}-aes`)!;
    const ec = hsm.findKey(`${base}-ec`)!;
    const a = hsm.wrapRsaAes(pub, aes, "sha256");
    const b = hsm.wrapRsaAes(pub, ec, "sha1");
    expect(a.hostFallback).toBe(true);
    expect(b.hostFallback).toBe(true);
    expect(emitted).toHaveLength(2);
    expect(seen).toEqual(emitted);
    expect(hsm.hostFallbacks).toEqual(emitted);
    expect(emitted[0]).toMatchObject({ operation: "wrapRsaAes", key: aes.name, material: "ephemeral-key", token: expect.stringContaining(hsm.token.serial) });
    expect(emitted[1]).toMatchObject({ operation: "wrapRsaAes", key: ec.name, material: "target-key" });
    expect(new Date(emitted[0]!.at).getTime()).not.toBeNaN();

    // the AES wrap opens: openssl OAEP-SHA-256 for the ephemeral key, python KWP for the target,
    // and the result is the key the HSM encrypts with
    const f = path.join(dir, "eph.bin");
    writeFileSync(f, a.bytes.subarray(0, 256));
    const eph = execFileSync("openssl", [
      "pkeyutl",
      "-decrypt",
      "-inkey",
      pem(),
      "-in",
      f,
      "-pkeyopt",
      "rsa_padding_mode:oaep",
      "-pkeyopt",
      "rsa_oaep_md:sha256",
      "-pkeyopt",
      "rsa_mgf1_md:sha256",
    ]);
    const iv = randomBytes(12);
    const pt = randomBytes(32);
    const ct = hsm.encryptAesGcm(aes, iv, pt);
    const opened = python<string>(
      `import sys, json
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
a = json.load(sys.stdin)
k = aes_key_unwrap_with_padding(bytes.fromhex(a["eph"]), bytes.fromhex(a["w"]))
print(json.dumps(AESGCM(k).decrypt(bytes.fromhex(a["iv"]), bytes.fromhex(a["ct"]), None).hex()))`,
      { eph: hex(eph), w: hex(a.bytes.subarray(256)), iv: hex(iv), ct: hex(ct) },
    );
    expect(opened).toBe(hex(pt));
  } finally {
    hsm.releasePublicKey(pub);
    await hsm.close();
  }
});

test("software token (SoftHSM as it is): fallbacks are allowed without the flag and still reported", async () => {
  const hsm = await openTestHsm();
  const pub = hsm.importPublicKey(spki);
  try {
    expect(hsm.allowsHostFallback()).toBe(true);
    const out = hsm.wrapRsaAes(pub, hsm.findKey(`${base}-ec`)!, "sha1");
    expect(out.hostFallback).toBe(true);
    expect(out.mechanisms).toContain("host:AES-KWP");
    expect(hsm.hostFallbackUsed).toBe(true);
    expect(hsm.hostFallbacks).toEqual([expect.objectContaining({ material: "target-key", reason: expect.stringContaining("zero-pads PKCS#8") })]);
  } finally {
    hsm.releasePublicKey(pub);
    await hsm.close();
  }
});
