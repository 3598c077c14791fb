/**
 * Disabling a key flips its usage attributes, so the token itself refuses it: checked through the
 * Hsm API, through a raw pkcs11js session that knows nothing about ciop, and from another process.
 * Enabling restores every use.
 */
import pkcs11js from "pkcs11js";
import { randomBytes } from "node:crypto";
import type { Hsm, HsmKey } from "../src/index.js";
import { openRawToken, openTestHsm, runChild, uniqueName, type RawToken } from "./helpers.js";

const P = pkcs11js;
let hsm: Hsm;
let tok: RawToken;
let raw: pkcs11js.PKCS11;
let session: Buffer;
const base = uniqueName("endis");
const testOptions = () => ({ library: process.env.CIOP_TEST_LIB, token: process.env.CIOP_TEST_TOKEN_LABEL, pin: { value: process.env.CIOP_TEST_PIN } });

beforeAll(async () => {
  hsm = await openTestHsm();
  tok = openRawToken(P.CKF_SERIAL_SESSION);
  ({ raw, session } = tok);
});
afterAll(async () => {
  tok?.close();
  await hsm?.close();
});

const rawHandle = (key: HsmKey, klass: number) =>
  tok.find(
    [
      { type: P.CKA_ID, value: Buffer.from(key.id, "hex") },
      { type: P.CKA_CLASS, value: klass },
    ],
    1,
  )[0]!;
const rawBool = (h: Buffer, t: number) => tok.bool(h, t);

/** GCM encrypt through raw pkcs11js; returns "ok" or the CKR name. */
function rawEncrypt(h: Buffer): string {
  try {
    raw.C_EncryptInit(
      session,
      { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv: randomBytes(12), ivBits: 96, tagBits: 128 } as pkcs11js.GcmParams },
      h,
    );
    raw.C_Encrypt(session, Buffer.from("abc"), Buffer.alloc(32));
    return "ok";
  } catch (err) {
    return /CKR_\w+/.exec((err as Error).message)?.[0] ?? String(err);
  }
}

test("AES: disable makes the token refuse encrypt/decrypt (Hsm, raw PKCS#11 and another process); enable restores", async () => {
  const key = await hsm.generateKey(`${base}-aes`, "AES-256");
  const iv = randomBytes(12);
  const sealed = hsm.encryptAesGcm(key, iv, Buffer.from("before"));
  const h = rawHandle(key, P.CKO_SECRET_KEY);
  expect(rawEncrypt(h)).toBe("ok");

  hsm.setKeyEnabled(key.name, false);
  expect(hsm.keyInfo(key).enabled).toBe(false);
  expect(rawBool(h, P.CKA_ENCRYPT)).toBe(false);
  expect(rawBool(h, P.CKA_DECRYPT)).toBe(false);
  expect(rawEncrypt(h)).toBe("CKR_KEY_FUNCTION_NOT_PERMITTED");
  expect(() => hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"))).toThrow(
    expect.objectContaining({ code: "ERR_KEY_DISABLED", ckr: "CKR_KEY_FUNCTION_NOT_PERMITTED", ckrCode: 0x68, fn: "C_EncryptInit" }),
  );
  expect(() => hsm.decryptAesGcm(key, iv, sealed)).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED", fn: "C_DecryptInit" }));
  await expect(hsm.encryptAesGcmAsync(key, randomBytes(12), Buffer.from("x"))).rejects.toMatchObject({ code: "ERR_KEY_DISABLED" });
  const other = await runChild({ options: testOptions(), encrypt: key.name, find: key.name }, process.env);
  expect(other.json).toMatchObject({ encrypt: { ok: false, code: "ERR_KEY_DISABLED", ckr: "CKR_KEY_FUNCTION_NOT_PERMITTED" }, info: { enabled: false } });
  // still listed, still wrappable (disable is about use, not about export)
  expect(hsm.listKeys().find((k) => k.name === key.name)).toMatchObject({ enabled: false });

  hsm.setKeyEnabled(key.name, true);
  expect(rawEncrypt(h)).toBe("ok");
  expect(hsm.decryptAesGcm(key, iv, sealed).toString()).toBe("before");
  const again = await runChild({ options: testOptions(), encrypt: key.name }, process.env);
  expect(again.json).toMatchObject({ encrypt: { ok: true } });
});

