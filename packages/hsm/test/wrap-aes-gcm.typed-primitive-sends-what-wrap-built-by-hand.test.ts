/**
 * Issue 15 ("@ciop/wrap stops building raw pkcs11js parameters"): Hsm.wrapAesGcm is the typed
 * C_WrapKey CKM_AES_GCM that @ciop/wrap's JWE path used to build itself as a pkcs11js mechanism
 * object. It must send the same call: the same bytes where the token wraps with GCM, the same
 * refusal (CKR and function) where it does not (SoftHSM 2.6.1, capabilities().aesGcmKeyWrap false),
 * and it refuses what cannot be right before the token sees it. Before the change the method did
 * not exist (every test here failed with "hsm.wrapAesGcm is not a function").
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import type { Hsm, HsmKey } from "../src/index.js";
import { openTestHsm, uniqueName } from "./helpers.js";

const P = pkcs11js;
const base = uniqueName("wrap-gcm");
let hsm: Hsm;
let target: HsmKey;
let kek: HsmKey;

beforeAll(async () => {
  hsm = await openTestHsm();
  target = await hsm.generateKey(`${base}-target`, "AES-256");
  kek = hsm.generateSessionAesKey(256);
});
afterAll(async () => {
  hsm.destroySessionKey(kek);
  hsm.deleteKey(target.name);
  await hsm.close();
});

function outcome(f: () => Uint8Array): { bytes: string } | { code: unknown; ckr: unknown; fn: unknown } {
  try {
    return { bytes: Buffer.from(f()).toString("hex") };
  } catch (err) {
    const e = err as { code?: unknown; ckr?: unknown; fn?: unknown };
    return { code: e.code, ckr: e.ckr, fn: e.fn };
  }
}

test.each([
  ["with AAD", randomBytes(16)],
  ["without AAD", new Uint8Array(0)],
])("the typed call and the hand-built pkcs11js mechanism give the same answer from the token (%s)", (_what, aad) => {
  const iv = randomBytes(12);
  // exactly what @ciop/wrap's hsm-engine built before
  const parameter = { type: P.CK_PARAMS_GCM, iv: Buffer.from(iv), ivBits: 96, tagBits: 128, ...(aad.length > 0 ? { aad: Buffer.from(aad) } : {}) };
  const byHand = outcome(() => hsm.wrapKey({ mechanism: P.CKM_AES_GCM, parameter } as pkcs11js.Mechanism, kek, target));
  const typed = outcome(() => hsm.wrapAesGcm(kek, target, iv, aad));
  expect(typed).toEqual(byHand);
  if (hsm.capabilities().aesGcmKeyWrap) {
    expect(typed).toHaveProperty("bytes");
    expect((typed as { bytes: string }).bytes).toHaveLength((32 + 16) * 2);
  } else {
    expect(typed).toMatchObject({ fn: "C_WrapKey" });
    expect((typed as { ckr: unknown }).ckr).toMatch(/^CKR_/);
  }
});

test("refused before the token: an empty IV, a KEK that is not AES, a disabled key", async () => {
  expect(() => hsm.wrapAesGcm(kek, target, new Uint8Array(0))).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  const hmac = await hsm.generateKey(`${base}-hmac`, "HMAC-256");
  try {
    expect(() => hsm.wrapAesGcm(hmac, target, randomBytes(12))).toThrow(expect.objectContaining({ code: "ERR_KEY_TYPE_MISMATCH" }));
  } finally {
    hsm.deleteKey(hmac.name);
  }
  hsm.setKeyEnabled(target.name, false);
  try {
    expect(() => hsm.wrapAesGcm(kek, target, randomBytes(12))).toThrow(expect.objectContaining({ code: "ERR_KEY_DISABLED" }));
  } finally {
    hsm.setKeyEnabled(target.name, true);
  }
});
