/**
 * `xks-proxy keys create|list|enable|disable`: the AES-256 keys behind external KMS keys.
 */
import { CiopError } from "@ciop/core";
import type { Hsm, KeyInfo } from "@ciop/hsm";
import type { AdminConfig } from "./config-bridge.js";
import type { AdminIo } from "./io.js";
import { HELP_OPTION, HSM_OPTIONS, parse, positionals, usageError } from "./options.js";
import { loadAdminConfig, openAdminHsm } from "./settings.js";
import { KEYS_HELP } from "./help.js";
import { proxyState, readUsage, usageFrom, writeUsage, type Usage } from "./usage.js";

/** externalKeyId as KMS accepts it. */
export const EXTERNAL_KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export const KEY_USAGES = ["encrypt-decrypt", "encrypt-only", "decrypt-only"] as const;
export type KeyUsageOption = (typeof KEY_USAGES)[number];

const SUBCOMMANDS = ["create", "list", "enable", "disable"] as const;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

function clean(v: string): string {
  return v.replace(/[\s\0]+$/u, "");
}

function keySpecOf(k: KeyInfo): string {
  return k.type.replace("-", "_");
}

function storesOf(config: AdminConfig | undefined, name: string): string[] {
  return (config?.stores ?? []).filter((s) => s.keys.includes(name)).map((s) => s.name);
}

export function validateExternalKeyId(name: string): void {
  if (!EXTERNAL_KEY_ID.test(name)) {
    throw usageError(`'${name.slice(0, 140)}' cannot be an external key id: use 1 to 128 characters of A-Z a-z 0-9 - . _`);
  }
}

export async function runKeys(argv: string[], io: AdminIo): Promise<number> {
  const sub = argv[0];
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.out(KEYS_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError(`unknown subcommand 'keys ${sub}'; use one of: ${SUBCOMMANDS.join(", ")}`);
  const spec = {
    ...HELP_OPTION,
    ...HSM_OPTIONS,
    json: { type: "boolean" },
    ...(sub === "create" || sub === "enable" ? { usage: { type: "string" } } : {}),
    ...(sub === "list" ? { all: { type: "boolean" } } : {}),
  } as const;
  const args = parse(
    argv.slice(1),
    spec as typeof HELP_OPTION & typeof HSM_OPTIONS & { json: { type: "boolean" }; usage: { type: "string" }; all: { type: "boolean" } },
    `keys ${sub}`,
  );
  if (args.values.help) {
    io.out(KEYS_HELP);
    return 0;
  }
  const json = args.values.json === true;
  let name: string | undefined;
  let usage: KeyUsageOption | undefined;
  if (sub === "list") {
    positionals(args.positionals, [], "xks-proxy keys list [--all] [--json]");
  } else {
    [name] = positionals(args.positionals, ["name"], `xks-proxy keys ${sub} <name>`);
    validateExternalKeyId(name!);
  }
  if (args.values.usage !== undefined) {
    if (!(KEY_USAGES as readonly string[]).includes(args.values.usage)) {
      throw usageError(`--usage must be one of ${KEY_USAGES.join(", ")} (got '${args.values.usage}')`);
    }
    usage = args.values.usage as KeyUsageOption;
  }

  const config = await loadAdminConfig(args.values);
  const hsm = await openAdminHsm(args.values, config);
  try {
    const token = { label: clean(hsm.token.label), serial: clean(hsm.token.serial) };
    if (sub === "list") return list(hsm, config, io, json, args.values.all === true, token);
    if (sub === "create") {
      if (config && name === config.healthKey) {
        throw usageError(`'${name}' is the proxy's health-check key (see [health] in ${config.file}); choose another name`);
      }
      const wanted = usage ?? "encrypt-decrypt";
      const key = await hsm.generateKey(name!, "AES-256", { extractable: false });
      // Hsm creates AES keys with both usages; narrow them before anyone can use the key.
      if (wanted !== "encrypt-decrypt") writeUsage(hsm, key, usageFrom(wanted));
      const info = hsm.keyInfo(key);
      const state = proxyState(info, readUsage(hsm, key));
      if (json) {
        io.out(
          `${JSON.stringify({
            command: "keys create",
            token,
            key: {
              name: info.name,
              keySpec: "AES_256",
              id: info.id,
              enabled: state.enabled,
              usage: state.usage,
              sensitive: info.sensitive,
              extractable: info.extractable,
            },
          })}\n`,
        );
      } else {
        io.out(
          `Created AES-256 key '${info.name}' on token '${token.label}' (serial ${token.serial}).\n` +
            `  id ${info.id}, sensitive, never extractable, ${state.usage}\n` +
            `Allow it in a key store of the proxy config (keys = [..., "${info.name}"]), then create the\n` +
            `KMS key with external key id '${info.name}'.\n`,
        );
      }
      return 0;
    }
    // enable | disable
    const enable = sub === "enable";
    const found = hsm.listKeys().filter((k) => k.name === name);
    if (found.length === 0) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${token.label}' ('xks-proxy keys list' shows the keys)`);
    const aes = found.filter((k) => k.type === "AES-256");
    if (aes.length === 0) throw new CiopError("ERR_KEY_TYPE_MISMATCH", `key '${name}' is ${found[0]!.type}, not an AES-256 XKS key`);
    if (aes.length > 1)
      throw new CiopError("ERR_KEY_EXISTS", `token '${token.label}' holds ${aes.length} AES-256 keys named '${name}'; remove the duplicates first`);
    const info = aes[0]!;
    const key = hsm.findKey(name!);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `key '${name}' vanished from token '${token.label}'`);
    const before = readUsage(hsm, key);
    const beforeState = proxyState(info, before);
    let target: Usage;
    if (enable) {
      // enabling keeps a restricted usage unless --usage says otherwise
      target = usage !== undefined ? usageFrom(usage) : beforeState.enabled && beforeState.usage !== "none" ? before : usageFrom("encrypt-decrypt");
    } else {
      target = { encrypt: false, decrypt: false };
    }
    const changed = target.encrypt !== before.encrypt || target.decrypt !== before.decrypt;
    if (changed) {
      if (target.encrypt === target.decrypt) hsm.setKeyEnabled(name!, target.encrypt);
      else writeUsage(hsm, key, target);
    }
    const after = readUsage(hsm, key);
    const afterState = proxyState(info, after);
    if (json) {
      io.out(
        `${JSON.stringify({
          command: `keys ${sub}`,
          token,
          key: { name, enabled: afterState.enabled, usage: afterState.usage, createdByCiop: info.createdByCiop, changed },
        })}\n`,
      );
    } else if (!changed) {
      io.out(`Key '${name}' was already ${afterState.enabled ? `enabled (${afterState.usage})` : "disabled"}; nothing changed.\n`);
    } else {
      io.out(
        `Key '${name}' is now ${afterState.enabled ? `enabled (${afterState.usage})` : "disabled"} in the HSM; proxies sharing token '${token.label}' follow within a second.\n`,
      );
      if (!enable && beforeState.usage !== "encrypt-decrypt" && beforeState.usage !== "none") {
        io.out(`It was ${beforeState.usage}: re-enable it with 'xks-proxy keys enable ${name} --usage ${beforeState.usage}' to keep that restriction.\n`);
      }
      if (!enable && !info.createdByCiop) {
        io.out(
          `ciop did not create this key, so the proxy reports it as having no usage (InvalidKeyUsageException) rather than disabled; either way it refuses every operation.\n`,
        );
      }
    }
    return 0;
  } finally {
    await hsm.close();
  }
}

