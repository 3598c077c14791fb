// The baseline citool is compared with: a bare node + pkcs11js script doing the same job as
// `citool aws <key> <wrap.der> RSAES_OAEP_SHA_1` on an existing key: load the library, find the
// token, log in, find the AES key by label, import the provider's public key, C_WrapKey with
// RSA-OAEP(SHA-1), write the file. No validation, no audit, no atomic write.
// usage: node bare-wrap.mjs <lib> <tokenLabel> <keyLabel> <spki.der> <out>   (PIN in CIOP_PIN)
import { createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import pkcs11js from "pkcs11js";

const [lib, tokenLabel, keyLabel, spkiPath, out] = process.argv.slice(2);
const P = pkcs11js;
const p = new P.PKCS11();
p.load(lib);
p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === tokenLabel);
  if (!slot) throw new Error(`no token ${tokenLabel}`);
  const sess = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  p.C_Login(sess, P.CKU_USER, process.env.CIOP_PIN);
  p.C_FindObjectsInit(sess, [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_LABEL, value: keyLabel },
  ]);
  const [key] = p.C_FindObjects(sess, 1);
  p.C_FindObjectsFinal(sess);
  if (!key) throw new Error(`no key ${keyLabel}`);
  const jwk = createPublicKey({ key: readFileSync(spkiPath), format: "der", type: "spki" }).export({ format: "jwk" });
  const n = Buffer.from(jwk.n, "base64url");
  const pub = p.C_CreateObject(sess, [
    { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
    { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_PRIVATE, value: false },
    { type: P.CKA_MODULUS, value: n },
    { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e, "base64url") },
    { type: P.CKA_WRAP, value: true },
    { type: P.CKA_ENCRYPT, value: true },
  ]);
  const mech = { mechanism: P.CKM_RSA_PKCS_OAEP, parameter: { type: P.CK_PARAMS_RSA_OAEP, hashAlg: P.CKM_SHA_1, mgf: P.CKG_MGF1_SHA1, source: 1 } };
  const wrapped = p.C_WrapKey(sess, mech, pub, key, Buffer.alloc(n.length));
  writeFileSync(out, wrapped);
  p.C_Logout(sess);
  p.C_CloseSession(sess);
} finally {
  p.C_Finalize();
}
