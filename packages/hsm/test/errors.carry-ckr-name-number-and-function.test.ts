/**
 * Every failure that comes from the token is an HsmError naming the CKR, its number and the
 * PKCS#11 function, including the calls where pkcs11js throws a plain `Error("CKR_X:NN")` and the
 * return codes pkcs11js has no name for.
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { type Hsm, HsmError, ckrName } from "../src/index.js";
import { parseCkr, toHsmError } from "../src/errors.js";
import { openRawToken, openTestHsm, uniqueName } from "./helpers.js";

const P = pkcs11js;
const base = uniqueName("err");

test("a wrong PIN is CKR_PIN_INCORRECT (0xa0) from C_Login", async () => {
  // first in this file: nothing in this process is logged in yet, so the token itself checks the PIN
  const err = await openTestHsm({ pin: { value: "not-the-pin" } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HsmError);
  expect(err).toBeInstanceOf(CiopError);
  expect(err).toMatchObject({ code: "ERR_PIN_INCORRECT", ckr: "CKR_PIN_INCORRECT", ckrCode: 0xa0, fn: "C_Login" });
  expect((err as Error).message).toContain("CKR_PIN_INCORRECT");
  expect((err as Error).message).not.toContain("not-the-pin");
});

describe("with an open token", () => {
  let hsm: Hsm;
  beforeAll(async () => {
    hsm = await openTestHsm();
  });
  afterAll(() => hsm?.close());

  test("pkcs11js's plain Error('CKR_X:NN') from C_SetAttributeValue, for a code it cannot name (0x1b), becomes CKR_ACTION_PROHIBITED", async () => {
    // a key made outside ciop with CKA_MODIFIABLE=false: disabling it must fail in the token
    const tok = openRawToken();
    const name = `${base}-frozen`;
    try {
      tok.generateAes(name, [
        { type: P.CKA_MODIFIABLE, value: false },
        { type: P.CKA_ENCRYPT, value: true },
        { type: P.CKA_DECRYPT, value: true },
      ]);
    } finally {
      tok.close();
    }
    const err = (() => {
      try {
        hsm.setKeyEnabled(name, false);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(HsmError);
    expect(err).toMatchObject({ code: "ERR_HSM", ckr: "CKR_ACTION_PROHIBITED", ckrCode: 0x1b, fn: "C_SetAttributeValue" });
    expect((err as Error).message).toMatch(/C_SetAttributeValue failed while disabling key '.*': CKR_ACTION_PROHIBITED \(0x1b\)/);
    expect((err as CiopError).details).toMatchObject({ ckr: "CKR_ACTION_PROHIBITED", fn: "C_SetAttributeValue" });
  });

  test("wrapping a non-extractable key is CKR_KEY_UNEXTRACTABLE (0x6a) from C_WrapKey", async () => {
    const key = await hsm.generateKey(`${base}-noexport`, "AES-256", { extractable: false });
    const eph = hsm.generateSessionAesKey(256);
    try {
      expect(() => hsm.wrapKey({ mechanism: 0x210a }, eph, key)).toThrow(
        expect.objectContaining({ ckr: "CKR_KEY_UNEXTRACTABLE", ckrCode: 0x6a, fn: "C_WrapKey" }),
      );
    } finally {
      hsm.destroySessionKey(eph);
    }
  });

  test("an HMAC key shorter than the digest is CKR_KEY_SIZE_RANGE from C_SignInit", async () => {
    const key = await hsm.generateKey(`${base}-short`, "HMAC-160");
    expect(() => hsm.signHmac(key, "sha512", Buffer.from("x"))).toThrow(expect.objectContaining({ ckr: "CKR_KEY_SIZE_RANGE", fn: "C_SignInit" }));
    expect(hsm.signHmac(key, "sha1", Buffer.from("x"))).toHaveLength(20);
  });

  test("an unsupported OAEP hash names the mechanism, the parameters and the alternatives", async () => {
    const { execFileSync } = await import("node:child_process");
    const spki = execFileSync("sh", ["-c", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout -outform DER"]);
    const pub = hsm.importPublicKey(spki);
    const key = await hsm.generateKey(`${base}-oaep`, "AES-256");
    try {
      const err = (() => {
        try {
          hsm.wrapRsaOaep(pub, key, "sha256");
        } catch (e) {
          return e as CiopError;
        }
        throw new Error("wrapRsaOaep(sha256) unexpectedly worked on SoftHSM");
      })();
      expect(err.code).toBe("ERR_MECHANISM_UNSUPPORTED");
      expect(err.message).toContain("CKM_RSA_PKCS_OAEP");
      expect(err.message).toContain("hashAlg=CKM_SHA256");
      expect(err.message).toContain("Alternatives:");
      expect(err.message).toContain("wrapRsaAes");
      expect(err.details).toMatchObject({ mechanism: "CKM_RSA_PKCS_OAEP", hash: "sha256", supportedHashes: ["sha1"] });
    } finally {
      hsm.releasePublicKey(pub);
    }
  });

  test("an invalid SPKI, an unknown key type and a bad name are CiopErrors before touching the token", async () => {
    expect(() => hsm.importPublicKey(Buffer.from("3000", "hex"))).toThrow(expect.objectContaining({ code: "ERR_WRAPPING_KEY_INVALID" }));
    await expect(hsm.generateKey(`${base}-x`, "AES-512" as never)).rejects.toMatchObject({ code: "ERR_KEY_TYPE_UNSUPPORTED" });
    await expect(hsm.generateKey("", "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_NAME_INVALID" });
    await expect(hsm.generateKey("a\nb", "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_NAME_INVALID" });
  });
});

test("parseCkr / toHsmError normalise both pkcs11js error shapes", () => {
  // the shape of C_CreateObject / C_CopyObject / C_SetAttributeValue failures in pkcs11js 2.1.7
  const plain = toHsmError(new Error("CKR_ATTRIBUTE_READ_ONLY:16"), "C_CopyObject", "copying");
  expect(plain).toMatchObject({ ckr: "CKR_ATTRIBUTE_READ_ONLY", ckrCode: 16, fn: "C_CopyObject" });
  // the Pkcs11Error shape of every other call
  const typed = Object.assign(new Error("CKR_VENDOR_DEFINED"), { code: 0x1b, method: "C_SetAttributeValue" });
  expect(parseCkr(typed)).toEqual({ code: 0x1b, name: "CKR_ACTION_PROHIBITED" });
  expect(toHsmError(Object.assign(new Error("CKR_PIN_INCORRECT"), { code: 0xa0 }), "C_Login")).toMatchObject({ code: "ERR_PIN_INCORRECT", ckrCode: 0xa0 });
  // not a PKCS#11 error at all
  expect(toHsmError(new TypeError("boom"), "C_Encrypt")).toMatchObject({ code: "ERR_HSM", ckr: undefined, fn: "C_Encrypt" });
  expect(parseCkr(new Error("nothing here"))).toBeUndefined();
  expect(ckrName(0x82)).toBe("CKR_OBJECT_HANDLE_INVALID");
  expect(ckrName(0x7)).toBe("CKR_ARGUMENTS_BAD");
});
