// Test support: what OpenSC's pkcs11-tool reads off (and makes on) a token, for a token it cannot
// open: one whose module needs C_Initialize library parameters (NSS softokn; pkcs11-tool 0.23 always
// passes NULL). Plain pkcs11js calls, no ciop code, so the checks stay independent of what they check.
//   node p11-raw.cjs token-info              -> JSON {label, manufacturer, model, serial} of the token,
//                                               plus firstSlotToken: the label in the module's first slot
//   node p11-raw.cjs marks-generated-local   -> "true"/"false": whether the token sets CKA_LOCAL on an
//                                               AES key it generates (a session key, gone at once)
//   node p11-raw.cjs secret-keys             -> JSON [{label, kind, usage[], access[], id}] in the shape
//                                               admin-helpers.ts parses from pkcs11-tool --list-objects
//   node p11-raw.cjs keygen-aes <label|-> <id-hex>   -> a sensitive AES-256 token key with encrypt and
//                                               decrypt (as pkcs11-tool --keygen makes one); "-": no label
//   node p11-raw.cjs delete-secret <id-hex>  -> deletes the secret keys with that CKA_ID
// Token from CIOP_TEST_LIB, CIOP_TEST_LIB_PARAMS, CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN.
const { P, trim, openRawToken } = require("../../../../tools/jest/p11-raw.cjs");
const t = openRawToken({ lib: process.env.CIOP_TEST_LIB, params: process.env.CIOP_TEST_LIB_PARAMS, label: process.env.CIOP_TEST_TOKEN_LABEL });
const { p, slot } = t;
function main() {
  const [cmd, a, b] = process.argv.slice(2);
  if (cmd === "token-info") {
    const info = p.C_GetTokenInfo(slot);
    const firstSlotToken = trim(p.C_GetTokenInfo(p.C_GetSlotList(true)[0]).label);
    process.stdout.write(
      JSON.stringify({
        label: trim(info.label),
        manufacturer: trim(info.manufacturerID),
        model: trim(info.model),
        serial: trim(info.serialNumber),
        firstSlotToken,
      }),
    );
    return;
  }
  const { s, find, attr } = t.login(process.env.CIOP_TEST_PIN, { rw: true });
  const flag = (h, type) => attr(h, type)?.[0] === 1;
  if (cmd === "secret-keys") {
    const out = [];
    for (const h of find([{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }])) {
      const kt = attr(h, P.CKA_KEY_TYPE)?.readUInt32LE(0);
      const len = attr(h, P.CKA_VALUE_LEN)?.readUInt32LE(0);
      const usage = [
        ["encrypt", P.CKA_ENCRYPT],
        ["decrypt", P.CKA_DECRYPT],
        ["sign", P.CKA_SIGN],
        ["verify", P.CKA_VERIFY],
        ["wrap", P.CKA_WRAP],
        ["unwrap", P.CKA_UNWRAP],
        ["derive", P.CKA_DERIVE],
      ]
        .filter(([, t]) => flag(h, t))
        .map(([n]) => n);
      const access = [
        ["sensitive", P.CKA_SENSITIVE],
        ["always sensitive", P.CKA_ALWAYS_SENSITIVE],
        ["extractable", P.CKA_EXTRACTABLE],
        ["never extractable", P.CKA_NEVER_EXTRACTABLE],
        ["local", P.CKA_LOCAL],
      ]
        .filter(([, t]) => flag(h, t))
        .map(([n]) => n);
      const id = attr(h, P.CKA_ID);
      const key = {
        label: (attr(h, P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8"),
        kind: `${kt === P.CKK_AES ? "AES" : "GENERIC"} length ${len}`,
        usage,
        access,
      };
      if (id && id.length > 0) key.id = id.toString("hex");
      out.push(key);
    }
    process.stdout.write(JSON.stringify(out));
  } else if (cmd === "keygen-aes") {
    const template = [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_VALUE_LEN, value: 32 },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_ID, value: Buffer.from(b, "hex") },
      ...(a === "-" ? [] : [{ type: P.CKA_LABEL, value: a }]),
    ];
    p.C_GenerateKey(s, { mechanism: P.CKM_AES_KEY_GEN }, template);
  } else if (cmd === "marks-generated-local") {
    const h = p.C_GenerateKey(s, { mechanism: P.CKM_AES_KEY_GEN }, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_VALUE_LEN, value: 32 },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_SENSITIVE, value: true },
    ]);
    process.stdout.write(String(flag(h, P.CKA_LOCAL)));
    p.C_DestroyObject(s, h);
  } else if (cmd === "delete-secret") {
    for (const h of find([
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_ID, value: Buffer.from(a, "hex") },
    ]))
      p.C_DestroyObject(s, h);
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
  p.C_CloseSession(s);
}

try {
  main();
} finally {
  t.close();
}