test("a disable done by another process is refused here at the next operation (same cached handle)", async () => {
  const key = await hsm.generateKey(`${base}-xproc`, "AES-128");
  hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("warm the handle"));
  const r = await runChild({ options: testOptions(), setEnabled: { name: key.name, enabled: false } }, process.env);
  expect(r.code).toBe(0);
  expect(() => hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"))).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
  await runChild({ options: testOptions(), setEnabled: { name: key.name, enabled: true } }, process.env);
  expect(hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"))).toHaveLength(17);
});

test("HMAC: disable clears CKA_SIGN/VERIFY and C_SignInit is refused; enable restores", async () => {
  const key = await hsm.generateKey(`${base}-hmac`, "HMAC-256");
  const mac = hsm.signHmac(key, "sha256", Buffer.from("m"));
  hsm.setKeyEnabled(key.name, false);
  const h = rawHandle(key, P.CKO_SECRET_KEY);
  expect(rawBool(h, P.CKA_SIGN)).toBe(false);
  expect(rawBool(h, P.CKA_VERIFY)).toBe(false);
  expect(() => hsm.signHmac(key, "sha256", Buffer.from("m"))).toThrow(
    expect.objectContaining({ code: "ERR_KEY_DISABLED", ckr: "CKR_KEY_FUNCTION_NOT_PERMITTED" }),
  );
  hsm.setKeyEnabled(key.name, true);
  expect(Buffer.from(hsm.signHmac(key, "sha256", Buffer.from("m"))).equals(Buffer.from(mac))).toBe(true);
});

test("EC key pair: disable clears CKA_SIGN on the private and CKA_VERIFY on the public half, so C_SignInit is refused; enable restores", async () => {
  const key = await hsm.generateKey(`${base}-ec`, "EC-NISTP256");
  const priv = rawHandle(key, P.CKO_PRIVATE_KEY);
  const pub = rawHandle(key, P.CKO_PUBLIC_KEY);
  const rawSign = () => {
    try {
      raw.C_SignInit(session, { mechanism: P.CKM_ECDSA }, priv);
      raw.C_Sign(session, randomBytes(32), Buffer.alloc(128));
      return "ok";
    } catch (err) {
      return /CKR_\w+/.exec((err as Error).message)?.[0];
    }
  };
  expect(rawSign()).toBe("ok");
  hsm.setKeyEnabled(key.name, false);
  expect(rawBool(priv, P.CKA_SIGN)).toBe(false);
  expect(rawBool(pub, P.CKA_VERIFY)).toBe(false);
  expect(rawSign()).toBe("CKR_KEY_FUNCTION_NOT_PERMITTED");
  expect(hsm.keyInfo(key).enabled).toBe(false);
  hsm.setKeyEnabled(key.name, true);
  expect(rawSign()).toBe("ok");
  expect(rawBool(pub, P.CKA_VERIFY)).toBe(true);
});

test("a disabled key is not wrapped or exported (C_WrapKey only looks at CKA_EXTRACTABLE, so ciop refuses); enable restores", async () => {
  const { execFileSync } = await import("node:child_process");
  const spki = execFileSync("sh", ["-c", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout -outform DER"]);
  const pub = hsm.importPublicKey(spki);
  try {
    const key = await hsm.generateKey(`${base}-nowrap`, "AES-256");
    hsm.setKeyEnabled(key.name, false);
    expect(() => hsm.wrapRsaOaep(pub, key, "sha1")).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
    expect(() => hsm.wrapRsaPkcs1(pub, key)).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
    expect(() => hsm.wrapRsaAes(pub, key, "sha1")).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
    expect(() => hsm.wrapKey({ mechanism: 0x210a }, pub, key)).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
    await expect(hsm.exportKeyToHost(key, "test")).rejects.toMatchObject({ code: "ERR_KEY_DISABLED" });
    expect(hsm.hostFallbacks.filter((e) => e.key === key.name)).toEqual([]);
    hsm.setKeyEnabled(key.name, true);
    expect(hsm.wrapRsaOaep(pub, key, "sha1").bytes).toHaveLength(256);
  } finally {
    hsm.releasePublicKey(pub);
  }
});

test("enable/disable of a missing name is ERR_KEY_NOT_FOUND", () => {
  expect(() => hsm.setKeyEnabled(`${base}-nope`, false)).toThrow(expect.objectContaining({ code: "ERR_KEY_NOT_FOUND" }));
});
