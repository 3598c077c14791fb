// Preloaded with `node --import` (through NODE_OPTIONS) by cli.cold-export-loads-only-what-it-needs:
// writes, one per line, to the file named by CIOP_RECORD_LOADS every module URL the ESM loader
// resolves (through the hooks in record-loads-hooks.mjs) and, at exit, every file in the CommonJS
// module cache (the @peculiar libraries, asn1js, smol-toml and pkcs11js are CommonJS).
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const out = process.env.CIOP_RECORD_LOADS;
if (out) {
  register("./record-loads-hooks.mjs", import.meta.url, { data: { out } });
  process.on("exit", () => {
    appendFileSync(
      out,
      Object.keys(createRequire(import.meta.url).cache)
        .map((f) => `${f}\n`)
        .join(""),
    );
  });
}
