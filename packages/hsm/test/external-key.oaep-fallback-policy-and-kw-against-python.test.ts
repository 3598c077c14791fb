/**
 * Issue 17 (@ciop/hsm's external-key operations, used by xks-proxy's [azure_ekm]): wrap and unwrap
 * of caller bytes with a token key. RFC 3394 / 5649 outputs are unwrapped by python3-cryptography's
 * key-wrap functions with a key made by this test and imported (so only the test knows its value);
 * RSA-OAEP with SHA-256 on SoftHSM (which lacks it) follows the host-fallback policy: refused on a
 * token treated as hardware, allowed with allowHostFallback and reported as "public-key" /
 * "encoded-message" material, with the private key never extractable. Before these operations
 * existed nothing here could run; with the policy check taken out of rsaOaepDecrypt the refusal
 * test failed.
 */
import { execFileSync } from "node:child_process";
import { constants, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";
import type { CiopError } from "@ciop/core";
import type { HostFallbackEvent } from "../src/index.js";
import { openTestHsm, PY, uniqueName } from "./helpers.js";

const name = uniqueName("ext");

const KW = `
import sys
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_unwrap_with_padding
f = aes_key_unwrap if sys.argv[3] == "kw" else aes_key_unwrap_with_padding
print(f(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])).hex())
`;

test("AES key wrap and wrap with padding of caller bytes match python3-cryptography and unwrap back", async () => {
  const hsm = await openTestHsm();
  try {
    const key = await hsm.generateKey(`${name}-aes`, "AES-256", { extractable: false });
    hsm.setAesKeyWrapping(key, true);
    const value = Buffer.from(await hsm.exportKeyToHost(await hsm.generateKey(`${name}-known`, "AES-256"), "test: the KEK value only this test holds"));
    const kek = hsm.findKey(`${name}-known`)!;
    hsm.setAesKeyWrapping(kek, true);
    for (const [padded, n] of [
      [false, 32],
      [true, 32],
      [true, 24],
    ] as const) {
      const data = randomBytes(n);
      const w = hsm.aesWrapBytes(kek, data, padded);
      expect(w.hostFallback).toBe(false);
      const back = execFileSync(PY, ["-c", KW, value.toString("hex"), w.bytes.toString("hex"), padded ? "kwp" : "kw"])
        .toString()
        .trim();
      expect(back).toBe(data.toString("hex"));
      expect(hsm.aesUnwrapBytes(kek, w.bytes, padded).bytes).toEqual(data);
      expect(hsm.aesUnwrapBytes(key, hsm.aesWrapBytes(key, data, padded).bytes, padded).bytes).toEqual(data);
    }
    const bad = hsm.aesWrapBytes(kek, randomBytes(32), false).bytes;
    bad[3]! ^= 1;
    expect(() => hsm.aesUnwrapBytes(kek, bad, false)).toThrow(expect.objectContaining({ code: "ERR_DECRYPTION_FAILED" }));
    hsm.setAesKeyWrapping(key, false);
    expect(() => hsm.aesWrapBytes(key, randomBytes(32), false)).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
  } finally {
    await hsm.close();
  }
});

test("RSA-OAEP SHA-256 without token support: refused on hardware, allowed with the flag, reported, private key kept in the token", async () => {
  const setup = await openTestHsm();
  await setup.generateKey(`${name}-rsa`, "RSA-2048", { extractable: false });
  await setup.close();
  const hard = await openTestHsm({ assumeHardwareToken: true });
  try {
    if (hard.capabilities().rsaOaepHashes.includes("sha256")) return; // a token with OAEP SHA-256 needs no fallback
    const key = hard.findKey(`${name}-rsa`)!;
    let err: CiopError | undefined;
    try {
      hard.rsaOaepDecrypt(key, "sha256", randomBytes(256));
    } catch (e) {
      err = e as CiopError;
    }
    expect(err?.code).toBe("ERR_HOST_FALLBACK_REFUSED");
    expect(err?.message).toContain("the RSA-OAEP encoded message");
    expect(() => hard.rsaOaepEncrypt(key, "sha256", randomBytes(32))).toThrow(/public-key operation/);
    // SHA-1 stays in the token, no fallback needed
    const c1 = hard.rsaOaepEncrypt(key, "sha1", Buffer.from("abc"));
    expect(hard.rsaOaepDecrypt(key, "sha1", c1.bytes)).toMatchObject({ hostFallback: false, bytes: Buffer.from("abc") });
  } finally {
    await hard.close();
  }
  const allowed = await openTestHsm({ assumeHardwareToken: true, allowHostFallback: true });
  const events: HostFallbackEvent[] = [];
  allowed.on("host-fallback", (e) => events.push(e));
  try {
    const key = allowed.findKey(`${name}-rsa`)!;
    const spki = Buffer.from(allowed.publicKeyOf(key));
    const secret = randomBytes(32);
    const ct = publicEncrypt(
      { key: createPublicKey({ key: spki, format: "der", type: "spki" }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      secret,
    );
    expect(allowed.rsaOaepDecrypt(key, "sha256", ct)).toMatchObject({ bytes: secret, hostFallback: true });
    const tampered = Buffer.from(ct);
    tampered[7]! ^= 1;
    expect(() => allowed.rsaOaepDecrypt(key, "sha256", tampered)).toThrow(expect.objectContaining({ code: "ERR_DECRYPTION_FAILED" }));
    const w = allowed.rsaOaepEncrypt(key, "sha256", secret);
    expect(w.hostFallback).toBe(true);
    expect(events.map((e) => e.material)).toEqual(["encoded-message", "encoded-message", "public-key"]);
    expect(allowed.keyInfo(key).extractable).toBe(false);
    expect(allowed.rsaOaepDecrypt(key, "sha256", w.bytes).bytes).toEqual(secret);
  } finally {
    await allowed.close();
  }
});