function list(hsm: Hsm, config: AdminConfig | undefined, io: AdminIo, json: boolean, all: boolean, token: { label: string; serial: string }): number {
  const keys = hsm.listKeys().filter((k) => all || k.type === "AES-256");
  const stateOf = (k: KeyInfo): { enabled: boolean; usage: string } => {
    if (k.type.startsWith("AES-")) {
      const key = hsm.findKey(k.name);
      if (key && key.id === k.id) return proxyState(k, readUsage(hsm, key));
    }
    return { enabled: k.enabled, usage: "-" };
  };
  if (json) {
    io.out(
      `${JSON.stringify({
        command: "keys list",
        token,
        keys: keys.map((k) => ({
          name: k.name,
          keySpec: keySpecOf(k),
          ...stateOf(k),
          createdByCiop: k.createdByCiop,
          sensitive: k.sensitive,
          extractable: k.extractable,
          id: k.id,
          stores: storesOf(config, k.name),
        })),
      })}\n`,
    );
    return 0;
  }
  if (keys.length === 0) {
    io.out(`No ${all ? "" : "AES-256 "}keys on token '${token.label}'.\n`);
    return 0;
  }
  const rows = [["NAME", "SPEC", "STATE", "USAGE", "CREATED BY", "STORES", "ID"]];
  for (const k of keys) {
    const st = stateOf(k);
    rows.push([
      k.name,
      keySpecOf(k),
      st.enabled ? "enabled" : "disabled",
      st.usage,
      k.createdByCiop ? "ciop" : "other",
      storesOf(config, k.name).join(",") || "-",
      k.id || "-",
    ]);
  }
  io.out(table(rows));
  return 0;
}
