/**
 * `citool keys list|show|delete|enable|disable`: the keys ciop created on the selected token.
 */
import { CiopError } from "@ciop/core";
import type { KeyInfo } from "@ciop/hsm";
import { checkOptionsApply, flag, type ParsedArgs } from "../args.js";
import { audit } from "../audit.js";
import { loadSettings } from "../config.js";
import { usageError } from "../errors.js";
import { checkPinFile, openHsm, tokenFacts } from "../hsm-session.js";
import type { Io } from "../io.js";
import { printJson } from "../output.js";
import { checkAuditLogWritable } from "./export-files.js";

const SUBCOMMANDS = ["list", "show", "delete", "enable", "disable"] as const;
type Sub = (typeof SUBCOMMANDS)[number];

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n")}\n`;
}

function keyJson(k: KeyInfo): Record<string, unknown> {
  return { name: k.name, type: k.type, id: k.id, createdByCiop: k.createdByCiop, enabled: k.enabled, extractable: k.extractable, sensitive: k.sensitive };
}

export async function runKeys(args: ParsedArgs, io: Io): Promise<number> {
  checkOptionsApply(args, "keys", "citool keys");
  const [, sub, name, ...rest] = args.positionals;
  if (sub === undefined) throw usageError(`missing subcommand: citool keys ${SUBCOMMANDS.join("|")}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError(`unknown subcommand 'keys ${sub}'; accepted: ${SUBCOMMANDS.join(", ")}`);
  const s = sub as Sub;
  if (s === "list") {
    if (name !== undefined) throw usageError(`too many arguments: ${[name, ...rest].join(" ")} (usage: citool keys list [--all])`);
  } else {
    if (name === undefined) throw usageError(`missing argument: keyName (usage: citool keys ${s} <keyName>)`);
    if (rest.length) throw usageError(`too many arguments: ${rest.join(" ")} (usage: citool keys ${s} <keyName>)`);
  }
  if (flag(args, "yes") && s !== "delete") throw usageError("option --yes applies only to citool keys delete");
  if (flag(args, "all") && s !== "list") throw usageError("option --all applies only to citool keys list");
  const settings = loadSettings(args, io);
  const json = flag(args, "json");
  if (s === "delete" || s === "enable" || s === "disable") checkAuditLogWritable(settings);
  checkPinFile(settings);

  if (s === "delete" && !flag(args, "yes")) {
    if (!io.stdinIsTTY) throw usageError(`refusing to delete key '${name}' without confirmation: pass --yes (no terminal to ask on)`);
  }

  const hsm = await openHsm(settings, io);
  try {
    const all = await hsm.listKeys();
    if (s === "list") {
      const keys = flag(args, "all") ? all : all.filter((k) => k.createdByCiop);
      if (json) {
        printJson(io, { command: "keys list", token: tokenFacts(hsm), keys: keys.map(keyJson) });
      } else if (keys.length === 0) {
        io.out(`No ${flag(args, "all") ? "" : "ciop-created "}keys on token '${tokenFacts(hsm).label}'.\n`);
      } else {
        const rows = [["NAME", "TYPE", "STATE", "CREATED BY", "ID"]];
        for (const k of keys) rows.push([k.name, k.type, k.enabled ? "enabled" : "disabled", k.createdByCiop ? "ciop" : "other", k.id]);
        io.out(table(rows));
      }
      return 0;
    }
    const matches = all.filter((k) => k.name === name);
    const ciop = matches.filter((k) => k.createdByCiop);
    if (matches.length === 0)
      throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${tokenFacts(hsm).label}' (citool keys list shows the keys ciop created)`);
    if (ciop.length === 0)
      throw new CiopError("ERR_KEY_NOT_CIOP", `key '${name}' on token '${tokenFacts(hsm).label}' was not created by ciop; citool only manages its own keys`);
    const key = ciop[0]!;
    if (s === "show") {
      if (json) printJson(io, { command: "keys show", token: tokenFacts(hsm), key: keyJson(key) });
      else {
        io.out(
          table([
            ["name", key.name],
            ["type", key.type],
            ["state", key.enabled ? "enabled" : "disabled"],
            ["id", key.id],
            ["created by", "ciop"],
            ["extractable", String(key.extractable)],
            ["sensitive", String(key.sensitive)],
            ["token", `${tokenFacts(hsm).label} (serial ${tokenFacts(hsm).serial})`],
          ]),
        );
      }
      return 0;
    }
    if (s === "delete" && !flag(args, "yes")) {
      const answer = await io.prompt(
        `Delete ${key.type} key '${name}' from token '${tokenFacts(hsm).label}'? This cannot be undone; a cloud copy stays. Type the key name to confirm: `,
      );
      if (answer.trim() !== name) {
        io.err("Not deleted.\n");
        return 1;
      }
    }
    const base = { key: name, keyType: key.type, token: tokenFacts(hsm) };
    try {
      if (s === "delete") await hsm.deleteKey(name!);
      else await hsm.setKeyEnabled(name!, s === "enable");
    } catch (err) {
      audit(settings, io, { operation: s, ...base, outcome: "error", error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL" });
      throw err;
    }
    const ok = audit(settings, io, { operation: s, ...base, outcome: "ok" });
    const done = s === "delete" ? "deleted" : s === "enable" ? "enabled" : "disabled";
    if (json)
      printJson(io, {
        command: `keys ${s}`,
        key: { ...keyJson(key), ...(s === "delete" ? { deleted: true } : { enabled: s === "enable" }) },
        auditLog: settings.auditLog,
      });
    else io.out(`Key '${name}' ${done}.\n`);
    return ok ? 0 : 1;
  } finally {
    await Promise.resolve(hsm.close()).catch(() => undefined);
  }
}
