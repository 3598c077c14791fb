// The raw pkcs11js baseline's setup, shared by run.mjs and worker.mjs: a second pkcs11js instance on
// a library someone in this process already initialised and logged in, `count` sessions on the
// token labelled `label`, and the handle of the secret key labelled `keyName`.
import pkcs11js from "pkcs11js";

const P = pkcs11js;

export function openRawKey(lib, label, keyName, count = 1) {
  const raw = new P.PKCS11();
  raw.load(lib);
  try {
    raw.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch {
    /* CKR_CRYPTOKI_ALREADY_INITIALIZED */
  }
  const slot = raw.C_GetSlotList(true).find((s) => raw.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, "") === label);
  const sessions = Array.from({ length: count }, () => raw.C_OpenSession(slot, P.CKF_SERIAL_SESSION));
  raw.C_FindObjectsInit(sessions[0], [
    { type: P.CKA_LABEL, value: keyName },
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
  ]);
  const [key] = raw.C_FindObjects(sessions[0], 1);
  raw.C_FindObjectsFinal(sessions[0]);
  return { raw, sessions, key };
}
