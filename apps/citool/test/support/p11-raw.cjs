// What pkcs11-tool reads off a token, for a token OpenSC's pkcs11-tool cannot open: one whose module
// needs C_Initialize library parameters (NSS softokn; pkcs11-tool 0.23 always passes NULL). Plain
// pkcs11js calls, no ciop code, so the check stays independent of what it checks.
//   node p11-raw.cjs list          -> JSON [{kind, label, id, ecPoint?, ecParams?}] (kind as pkcs11-tool prints it)
//   node p11-raw.cjs kcv <id-hex>  -> hex of AES-ECB(16 zero bytes) done in the token
//   node p11-raw.cjs rsa-pub <id-hex> -> hex SPKI DER of the RSA public key with that ID
// Token from P11RAW_LIB, P11RAW_PARAMS, P11RAW_LABEL, P11RAW_PIN.
const { createPublicKey } = require("node:crypto");
const { P, openRawToken } = require("../../../../tools/jest/p11-raw.cjs");
const t = openRawToken({ lib: process.env.P11RAW_LIB, params: process.env.P11RAW_PARAMS, label: process.env.P11RAW_LABEL });
const { p } = t;
try {
  const { s, find, attr } = t.login(process.env.P11RAW_PIN);
  const [cmd, idHex] = process.argv.slice(2);
  if (cmd === "list") {
    const out = [];
    for (const h of find([])) {
      const cls = attr(h, P.CKA_CLASS).readUInt32LE(0);
      const kt = attr(h, P.CKA_KEY_TYPE)?.readUInt32LE(0);
      const alg = kt === P.CKK_RSA ? "RSA" : kt === P.CKK_EC ? "EC" : kt === P.CKK_AES ? "AES" : "GENERIC";
      const kind =
        { [P.CKO_SECRET_KEY]: "Secret Key Object", [P.CKO_PUBLIC_KEY]: "Public Key Object", [P.CKO_PRIVATE_KEY]: "Private Key Object" }[cls] ?? "Data object";
      const o = {
        kind: `${kind}; ${alg}`,
        label: (attr(h, P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8"),
        id: (attr(h, P.CKA_ID) ?? Buffer.alloc(0)).toString("hex"),
      };
      if (cls === P.CKO_PUBLIC_KEY && kt === P.CKK_EC) {
        o.ecPoint = attr(h, P.CKA_EC_POINT)?.toString("hex");
        o.ecParams = attr(h, P.CKA_EC_PARAMS)?.toString("hex");
      }
      out.push(o);
    }
    process.stdout.write(JSON.stringify(out));
  } else if (cmd === "kcv") {
    const [h] = find([
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_ID, value: Buffer.from(idHex, "hex") },
    ]);
    p.C_EncryptInit(s, { mechanism: P.CKM_AES_ECB }, h);
    process.stdout.write(Buffer.from(p.C_Encrypt(s, Buffer.alloc(16), Buffer.alloc(32))).toString("hex"));
  } else if (cmd === "rsa-pub") {
    const [h] = find([
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_ID, value: Buffer.from(idHex, "hex") },
    ]);
    const jwk = { kty: "RSA", n: attr(h, P.CKA_MODULUS).toString("base64url"), e: attr(h, P.CKA_PUBLIC_EXPONENT).toString("base64url") };
    process.stdout.write(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }).toString("hex"));
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} finally {
  t.close();
}
