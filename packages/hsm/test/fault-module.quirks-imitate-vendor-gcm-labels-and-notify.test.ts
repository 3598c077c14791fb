/**
 * The fault module's vendor quirks (tools/pkcs11-fault/README.md, "Vendor quirks"; issue 16 "Vendor
 * behaviour as probed profiles"), seen with a bare pkcs11js on the real SoftHSM token (no ciop code)
 * and, for what pkcs11js cannot send (the short CK_GCM_PARAMS, a Notify callback), with python's
 * ctypes. Each answer is checked against node:crypto / python3-cryptography. Before the quirks
 * existed, every `quirk` rule was an unparsable rule (ignored), so each test here failed: the IV
 * stayed zero, no IV came after the tag, a bad tag still said CKR_GENERAL_ERROR, duplicate labels
 * and Notify callbacks were accepted, the short struct was refused.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import pkcs11js from "pkcs11js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { PY, uniqueName } from "./helpers.js";

const P = pkcs11js;
const LIB = process.env.CIOP_TEST_SOFTHSM_LIB ?? process.env.CIOP_TEST_LIB!;
const LABEL = process.env.CIOP_TEST_SOFTHSM_LABEL ?? process.env.CIOP_TEST_TOKEN_LABEL!;
const PIN = process.env.CIOP_TEST_SOFTHSM_PIN ?? process.env.CIOP_TEST_PIN!;
const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "fault-quirks-"));
const control = new FaultControl(path.join(dir, "faults"));
const keyValue = randomBytes(32);
const aad = Buffer.from("quirk aad");
let p: pkcs11js.PKCS11;
let session: Buffer;
let key: Buffer;
const tokenObjects: Buffer[] = [];

beforeAll(() => {
  control.clear();
  const library = faultModuleCopy(dir, faultEnv({ realModule: LIB, control: control.file }));
  p = new P.PKCS11();
  p.load(library);
  p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === LABEL)!;
  session = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  p.C_Login(session, P.CKU_USER, PIN);
  key = p.C_CreateObject(session, [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
    { type: P.CKA_VALUE, value: keyValue },
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_ENCRYPT, value: true },
    { type: P.CKA_DECRYPT, value: true },
  ]);
});
afterEach(() => control.clear());
afterAll(() => {
  for (const h of tokenObjects) p.C_DestroyObject(session, h);
  p.C_CloseSession(session);
  p.C_Finalize();
});

const gcm = (iv: Buffer): pkcs11js.Mechanism => ({
  mechanism: P.CKM_AES_GCM,
  parameter: { type: P.CK_PARAMS_GCM, iv, ivBits: iv.length * 8, aad, tagBits: 128 } as pkcs11js.GcmParams,
});
const ckrOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message.split(":")[0]!;
  }
  return "CKR_OK";
};
/** ct ‖ tag as the host computes it. */
function hostSeal(iv: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv("aes-256-gcm", keyValue, iv).setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}
function hostOpen(iv: Buffer, ctAndTag: Buffer): Buffer {
  const d = createDecipheriv("aes-256-gcm", keyValue, iv).setAAD(aad);
  d.setAuthTag(ctAndTag.subarray(-16));
  return Buffer.concat([d.update(ctAndTag.subarray(0, -16)), d.final()]);
}

test("no quirk: the caller's IV is used as given and written nowhere", () => {
  const iv = randomBytes(12);
  const before = Buffer.from(iv);
  p.C_EncryptInit(session, gcm(iv), key);
  const out = p.C_Encrypt(session, Buffer.from("plain"), Buffer.alloc(64));
  expect(iv).toEqual(before);
  expect(out).toEqual(hostSeal(iv, Buffer.from("plain")));
});

test("quirk gcm-token-iv: a non-zero IV is refused; a 12-byte zero IV is filled by the 'token' and is the IV used", () => {
  control.set("quirk gcm-token-iv");
  expect(ckrOf(() => p.C_EncryptInit(session, gcm(randomBytes(12)), key))).toBe("CKR_MECHANISM_PARAM_INVALID");
  expect(ckrOf(() => p.C_EncryptInit(session, gcm(Buffer.alloc(16)), key))).toBe("CKR_MECHANISM_PARAM_INVALID");
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const iv = Buffer.alloc(12);
    p.C_EncryptInit(session, gcm(iv), key);
    const out = p.C_Encrypt(session, Buffer.from("filled"), Buffer.alloc(64));
    expect(iv.equals(Buffer.alloc(12))).toBe(false);
    expect(hostOpen(iv, out).toString()).toBe("filled");
    seen.add(iv.toString("hex"));
    // decryption takes the caller's IV, as the token's would
    p.C_DecryptInit(session, gcm(iv), key);
    expect(p.C_Decrypt(session, out, Buffer.alloc(64)).toString()).toBe("filled");
  }
  expect(seen.size).toBe(3);
});

