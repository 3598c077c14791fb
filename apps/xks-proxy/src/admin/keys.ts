/**
 * `xks-proxy keys create|list|show|rotate|enable|disable|delete`: the AES-256 keys behind external
 * KMS keys, and their versions (keys-rotation.ts).
 */
import { CiopError } from "@ciop/core";
import type { Hsm, HsmKey, KeyInfo } from "@ciop/hsm";
import type { AdminConfig } from "./config-bridge.js";
import { type AdminIo, table } from "./io.js";
import { HELP_OPTION, HSM_OPTIONS, parse, positionals, usageError } from "./options.js";
import { loadAdminConfig, openAdminHsm } from "./settings.js";
import { KEYS_HELP } from "./help.js";
import { createdAtOf, currentOf, deleteVersion, familyOf, parseVersionOption, rotateFamily, showFamily, versionOf, versionState } from "./keys-rotation.js";
import { versionLabel } from "../key-versions.js";
import { proxyState, readUsage, usageFrom, writeUsage, type Usage } from "./usage.js";

/** externalKeyId as KMS accepts it. */
export const EXTERNAL_KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export const KEY_USAGES = ["encrypt-decrypt", "encrypt-only", "decrypt-only"] as const;
export type KeyUsageOption = (typeof KEY_USAGES)[number];

