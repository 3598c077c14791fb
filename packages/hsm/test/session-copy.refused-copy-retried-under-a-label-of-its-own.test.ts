/**
 * Issue 16, "Lookups": a session copy (C_CopyObject with CKA_TOKEN false) keeps the original's
 * CKA_LABEL and CKA_ID, which a token that refuses duplicate labels and ids may reject
 * (CKR_ATTRIBUTE_VALUE_INVALID, as CloudHSM does for duplicates). The fault module's
 * `quirk unique-labels` only looks at the copy's template, so the refusal of the plain copy is
 * imitated by a one-time `C_CopyObject fail CKR_ATTRIBUTE_VALUE_INVALID`; the quirk stays on to check
 * that the retried copy's own label and id are accepted.
 *
 * Failed before the fix (checked by reverting keys/session-keys.ts): sessionCopy threw ERR_HSM
 * CKR_ATTRIBUTE_VALUE_INVALID, so the XKS proxy fell back to the token key for good.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import pkcs11js from "pkcs11js";
import { Hsm, type HsmKey } from "../src/index.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { openRawToken, uniqueName, type RawToken } from "./helpers.js";

const P = pkcs11js;
const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "copy-unique-"));
const control = new FaultControl(path.join(dir, "faults"));
let hsm: Hsm;
let key: HsmKey;
let tok: RawToken;

beforeAll(async () => {
  control.set("quirk unique-labels");
  const library = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: control.file }));
  hsm = await Hsm.open({ library, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
  key = await hsm.generateKey(uniqueName("copy-uniq"), "AES-256", { extractable: false });
  tok = openRawToken();
});
afterAll(async () => {
  tok?.close();
  control.clear();
  if (key) hsm.deleteKey(key.name);
  await hsm?.close();
});

test("a copy refused for keeping the original's label is made under a label and id of its own, and works", () => {
  control.set("quirk unique-labels", "C_CopyObject fail CKR_ATTRIBUTE_VALUE_INVALID times 1");
  const copy = hsm.sessionCopy(key);
  expect(copy.ephemeral).toBe(true);
  // same key value: what the copy seals, the token key opens
  const iv = randomBytes(12);
  const pt = randomBytes(32);
  expect(hsm.decryptAesGcm(key, iv, hsm.encryptAesGcm(copy, iv, pt)).equals(pt)).toBe(true);
  // the token's only object with the original's label is still the token key; the copy is a session object
  const byLabel = tok.find([{ type: P.CKA_LABEL, value: key.name }]);
  expect(byLabel).toHaveLength(1);
  expect(tok.bool(byLabel[0]!, P.CKA_TOKEN)).toBe(true);
  hsm.destroySessionKey(copy);
});

// guards that the plain copy stays the first try (the quirk refuses a copy whose template names a taken label)
test("on the unique-labels token a copy without the refusal keeps working as before", () => {
  const copy = hsm.sessionCopy(key);
  const iv = randomBytes(12);
  const pt = randomBytes(16);
  expect(hsm.decryptAesGcm(copy, iv, hsm.encryptAesGcm(key, iv, pt)).equals(pt)).toBe(true);
  hsm.destroySessionKey(copy);
});
