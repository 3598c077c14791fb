/**
 * Key families: `xks-proxy keys rotate|show|delete` and the version-aware parts of `keys
 * list|enable|disable`. Version 1 of external key `<name>` is the key labelled `<name>`, version
 * N ≥ 2 the AES-256 key labelled `<name>~v<N>` (src/key-versions.ts); the current version is the
 * highest enabled one, read from the token by every proxy instance.
 */
import { CiopError } from "@ciop/core";
import { CIOP_ID_PREFIX, type Hsm, type HsmKey, type KeyInfo } from "@ciop/hsm";
import { MAX_KEY_VERSION } from "@ciop/xks";
import { parseVersionLabel, versionLabel } from "../key-versions.js";
import type { AdminConfig } from "./config-bridge.js";
import type { AdminIo } from "./io.js";
import { usageError } from "./options.js";
import { proxyState, readUsage, usageFrom, usageName, writeUsage, type Usage, type UsageName } from "./usage.js";

export interface TokenFacts {
  label: string;
  serial: string;
}

/** One version of a key family as the token has it now. */
export interface VersionRow {
  version: number;
  label: string;
  info: KeyInfo;
  enabled: boolean;
  usage: UsageName;
  /** ISO time from a ciop CKA_ID (prefix ‖ 8-byte creation time in ms ‖ random); undefined for other keys. */
  createdAt: string | undefined;
}

const PREFIX_HEX = Buffer.from(CIOP_ID_PREFIX).toString("hex");

/** The creation time ciop writes into a key's CKA_ID, when the id is ciop's. */
export function createdAtOf(idHex: string): string | undefined {
  if (!idHex.startsWith(PREFIX_HEX) || idHex.length < PREFIX_HEX.length + 16) return undefined;
  const ms = Number(BigInt(`0x${idHex.slice(PREFIX_HEX.length, PREFIX_HEX.length + 16)}`));
  return Number.isSafeInteger(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** The version a listed key is of its family (1 for a plain label), with the family's name. */
export function versionOf(k: Pick<KeyInfo, "name">): { name: string; version: number } {
  return parseVersionLabel(k.name) ?? { name: k.name, version: 1 };
}

/** The single token key behind a listed key (by CKA_ID, else by label). */
function keyOf(hsm: Hsm, info: KeyInfo): HsmKey | undefined {
  return info.id !== "" ? hsm.findKeyById(info.id) : hsm.findKey(info.name);
}

/** Every AES-256 version of family `name` on the token, lowest version first. */
export function familyOf(hsm: Hsm, name: string, token: TokenFacts, all: KeyInfo[] = hsm.listKeys()): VersionRow[] {
  const rows: VersionRow[] = [];
  const byLabel = new Map<string, KeyInfo[]>();
  for (const k of all) {
    if (k.type !== "AES-256") continue;
    const v = versionOf(k);
    if (v.name !== name) continue;
    byLabel.set(k.name, [...(byLabel.get(k.name) ?? []), k]);
  }
  const rotated = byLabel.size > 1 || (byLabel.size === 1 && !byLabel.has(name));
  for (const [label, infos] of byLabel) {
    if (infos.length > 1)
      throw new CiopError("ERR_KEY_EXISTS", `token '${token.label}' holds ${infos.length} AES-256 keys labelled '${label}'; remove the duplicates first`);
    const info = infos[0]!;
    const key = keyOf(hsm, info);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `key '${label}' vanished from token '${token.label}'`);
    const state = versionState(info, readUsage(hsm, key), rotated);
    rows.push({ version: versionOf(info).version, label, info, enabled: state.enabled, usage: state.usage, createdAt: createdAtOf(info.id) });
  }
  return rows.sort((a, b) => a.version - b.version);
}

/**
 * The proxy's view of one version: in a rotated family a version with neither usage is disabled
 * whoever made it; a single key keeps the older rule (usage.ts).
 */
export function versionState(info: Pick<KeyInfo, "createdByCiop">, u: Usage, rotated: boolean): { enabled: boolean; usage: UsageName } {
  if (!rotated) return proxyState(info, u);
  const on = u.encrypt || u.decrypt;
  return { enabled: on, usage: on ? usageName(u) : "none" };
}

/** The version Encrypt uses: the highest enabled one (undefined: every version is disabled). */
export function currentOf(rows: readonly VersionRow[]): number | undefined {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.enabled) return rows[i]!.version;
  return undefined;
}