const SUBCOMMANDS = ["create", "list", "show", "rotate", "enable", "disable", "delete"] as const;

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
    ...(sub === "enable" || sub === "disable" || sub === "delete" ? { version: { type: "string" } } : {}),
    ...(sub === "delete" ? { yes: { type: "boolean" } } : {}),
  } as const;
  const args = parse(
    argv.slice(1),
    spec as typeof HELP_OPTION &
      typeof HSM_OPTIONS & {
        json: { type: "boolean" };
        usage: { type: "string" };
        all: { type: "boolean" };
        version: { type: "string" };
        yes: { type: "boolean" };
      },
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
  const version = parseVersionOption(args.values.version);
  if (sub === "delete" && version === undefined)
    throw usageError(`keys delete needs --version N: it deletes one version of a key (usage: xks-proxy keys delete <name> --version N [--yes])`);

  const config = await loadAdminConfig(args.values);
  const hsm = await openAdminHsm(args.values, config);
  try {
    const token = { label: clean(hsm.token.label), serial: clean(hsm.token.serial) };
    if (sub === "list") return list(hsm, config, io, json, args.values.all === true, token);
    if (sub === "show") return showFamily(hsm, name!, config, io, json, token);
    if (sub === "rotate") {
      if (config && name === config.healthKey)
        throw usageError(`'${name}' is the proxy's health-check key (see [health] in ${config.file}); it is not an external key`);
      return await rotateFamily(hsm, name!, io, json, token);
    }
    if (sub === "delete") return await deleteVersion(hsm, name!, version!, args.values.yes === true, io, json, token);
    if (sub === "create") {
      if (config && name === config.healthKey) {
        throw usageError(`'${name}' is the proxy's health-check key (see [health] in ${config.file}); choose another name`);
      }
      const family = familyOf(hsm, name!, token);
      if (family.length > 0) {
        throw new CiopError(
          "ERR_KEY_EXISTS",
          `key '${name}' exists on token '${token.label}' (versions ${family.map((r) => r.version).join(", ")}); 'xks-proxy keys rotate ${name}' adds a version`,
        );
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
    // enable | disable: one version (--version N, or a key that never rotated), or every version (disable)
    const enable = sub === "enable";
    if (version === undefined) {
      const family = familyOf(hsm, name!, token);
      if (family.length > 1 || (family.length === 1 && family[0]!.version !== 1)) {
        if (enable) {
          throw usageError(
            `key '${name}' has versions ${family.map((r) => r.version).join(", ")}: enable them one at a time with --version N ('xks-proxy keys show ${name}' lists them)`,
          );
        }
        return disableFamily(hsm, name!, family, io, json, token);
      }
    }
    const label = version === undefined ? name! : versionLabel(name!, version);
    const found = hsm.listKeys().filter((k) => k.name === label);
    if (found.length === 0)
      throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${label}' on token '${token.label}' ('xks-proxy keys list' shows the keys)`);
    const aes = found.filter((k) => k.type === "AES-256");
    if (aes.length === 0) throw new CiopError("ERR_KEY_TYPE_MISMATCH", `key '${label}' is ${found[0]!.type}, not an AES-256 XKS key`);
    if (aes.length > 1)
      throw new CiopError("ERR_KEY_EXISTS", `token '${token.label}' holds ${aes.length} AES-256 keys named '${label}'; remove the duplicates first`);
    const info = aes[0]!;
    const key = hsm.findKey(label);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `key '${label}' vanished from token '${token.label}'`);
    const before = readUsage(hsm, key);
    // (a rotated family: a version with neither usage is disabled, whoever made it)
    const rotated = familyOf(hsm, name!, token).length > 1;
    const stateOf = (u: Usage): ReturnType<typeof proxyState> => versionState(info, u, rotated);
    const beforeState = stateOf(before);
    let target: Usage;
    if (enable) {
      // enabling keeps a restricted usage unless --usage says otherwise
      target = usage !== undefined ? usageFrom(usage) : beforeState.enabled && beforeState.usage !== "none" ? before : usageFrom("encrypt-decrypt");
    } else {
      target = { encrypt: false, decrypt: false };
    }
    const changed = target.encrypt !== before.encrypt || target.decrypt !== before.decrypt;
    if (changed) {
      if (target.encrypt === target.decrypt) hsm.setKeyEnabled(label, target.encrypt);
      else writeUsage(hsm, key, target);
    }
    const after = readUsage(hsm, key);
    const afterState = stateOf(after);
    if (json) {
      io.out(
        `${JSON.stringify({
          command: `keys ${sub}`,
          token,
          key: {
            name,
            ...(version !== undefined ? { version } : {}),
            enabled: afterState.enabled,
            usage: afterState.usage,
            createdByCiop: info.createdByCiop,
            changed,
          },
        })}\n`,
      );
    } else if (!changed) {
      io.out(`Key '${label}' was already ${afterState.enabled ? `enabled (${afterState.usage})` : "disabled"}; nothing changed.\n`);
    } else {
      io.out(
        `Key '${label}' is now ${afterState.enabled ? `enabled (${afterState.usage})` : "disabled"} in the HSM; proxies sharing token '${token.label}' follow within a second.\n`,
      );
      if (!enable && beforeState.usage !== "encrypt-decrypt" && beforeState.usage !== "none") {
        io.out(
          `It was ${beforeState.usage}: re-enable it with 'xks-proxy keys enable ${name}${version !== undefined ? ` --version ${version}` : ""} --usage ${beforeState.usage}' to keep that restriction.\n`,
        );
      }
      if (!enable && !info.createdByCiop && !rotated) {
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

/** `keys disable <name>` on a rotated key: every version off, so the external key is disabled. */
function disableFamily(
  hsm: Hsm,
  name: string,
  family: ReturnType<typeof familyOf>,
  io: AdminIo,
  json: boolean,
  token: { label: string; serial: string },
): number {
  const changed: number[] = [];
  for (const r of family) {
    if (!r.enabled) continue;
    hsm.setKeyEnabled(r.label, false);
    changed.push(r.version);
  }
  const after = familyOf(hsm, name, token);
  if (json) {
    io.out(
      `${JSON.stringify({
        command: "keys disable",
        token,
        key: {
          name,
          enabled: currentOf(after) !== undefined,
          changed: changed.length > 0,
          versions: after.map((r) => ({ version: r.version, enabled: r.enabled, usage: r.usage })),
        },
      })}\n`,
    );
  } else if (changed.length === 0) {
    io.out(`Every version of key '${name}' was already disabled; nothing changed.\n`);
  } else {
    io.out(
      `Key '${name}' is now disabled in the HSM (versions ${changed.join(", ")} switched off; ${family.length} in all); proxies sharing token '${token.label}' follow within a second.\n` +
        `Re-enable versions one at a time with 'xks-proxy keys enable ${name} --version N'.\n`,
    );
  }
  return 0;
}

/**
 * The listed key itself, found by its CKA_ID (else by its label): keys made by other tools may lack
 * either, or share them, and a lookup refuses an ambiguous one. Undefined when neither names one key.
 */
function listedKey(hsm: Hsm, k: KeyInfo): HsmKey | undefined {
  try {
    if (k.id !== "") return hsm.findKeyById(k.id);
    return k.name !== "" ? hsm.findKey(k.name) : undefined;
  } catch (err) {
    if (CiopError.isInstance(err) && err.details?.ambiguous === true) return undefined;
    throw err;
  }
}

function list(hsm: Hsm, config: AdminConfig | undefined, io: AdminIo, json: boolean, all: boolean, token: { label: string; serial: string }): number {
  const listed = hsm.listKeys();
  const keys = listed.filter((k) => all || k.type === "AES-256");
  // which version of its family each AES-256 key is, and each family's current version
  const families = new Map<string, { current: number | undefined; rotated: boolean }>();
  const versionInfo = (k: KeyInfo): { family: string; version: number; current: boolean } | undefined => {
    if (k.type !== "AES-256") return undefined;
    const v = versionOf(k);
    if (!families.has(v.name)) {
      try {
        const rows = familyOf(hsm, v.name, token, listed);
        families.set(v.name, { current: currentOf(rows), rotated: rows.length > 1 || rows.some((r) => r.version !== 1) });
      } catch {
        families.set(v.name, { current: undefined, rotated: false }); // duplicate labels: no current version can be told
      }
    }
    return { family: v.name, version: v.version, current: families.get(v.name)!.current === v.version };
  };
  const stateOf = (k: KeyInfo): { enabled: boolean; usage: string } => {
    if (k.type.startsWith("AES-")) {
      const key = listedKey(hsm, k);
      if (key && key.id === k.id) return versionState(k, readUsage(hsm, key), versionInfo(k) !== undefined && families.get(versionOf(k).name)!.rotated);
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
          stores: storesOf(config, versionOf(k).name),
          ...(versionInfo(k) ?? {}),
          createdAt: createdAtOf(k.id) ?? null,
        })),
      })}\n`,
    );
    return 0;
  }
  if (keys.length === 0) {
    io.out(`No ${all ? "" : "AES-256 "}keys on token '${token.label}'.\n`);
    return 0;
  }
  const rows = [["NAME", "SPEC", "STATE", "USAGE", "CREATED BY", "VERSION", "CREATED", "STORES", "ID"]];
  for (const k of keys) {
    const st = stateOf(k);
    const v = versionInfo(k);
    rows.push([
      k.name,
      keySpecOf(k),
      st.enabled ? "enabled" : "disabled",
      st.usage,
      k.createdByCiop ? "ciop" : "other",
      v ? `${v.version}${v.current ? " (current)" : ""}` : "-",
      createdAtOf(k.id) ?? "-",
      storesOf(config, versionOf(k).name).join(",") || "-",
      k.id || "-",
    ]);
  }
  io.out(table(rows));
  return 0;
}
