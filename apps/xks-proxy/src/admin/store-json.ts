/**
 * `xks-proxy store-json`: the configuration file the AWS KMS console reads when an external key
 * store is created or updated (XksProxyUriPath + XksProxyAuthenticationCredential).
 */
import { CiopError, writeFileAtomic } from "@ciop/core";
import { xksConsoleConfiguration } from "@ciop/xks";
import type { AdminStore } from "./config-bridge.js";
import type { AdminIo } from "./io.js";
import { HELP_OPTION, parse, positionals, usageError } from "./options.js";
import { configPath, loadAdminConfig } from "./settings.js";
import { STORE_JSON_HELP } from "./help.js";

export async function runStoreJson(argv: string[], io: AdminIo): Promise<number> {
  const args = parse(
    argv,
    { ...HELP_OPTION, config: { type: "string" }, store: { type: "string" }, "access-key-id": { type: "string" }, out: { type: "string" } },
    "store-json",
  );
  if (args.values.help) {
    io.out(STORE_JSON_HELP);
    return 0;
  }
  positionals(args.positionals, [], "xks-proxy store-json [--store NAME] [--access-key-id ID] [--out FILE]");
  if (args.values.out === "") throw usageError("--out needs a file name");
  if (configPath(args.values) === undefined) {
    throw usageError("store-json needs the proxy config: pass --config FILE or set XKS_PROXY_CONFIG");
  }
  const config = (await loadAdminConfig(args.values))!;
  const store = pickStore(config.stores, args.values.store, config.file);
  if (store.credentials.length === 0) throw new CiopError("ERR_CONFIG_INVALID", `store '${store.name}' has no credential in ${config.file}`);
  const wanted = args.values["access-key-id"];
  const cred = wanted === undefined ? store.credentials[store.credentials.length - 1]! : store.credentials.find((c) => c.accessKeyId === wanted);
  if (!cred) {
    throw usageError(
      `store '${store.name}' has no credential with access key id '${wanted}' (it has: ${store.credentials.map((c) => c.accessKeyId).join(", ")})`,
    );
  }
  const text = `${JSON.stringify(xksConsoleConfiguration(store.uriPrefix, cred), null, 2)}\n`;
  if (args.values.out !== undefined) {
    writeFileAtomic(args.values.out, text, { mode: 0o600 });
    io.out(`Wrote the KMS console file for store '${store.name}' to ${args.values.out} (mode 0600; it holds the secret, delete it after the upload).\n`);
  } else {
    io.out(text);
  }
  return 0;
}

function pickStore(stores: AdminStore[], wanted: string | undefined, file: string): AdminStore {
  if (stores.length === 0) throw new CiopError("ERR_CONFIG_INVALID", `${file} defines no key store`);
  const names = stores.map((s) => `'${s.name}' (${s.uriPrefix || "no prefix"})`).join(", ");
  if (wanted === undefined) {
    if (stores.length === 1) return stores[0]!;
    throw usageError(`${file} defines ${stores.length} key stores; choose one with --store: ${names}`);
  }
  const norm = (p: string) => p.replace(/\/+$/, "");
  const hit = stores.find((s) => s.name === wanted) ?? stores.find((s) => norm(s.uriPrefix) === norm(wanted));
  if (!hit) throw usageError(`no key store '${wanted}' in ${file}; stores: ${names}`);
  return hit;
}
