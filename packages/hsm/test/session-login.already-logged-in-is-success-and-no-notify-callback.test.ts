/**
 * Issue 16, session and login rules of tokens other than SoftHSM (reference pkcs11-tokens.md):
 * CloudHSM reports CKR_USER_ALREADY_LOGGED_IN when another process or client holds the login, and
 * refuses C_OpenSession with a Notify callback. Both imitated by the fault module over the jest
 * run's SoftHSM token.
 *
 * - Library restart: recoverLibrary logged in again with a bare C_Login, so "already logged in"
 *   failed the restart (checked by reverting lifecycle/restart.ts: recoverLibrary threw HsmError
 *   CKR_USER_ALREADY_LOGGED_IN). The module copy lives in a directory whose name contains
 *   "softhsm": it forwards to SoftHSM, and ciop restarts only SoftHSM libraries.
 * - Open: sessions.ts already took the answer as success; this test keeps it so.
 * - Notify: ciop never passes a callback (pkcs11js sends NULL), so sessions open under
 *   `quirk no-notify`; the test fails if a callback is ever passed (the quirk itself is proven
 *   with a real callback in fault-module.quirks-imitate-vendor-gcm-labels-and-notify.test.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { Hsm } from "../src/index.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { openTestHsm, uniqueName } from "./helpers.js";

const token = process.env.CIOP_TEST_TOKEN_LABEL!;
const pin = { value: process.env.CIOP_TEST_PIN! };

function shim(prefix: string): { library: string; control: FaultControl } {
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, prefix));
  const control = new FaultControl(path.join(dir, "faults"));
  control.clear();
  return { library: faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: control.file })), control };
}

// runs first: the restart needs this Hsm to be the library's only user in the process
test("a library restart takes CKR_USER_ALREADY_LOGGED_IN at its new login as success", async () => {
  const { library, control } = shim("softhsm-relogin-");
  const hsm = await Hsm.open({ library, token, pin });
  try {
    control.set("C_Login fail CKR_USER_ALREADY_LOGGED_IN");
    const restart = (hsm as unknown as { recoverLibrary(): boolean }).recoverLibrary();
    expect(restart).toBe(true);
  } finally {
    control.clear();
    await hsm.close();
  }
});

test("Hsm.open takes CKR_USER_ALREADY_LOGGED_IN as success: the login someone else holds is used", async () => {
  // the real login, held by "another client" (SoftHSM keeps login state per token in the library)
  const holder = await openTestHsm();
  const { library, control } = shim("already-logged-in-");
  control.set("C_Login fail CKR_USER_ALREADY_LOGGED_IN");
  const hsm = await Hsm.open({ library, token, pin });
  const name = uniqueName("relogin");
  try {
    const key = await hsm.generateKey(name, "AES-256", { extractable: false });
    const iv = randomBytes(12);
    const pt = randomBytes(24);
    expect(hsm.decryptAesGcm(key, iv, hsm.encryptAesGcm(key, iv, pt)).equals(pt)).toBe(true);
    hsm.deleteKey(name);
  } finally {
    control.clear();
    await hsm.close();
    await holder.close();
  }
});

test("sessions open on a token that refuses Notify callbacks: ciop never passes one", async () => {
  const { library, control } = shim("no-notify-");
  control.set("quirk no-notify");
  const hsm = await Hsm.open({ library, token, pin, sessionPoolSize: 2 });
  const name = uniqueName("no-notify");
  try {
    const key = await hsm.generateKey(name, "AES-256", { extractable: false });
    const iv = randomBytes(12);
    const pt = randomBytes(24);
    // the pooled (async) path opens further sessions
    const ct = await hsm.encryptAesGcmAsync(key, iv, pt);
    expect((await hsm.decryptAesGcmAsync(key, iv, ct)).equals(pt)).toBe(true);
    hsm.deleteKey(name);
  } finally {
    control.clear();
    await hsm.close();
  }
});