/** `--version N` as a whole number in 1..MAX_KEY_VERSION. */
export function parseVersionOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]{0,4}$/.test(v) || Number(v) > MAX_KEY_VERSION)
    throw usageError(`--version must be a whole number from 1 to ${MAX_KEY_VERSION} (got '${v.slice(0, 20)}')`);
  return Number(v);
}

function storesOf(config: AdminConfig | undefined, name: string): string[] {
  return (config?.stores ?? []).filter((s) => s.keys.includes(name)).map((s) => s.name);
}

function rowJson(r: VersionRow, current: number | undefined): Record<string, unknown> {
  return {
    version: r.version,
    label: r.label,
    enabled: r.enabled,
    usage: r.usage,
    current: r.version === current,
    createdAt: r.createdAt ?? null,
    createdByCiop: r.info.createdByCiop,
    id: r.info.id,
  };
}

function versionTable(rows: readonly VersionRow[], current: number | undefined): string {
  const cells = [["VERSION", "LABEL", "STATE", "USAGE", "CURRENT", "CREATED", "ID"]];
  for (const r of rows) {
    cells.push([
      String(r.version),
      r.label,
      r.enabled ? "enabled" : "disabled",
      r.usage,
      r.version === current ? "yes" : "-",
      r.createdAt ?? "-",
      r.info.id || "-",
    ]);
  }
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return `${cells.map((c) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join("  ")).join("\n")}\n`;
}

/** `keys show <name>`: the family's versions, which is current, and the stores allowing it. */
export function showFamily(hsm: Hsm, name: string, config: AdminConfig | undefined, io: AdminIo, json: boolean, token: TokenFacts): number {
  const rows = familyOf(hsm, name, token);
  if (rows.length === 0)
    throw new CiopError("ERR_KEY_NOT_FOUND", `no AES-256 key '${name}' (or version of it) on token '${token.label}' ('xks-proxy keys list' shows the keys)`);
  const current = currentOf(rows);
  const stores = storesOf(config, name);
  if (json) {
    io.out(
      `${JSON.stringify({ command: "keys show", token, key: { name, keySpec: "AES_256", enabled: current !== undefined, currentVersion: current ?? null, stores, versions: rows.map((r) => rowJson(r, current)) } })}\n`,
    );
    return 0;
  }
  io.out(
    `External key '${name}' on token '${token.label}': ${current === undefined ? "DISABLED (every version is disabled)" : `current version ${current}`}; ` +
      `stores ${stores.join(",") || "-"}\n${versionTable(rows, current)}`,
  );
  return 0;
}

/**
 * `keys rotate <name>`: generates the next version (AES-256, sensitive, never extractable, the
 * usage of the family's first version) and so makes it current on every instance within the
 * key-state TTL. Two rotations at once get distinct numbers (the label is created under a lock
 * and refused when taken; the next number is tried).
 */