test("quirk gcm-iv-after-tag: a non-empty IV is refused; with an empty IV the output is ct ‖ tag ‖ IV, too small a buffer says so", () => {
  control.set("quirk gcm-iv-after-tag");
  expect(ckrOf(() => p.C_EncryptInit(session, gcm(randomBytes(12)), key))).toBe("CKR_MECHANISM_PARAM_INVALID");
  p.C_EncryptInit(session, gcm(Buffer.alloc(0)), key);
  // ct ‖ tag fits, the IV does not: CKR_BUFFER_TOO_SMALL and the operation stays active
  expect(ckrOf(() => p.C_Encrypt(session, Buffer.from("luna"), Buffer.alloc(4 + 16)))).toBe("CKR_BUFFER_TOO_SMALL");
  const out = p.C_Encrypt(session, Buffer.from("luna"), Buffer.alloc(4 + 16 + 12));
  expect(out).toHaveLength(4 + 16 + 12);
  const iv = out.subarray(-12);
  expect(hostOpen(iv, out.subarray(0, -12)).toString()).toBe("luna");
  p.C_DecryptInit(session, gcm(Buffer.from(iv)), key);
  expect(p.C_Decrypt(session, out.subarray(0, -12), Buffer.alloc(64)).toString()).toBe("luna");
  // the next encryption on the session without the quirk's IV state: plain ct ‖ tag again
  control.clear();
  const iv2 = randomBytes(12);
  p.C_EncryptInit(session, gcm(iv2), key);
  expect(p.C_Encrypt(session, Buffer.from("luna"), Buffer.alloc(64))).toEqual(hostSeal(iv2, Buffer.from("luna")));
});

test("quirk gcm-bad-tag <CKR>: a failed GCM decryption answers that CKR (SoftHSM alone says CKR_GENERAL_ERROR); good ones still pass", () => {
  const iv = randomBytes(12);
  const sealed = hostSeal(iv, Buffer.from("tag"));
  const bad = Buffer.from(sealed);
  bad[bad.length - 1]! ^= 1;
  const open = (ct: Buffer) => () => {
    p.C_DecryptInit(session, gcm(iv), key);
    return p.C_Decrypt(session, ct, Buffer.alloc(64));
  };
  expect(ckrOf(open(bad))).toBe("CKR_GENERAL_ERROR");
  control.set("quirk gcm-bad-tag CKR_FUNCTION_FAILED");
  expect(ckrOf(open(bad))).toBe("CKR_FUNCTION_FAILED");
  expect((open(sealed)() as Buffer).toString()).toBe("tag");
  control.set("quirk gcm-bad-tag 0x40");
  expect(ckrOf(open(bad))).toBe("CKR_ENCRYPTED_DATA_INVALID");
});

test("quirk unique-labels: a CKA_LABEL or CKA_ID a token object has is refused on create, generate, copy and set; its own label is not", () => {
  const label = uniqueName("quirk-label");
  const id = randomBytes(8);
  const aes = (extra: pkcs11js.Template): pkcs11js.Template => [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
    { type: P.CKA_VALUE_LEN, value: 32 },
    ...extra,
  ];
  const gen = (extra: pkcs11js.Template) => p.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, aes(extra));
  const first = gen([
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_LABEL, value: label },
    { type: P.CKA_ID, value: id },
  ]);
  tokenObjects.push(first);
  // without the quirk SoftHSM takes a second object with the same label
  const dup = gen([
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_LABEL, value: label },
  ]);
  p.C_DestroyObject(session, dup);
  control.set("quirk unique-labels");
  expect(
    ckrOf(() =>
      gen([
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_LABEL, value: label },
      ]),
    ),
  ).toBe("CKR_ATTRIBUTE_VALUE_INVALID");
  expect(
    ckrOf(() =>
      gen([
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_ID, value: id },
      ]),
    ),
  ).toBe("CKR_ATTRIBUTE_VALUE_INVALID");
  const created = () =>
    p.C_CreateObject(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_VALUE, value: randomBytes(32) },
      { type: P.CKA_LABEL, value: label },
    ]);
  expect(ckrOf(created)).toBe("CKR_ATTRIBUTE_VALUE_INVALID");
  expect(ckrOf(() => p.C_CopyObject(session, first, [{ type: P.CKA_LABEL, value: label }]))).toBe("CKR_ATTRIBUTE_VALUE_INVALID");
  expect(ckrOf(() => p.C_SetAttributeValue(session, first, [{ type: P.CKA_LABEL, value: label }]))).toBe("CKR_OK");
  const other = gen([
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_LABEL, value: `${label}-other` },
  ]);
  expect(ckrOf(() => p.C_SetAttributeValue(session, other, [{ type: P.CKA_LABEL, value: label }]))).toBe("CKR_ATTRIBUTE_VALUE_INVALID");
  // a copy without a label in its template is not refused (only the template is looked at)
  const copy = p.C_CopyObject(session, first, [{ type: P.CKA_TOKEN, value: false }]);
  p.C_DestroyObject(session, copy);
  p.C_DestroyObject(session, other);
});

test("quirk no-notify and quirk gcm-params-v3, through ctypes: a Notify callback is refused, only the short GCM struct is taken", () => {
  const probe = (rules: string) =>
    JSON.parse(
      execFileSync(PY, [path.join(__dirname, "../../../tools/pkcs11-fault/quirk-probe.py")], {
        input: JSON.stringify({
          lib: faultModuleCopy(dir),
          label: LABEL,
          pin: PIN,
          key: keyValue.toString("hex"),
          iv: "00".repeat(12),
          aad: aad.toString("hex"),
          plaintext: "7631",
        }),
        env: { ...process.env, ...faultEnv({ realModule: LIB, rules }) },
        encoding: "utf8",
      }),
    ) as Record<string, number | string>;
  const plain = probe("");
  expect(plain).toMatchObject({ openWithNotify: 0, openWithoutNotify: 0, initLong: 0 });
  expect(plain.initShort).not.toBe(0);
  expect(probe("quirk no-notify")).toMatchObject({ openWithNotify: 0x7, openWithoutNotify: 0, initLong: 0 });
  const v3 = probe("quirk gcm-params-v3");
  expect(v3).toMatchObject({ initShort: 0, encrypt: 0, initLong: 0x71 });
  expect(Buffer.from(v3.ciphertext as string, "hex")).toEqual(hostSeal(Buffer.alloc(12), Buffer.from("v1")));
});
