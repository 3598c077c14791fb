// Child process for the cross-process tests: node child.cjs <bundle> <json args>
const [bundle, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson);
const { Hsm } = require(bundle);

async function main() {
  if (args.startAt) await new Promise((r) => setTimeout(r, Math.max(0, args.startAt - Date.now())));
  const options = args.options || {};
  const hsm = await Hsm.open(options);
  try {
    const out = { token: hsm.token };
    if (args.getOrCreate) {
      const { key, created } = await hsm.getOrCreateKey(args.getOrCreate.name, args.getOrCreate.type);
      out.created = created;
      out.id = key.id;
      out.sameName = hsm.listKeys().filter((k) => k.name === args.getOrCreate.name).length;
    }
    if (args.find) {
      const k = hsm.findKey(args.find);
      out.found = k ? { id: k.id, type: k.type, createdByCiop: k.createdByCiop } : null;
      out.info = k ? hsm.keyInfo(k) : null;
    }
    if (args.encrypt) {
      const k = hsm.findKey(args.encrypt);
      try {
        hsm.encryptAesGcm(k, Buffer.alloc(12, 1), Buffer.from("hello"));
        out.encrypt = { ok: true };
      } catch (err) {
        out.encrypt = { ok: false, code: err.code, ckr: err.ckr };
      }
    }
    if (args.delete) {
      hsm.deleteKey(args.delete);
    }
    if (args.setEnabled) {
      hsm.setKeyEnabled(args.setEnabled.name, args.setEnabled.enabled);
    }
    if (args.countTokens) {
      const pkcs11js = require("pkcs11js");
      const p = new pkcs11js.PKCS11();
      p.load(hsm.token.libraryPath);
      try {
        p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      } catch {
        /* already initialised by Hsm */
      }
      out.initialisedTokens = p
        .C_GetSlotList(true)
        .map((s) => p.C_GetTokenInfo(s))
        .filter((t) => t.flags & pkcs11js.CKF_TOKEN_INITIALIZED)
        .map((t) => ({ label: t.label.trim(), serial: t.serialNumber.trim() }));
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await hsm.close();
  }
}
main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, ckr: err.ckr } })}\n`);
  process.exitCode = 1;
});