export async function rotateFamily(hsm: Hsm, name: string, io: AdminIo, json: boolean, token: TokenFacts): Promise<number> {
  let rows = familyOf(hsm, name, token);
  if (rows.length === 0)
    throw new CiopError("ERR_KEY_NOT_FOUND", `no AES-256 key '${name}' on token '${token.label}' to rotate ('xks-proxy keys create ${name}' makes one)`);
  const first = rows[0]!;
  // the first version's usage; a disabled first version (usage "none") lends none: the current one's, else both
  const model = first.usage !== "none" ? first.usage : (rows.find((r) => r.version === currentOf(rows))?.usage ?? "encrypt-decrypt");
  const usage = model === "none" ? "encrypt-decrypt" : model;
  let key: HsmKey | undefined;
  let version = 0;
  for (let attempt = 0; attempt < 3 && !key; attempt++) {
    version = rows[rows.length - 1]!.version + 1;
    if (version > MAX_KEY_VERSION)
      throw new CiopError("ERR_USAGE", `key '${name}' has reached version ${MAX_KEY_VERSION}, the highest the ciphertext metadata carries`);
    try {
      key = await hsm.generateKey(versionLabel(name, version), "AES-256", { extractable: false });
    } catch (err) {
      if (!(CiopError.isInstance(err) && err.code === "ERR_KEY_EXISTS") || attempt === 2) throw err;
      rows = familyOf(hsm, name, token);
    }
  }
  if (usage !== "encrypt-decrypt") writeUsage(hsm, key!, usageFrom(usage));
  rows = familyOf(hsm, name, token);
  const current = currentOf(rows);
  const made = rows.find((r) => r.version === version)!;
  if (json) {
    io.out(`${JSON.stringify({ command: "keys rotate", token, key: { name, version, currentVersion: current ?? null, created: rowJson(made, current) } })}\n`);
  } else {
    io.out(
      `Key '${name}' rotated on token '${token.label}': version ${version} (label '${made.label}', ${usage}, sensitive, never extractable) is current.\n` +
        `Proxies sharing the token encrypt under it within the key-state TTL ([hsm] key_state_ttl_ms); ciphertexts of every\n` +
        `earlier version still decrypt while that version is enabled. The KMS key and its external key id stay the same.\n`,
    );
  }
  return 0;
}

/**
 * `keys delete <name> --version N`: destroys one version, only when it is disabled, after `--yes`
 * or the operator typing its label at a prompt. Its ciphertexts can never be decrypted again.
 */
export async function deleteVersion(hsm: Hsm, name: string, version: number, yes: boolean, io: AdminIo, json: boolean, token: TokenFacts): Promise<number> {
  const rows = familyOf(hsm, name, token);
  const row = rows.find((r) => r.version === version);
  if (!row)
    throw new CiopError(
      "ERR_KEY_NOT_FOUND",
      `key '${name}' has no version ${version} on token '${token.label}' ('xks-proxy keys show ${name}' lists its versions)`,
    );
  if (row.enabled) {
    throw usageError(
      `version ${version} of key '${name}' is enabled: disable it first ('xks-proxy keys disable ${name} --version ${version}'), check nothing still needs it, then delete it`,
    );
  }
  if (!yes) {
    if (!io.prompt) throw usageError(`refusing to delete version ${version} of key '${name}' without confirmation: pass --yes (no terminal to ask on)`);
    const answer = await io.prompt(
      `Delete version ${version} of key '${name}' (label '${row.label}') from token '${token.label}'? Ciphertexts made under it can never be decrypted again. Type the label to confirm: `,
    );
    if (answer.trim() !== row.label) {
      io.err("Not deleted.\n");
      return 1;
    }
  }
  hsm.deleteKey(row.label);
  const left = familyOf(hsm, name, token);
  const current = currentOf(left);
  if (json)
    io.out(
      `${JSON.stringify({ command: "keys delete", token, key: { name, version, label: row.label, deleted: true, currentVersion: current ?? null, versionsLeft: left.map((r) => r.version) } })}\n`,
    );
  else
    io.out(
      `Deleted version ${version} of key '${name}' (label '${row.label}') from token '${token.label}'. ` +
        `${left.length === 0 ? "No version is left: the external key no longer exists." : `Versions left: ${left.map((r) => r.version).join(", ")}.`}\n`,
    );
  return 0;
}
