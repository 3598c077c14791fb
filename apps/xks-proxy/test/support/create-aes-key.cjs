// Test support, independent of @ciop/hsm: creates an AES token key with raw PKCS#11 (pkcs11js),
// with the given value and usage flags. argv: label hexValue encrypt(0|1) decrypt(0|1).
// Env: CIOP_TEST_LIB, SOFTHSM2_CONF, CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN.
const path = require("node:path");
const pkcs11js = require(require.resolve("pkcs11js", { paths: [path.resolve(__dirname, "../../../../packages/hsm")] }));
const [label, hex, enc, dec] = process.argv.slice(2);
const p = new pkcs11js.PKCS11();
p.load(process.env.CIOP_TEST_LIB);
// The token under test may need C_Initialize library parameters (NSS softokn, CIOP_TEST_LIB_PARAMS),
// and p11-kit's RPC client answers CKR_CANT_LOCK to an initialisation without OS locking.
const params = process.env.CIOP_TEST_LIB_PARAMS;
p.C_Initialize({ ...(params ? { libraryParameters: params } : {}), flags: pkcs11js.CKF_OS_LOCKING_OK });
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === process.env.CIOP_TEST_TOKEN_LABEL);
  const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  p.C_Login(s, pkcs11js.CKU_USER, process.env.CIOP_TEST_PIN);
  p.C_CreateObject(s, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
    { type: pkcs11js.CKA_VALUE, value: Buffer.from(hex, "hex") },
    { type: pkcs11js.CKA_ENCRYPT, value: enc === "1" },
    { type: pkcs11js.CKA_DECRYPT, value: dec === "1" },
  ]);
  p.C_Logout(s);
  p.C_CloseSession(s);
} finally {
  p.C_Finalize();
  p.close();
}
