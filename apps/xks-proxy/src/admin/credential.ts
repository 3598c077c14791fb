/**
 * `xks-proxy credential new`: a SigV4 credential in the format KMS demands for an external key store.
 */
import { CiopError, writeFileAtomic } from "@ciop/core";
import { generateXksCredential, validateXksCredential } from "@ciop/xks";
import type { AdminIo } from "./io.js";
import { HELP_OPTION, parse, positionals, usageError } from "./options.js";
import { CREDENTIAL_HELP } from "./help.js";

/** TOML basic strings: the credential alphabet needs no escaping, but be strict anyway. */
function tomlString(v: string): string {
  if (!/^[A-Za-z0-9+/=]*$/.test(v)) throw new CiopError("ERR_INTERNAL", "unexpected character in a generated credential");
  return `"${v}"`;
}

export async function runCredential(argv: string[], io: AdminIo): Promise<number> {
  const sub = argv[0];
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.out(CREDENTIAL_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "new") throw usageError(`unknown subcommand 'credential ${sub}'; the only one is 'credential new'`);
  const args = parse(argv.slice(1), { ...HELP_OPTION, json: { type: "boolean" }, out: { type: "string" } }, "credential new");
  if (args.values.help) {
    io.out(CREDENTIAL_HELP);
    return 0;
  }
  positionals(args.positionals, [], "xks-proxy credential new [--json] [--out FILE]");
  if (args.values.out === "") throw usageError("--out needs a file name");

  const cred = generateXksCredential();
  validateXksCredential(cred);
  const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const jsonText = `${JSON.stringify({ accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey, created })}\n`;
  const tomlText =
    `# XKS proxy credential created ${created}\n` +
    `# ciop config: add to the store's credentials (two may be listed during a rotation)\n` +
    `[[stores.credentials]]\n` +
    `access_key_id = ${tomlString(cred.accessKeyId)}\n` +
    `secret_access_key = ${tomlString(cred.secretAccessKey)}\n` +
    `\n` +
    `# AWS sample proxy settings TOML ([[external_key_stores]] entry):\n` +
    `#   sigv4_access_key_id = ${tomlString(cred.accessKeyId)}\n` +
    `#   sigv4_secret_access_key = ${tomlString(cred.secretAccessKey)}\n` +
    `\n` +
    `# In KMS: the same pair goes into the external key store's proxy authentication credential\n` +
    `# (console, 'xks-proxy store-json', or UpdateCustomKeyStore).\n`;

  if (args.values.out !== undefined) {
    writeFileAtomic(args.values.out, args.values.json ? jsonText : tomlText, { mode: 0o600 });
    io.out(`Wrote a new credential to ${args.values.out} (mode 0600). Access key id: ${cred.accessKeyId}\n`);
  } else {
    io.out(args.values.json ? jsonText : tomlText);
  }
  return 0;
}
