/**
 * AES-GCM vendor behaviour as probed profiles (issue 16, "Vendor behaviour as probed profiles"), on
 * the real SoftHSM token behind the fault module's quirks (tools/pkcs11-fault, "Vendor quirks"):
 * - "auto" finds each behaviour by what the token does (caller IV, zero IV filled, IV after the tag,
 *   the bad-tag CKR); a token that takes only the short CK_GCM_PARAMS gets no GCM, with the reason;
 * - a named profile that does not match the token fails at open, naming what differed;
 * - under every behaviour sealAesGcm (sync and async) returns a 12-byte IV that python3-cryptography
 *   opens the ciphertext with, a fresh IV each time, and decryption takes it back;
 * - a bad tag is ERR_DECRYPTION_FAILED with the CKR the profile names, and another CKR (SoftHSM's
 *   CKR_GENERAL_ERROR on an nShield-like token, CKR_FUNCTION_FAILED on SoftHSM) is the token's error.
 * Before this change: Hsm.open had no gcmProfile, capabilities had no gcm, sealAesGcm did not exist,
 * a zero-fill or IV-after-tag token had aesGcm false, and the fixed CKR list called
 * CKR_GENERAL_ERROR a bad tag on every token (the last test failed on it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Hsm, HsmError, type GcmProfileOption } from "../src/index.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "gcm-profile-"));
const control = new FaultControl(path.join(dir, "faults"));
const library = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: control.file }));
const keyName = uniqueName("gcm-profile");
let keyValue: Buffer;

const PY_OPEN = `import sys, json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
out = []
for a in json.load(sys.stdin):
    try:
        out.append(AESGCM(bytes.fromhex(a["k"])).decrypt(bytes.fromhex(a["iv"]), bytes.fromhex(a["data"]), bytes.fromhex(a["aad"])).hex())
    except Exception:
        out.append(None)
print(json.dumps(out))`;

/** Opens the token behind the fault module with `quirks` in force from the start (the probe runs at open). */
async function openWith(quirks: string[], gcmProfile?: GcmProfileOption): Promise<Hsm> {
  control.set("# quirks", ...quirks);
  return Hsm.open({ library, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! }, gcmProfile });
}

beforeAll(async () => {
  // a token key whose value python learns through an RSA-OAEP wrap opened by openssl
  const hsm = await openTestHsm();
  try {
    const key = await hsm.generateKey(keyName, "AES-256");
    const pem = path.join(dir, "k.pem");
    execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem], { stdio: "ignore" });
    const pub = hsm.importPublicKey(execFileSync("openssl", ["pkey", "-in", pem, "-pubout", "-outform", "DER"]));
    writeFileSync(path.join(dir, "w.bin"), hsm.wrapRsaOaep(pub, key, "sha1").bytes);
    hsm.releasePublicKey(pub);
    const args = ["pkeyutl", "-decrypt", "-inkey", pem, "-in", path.join(dir, "w.bin"), "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1"];
    keyValue = execFileSync("openssl", args);
  } finally {
    await hsm.close();
  }
});
afterAll(async () => {
  keyValue?.fill(0);
  control.clear();
  const hsm = await openTestHsm();
  hsm.deleteKey(keyName);
  await hsm.close();
});

const behaviours = [
  { name: "SoftHSM as it is", quirks: [], ivSource: "caller", badTag: "CKR_GENERAL_ERROR", named: "softhsm" },
  {
    name: "nShield-like",
    quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_FUNCTION_FAILED"],
    ivSource: "token-fills-zero",
    badTag: "CKR_FUNCTION_FAILED",
    named: "nshield",
  },
  {
    name: "CloudHSM-like",
    quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"],
    ivSource: "token-fills-zero",
    badTag: "CKR_ENCRYPTED_DATA_INVALID",
    named: "cloudhsm",
  },
  {
    name: "Luna-like",
    quirks: ["quirk gcm-iv-after-tag", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"],
    ivSource: "token-appends",
    badTag: "CKR_ENCRYPTED_DATA_INVALID",
    named: "luna",
  },
] as const;

describe.each(behaviours)("$name", ({ quirks, ivSource, badTag, named }) => {
  test.each(["auto", named] as GcmProfileOption[])(
    "profile %s: found/confirmed at open; seal sync+async, python opens, fresh IVs, decrypt, bad tag",
    async (option) => {
      const hsm = await openWith([...quirks], option);
      try {
        const gcm = hsm.capabilities().gcm!;
        expect(gcm).toMatchObject({ name: option === "auto" ? "probed" : named, paramLayout: "v240", ivSource });
        expect(gcm.badTagCkrs).toContain(badTag);
        expect(hsm.capabilities().aesGcm).toBe(true);
        const key = hsm.findKey(keyName)!;
        const aad = randomBytes(20);
        const pts = [Buffer.from("one"), randomBytes(100), Buffer.from("one")];
        const sealed = [hsm.sealAesGcm(key, pts[0]!, aad), await hsm.sealAesGcmAsync(key, pts[1]!, aad), hsm.sealAesGcm(key, pts[2]!, aad)];
        for (const [i, s] of sealed.entries()) {
          expect(s.iv).toHaveLength(12);
          expect(s.ciphertextAndTag).toHaveLength(pts[i]!.length + 16);
        }
        expect(new Set(sealed.map((s) => hex(s.iv))).size).toBe(3);
        const opened = python<(string | null)[]>(
          PY_OPEN,
          sealed.map((s) => ({ k: hex(keyValue), iv: hex(s.iv), data: hex(s.ciphertextAndTag), aad: hex(aad) })),
        );
        expect(opened).toEqual(pts.map(hex));
        expect(hsm.decryptAesGcm(key, sealed[0]!.iv, sealed[0]!.ciphertextAndTag, aad)).toEqual(pts[0]);
        expect(await hsm.decryptAesGcmAsync(key, sealed[1]!.iv, sealed[1]!.ciphertextAndTag, aad)).toEqual(pts[1]);
        const bad = Buffer.from(sealed[0]!.ciphertextAndTag);
        bad[bad.length - 1]! ^= 1;
        expect(() => hsm.decryptAesGcm(key, sealed[0]!.iv, bad, aad)).toThrow(expect.objectContaining({ code: "ERR_DECRYPTION_FAILED" }));
        await expect(hsm.decryptAesGcmAsync(key, sealed[0]!.iv, sealed[0]!.ciphertextAndTag, randomBytes(3))).rejects.toMatchObject({
          code: "ERR_DECRYPTION_FAILED",
        });
        if (ivSource === "caller") {
          const iv = randomBytes(12);
          expect(hsm.sealAesGcm(key, pts[0]!, aad, iv).iv).toEqual(iv);
          expect(hsm.encryptAesGcm(key, iv, pts[0]!, aad)).toEqual(hsm.sealAesGcm(key, pts[0]!, aad, iv).ciphertextAndTag);
        } else {
          // the token chooses the IV: a caller IV is refused, not silently replaced
          expect(() => hsm.sealAesGcm(key, pts[0]!, aad, randomBytes(12))).toThrow(
            expect.objectContaining({ code: "ERR_USAGE", message: expect.stringMatching(/chooses the AES-GCM IV itself/) }),
          );
          expect(() => hsm.encryptAesGcm(key, randomBytes(12), pts[0]!, aad)).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
        }
      } finally {
        await hsm.close();
      }
    },
  );
});

test("a named profile that does not match the token fails at open, naming what differed", async () => {
  await expect(openWith([], "nshield")).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringMatching(/"nshield" expects the token to fill a 12-byte zero IV, but this token left the zero IV as it was/),
  });
  await expect(openWith(["quirk gcm-token-iv"], "softhsm")).rejects.toMatchObject({
    message: expect.stringMatching(/"softhsm" expects the token to use the IV ciop gives, but this token refused it with CKR_MECHANISM_PARAM_INVALID/),
  });
  await expect(openWith(["quirk gcm-token-iv"], "nshield")).rejects.toMatchObject({
    message: expect.stringMatching(/expects a bad GCM tag to give CKR_FUNCTION_FAILED, but this token answered CKR_GENERAL_ERROR/),
  });
  await expect(openWith(["quirk gcm-token-iv"], "luna")).rejects.toMatchObject({
    message: expect.stringMatching(/take an empty IV.*refused it with CKR_MECHANISM_PARAM_INVALID/),
  });
  await expect(openWith([], "vendor-x" as GcmProfileOption)).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringMatching(/"auto", one of "softhsm", "nshield", "luna", "cloudhsm"/),
  });
});

test("a token that takes only the short CK_GCM_PARAMS: auto opens without GCM and says why; GCM calls are refused", async () => {
  const hsm = await openWith(["quirk gcm-params-v3"]);
  try {
    const caps = hsm.capabilities();
    expect(caps.gcm).toBeNull();
    expect(caps.aesGcm).toBe(false);
    expect(caps.gcmRefusal).toMatch(/short struct without ulIvBits, which pkcs11js cannot send/);
  } finally {
    await hsm.close();
  }
  await expect(openWith(["quirk gcm-params-v3"], "softhsm")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
});

test("the bad-tag CKR is per profile: CKR_GENERAL_ERROR is a device error on an nShield-like token, CKR_FUNCTION_FAILED one on SoftHSM", async () => {
  const cases: Array<{ quirks: string[]; ckr: string }> = [
    { quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_FUNCTION_FAILED"], ckr: "CKR_GENERAL_ERROR" },
    { quirks: [], ckr: "CKR_FUNCTION_FAILED" },
  ];
  for (const { quirks, ckr } of cases) {
    const hsm = await openWith(quirks);
    try {
      const key = hsm.findKey(keyName)!;
      const s = hsm.sealAesGcm(key, Buffer.from("device"));
      control.set(...quirks, `C_Decrypt fail ${ckr} times 2`);
      let err: unknown;
      try {
        hsm.decryptAesGcm(key, s.iv, s.ciphertextAndTag);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HsmError);
      expect(err).toMatchObject({ ckr, code: "ERR_HSM" });
      await expect(hsm.decryptAesGcmAsync(key, s.iv, s.ciphertextAndTag)).rejects.toMatchObject({ ckr, code: "ERR_HSM" });
      expect(hsm.decryptAesGcm(key, s.iv, s.ciphertextAndTag).toString()).toBe("device");
    } finally {
      await hsm.close();
    }
  }
});
