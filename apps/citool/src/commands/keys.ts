/**
 * `citool keys list|show|delete|enable|disable|annotate`: the keys ciop created on the selected
 * token. `show` lists a key's AWS key-material versions, `annotate` records the KeyMaterialId AWS
 * gave a version (key-versions.ts).
 */
import { CiopError } from "@ciop/core";
import type { KeyInfo } from "@ciop/hsm";
import { checkOptionsApply, flag, str, type ParsedArgs } from "../args.js";
import { audit } from "../audit.js";
import { loadSettings } from "../config.js";
import { usageError } from "../errors.js";
import { checkPinFile, openHsm, tokenFacts } from "../hsm-session.js";
import type { Io } from "../io.js";
import { printJson, printWarning } from "../output.js";
import { checkAuditLogWritable } from "./export-files.js";
import { annotateVersion, familyOf, parseVersionNumber, versionJson, versionTable } from "./key-versions.js";

const SUBCOMMANDS = ["list", "show", "delete", "enable", "disable", "annotate"] as const;
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
  const [, sub, name, ...more] = args.positionals;
  if (sub === undefined) throw usageError(`missing subcommand: citool keys ${SUBCOMMANDS.join("|")}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError(`unknown subcommand 'keys ${sub}'; accepted: ${SUBCOMMANDS.join(", ")}`);
  const s = sub as Sub;
  // annotate takes a version after the name
  const versionArg = s === "annotate" ? more[0] : undefined;
  const rest = s === "annotate" ? more.slice(1) : more;
  if (s === "list") {
    if (name !== undefined) throw usageError(`too many arguments: ${[name, ...rest].join(" ")} (usage: citool keys list [--all])`);
  } else if (s === "annotate") {
    const usage = "usage: citool keys annotate <keyName> <version> --aws-key-material-id <id>";
    if (name === undefined || versionArg === undefined) throw usageError(`missing argument: ${name === undefined ? "keyName" : "version"} (${usage})`);
    if (rest.length) throw usageError(`too many arguments: ${rest.join(" ")} (${usage})`);
    if (str(args, "aws-key-material-id") === undefined)
      throw usageError(`citool keys annotate needs --aws-key-material-id <id>, the KeyMaterialId AWS printed (${usage})`);
  } else {
    if (name === undefined) throw usageError(`missing argument: keyName (usage: citool keys ${s} <keyName>)`);
    if (rest.length) throw usageError(`too many arguments: ${rest.join(" ")} (usage: citool keys ${s} <keyName>)`);
  }
  if (flag(args, "yes") && s !== "delete") throw usageError("option --yes applies only to citool keys delete");
  if (flag(args, "all") && s !== "list") throw usageError("option --all applies only to citool keys list");
  if (str(args, "aws-key-material-id") !== undefined && s !== "annotate") throw usageError("option --aws-key-material-id applies only to citool keys annotate");
  if (flag(args, "force") && s !== "annotate") throw usageError("option --force applies only to citool keys annotate (to replace a recorded KeyMaterialId)");
  const version = versionArg === undefined ? undefined : parseVersionNumber(versionArg, "the version");
  const materialId = str(args, "aws-key-material-id");
  if (materialId !== undefined) (await import("@ciop/providers-aws")).checkKeyMaterialId(materialId);
  const settings = loadSettings(args, io);
  const json = flag(args, "json");
  if (s === "delete" || s === "enable" || s === "disable" || s === "annotate") checkAuditLogWritable(settings);
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
    if (s === "annotate") {
      const base = { key: name!, version: version!, kmsMaterialId: materialId!, token: tokenFacts(hsm) };
      let done: Awaited<ReturnType<typeof annotateVersion>>;
      try {
        done = await annotateVersion(hsm, name!, version!, materialId!, flag(args, "force"));
      } catch (err) {
        audit(settings, io, { operation: "annotate", ...base, outcome: "error", error: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL" });
        throw err;
      }
      const ok = done.changed
        ? audit(settings, io, { operation: "annotate", ...base, label: done.row.label, ...(done.previous ? { replaced: done.previous } : {}), outcome: "ok" })
        : true;
      if (json) {
        printJson(io, {
          command: "keys annotate",
          key: name,
          version: version,
          label: done.row.label,
          awsKeyMaterialId: materialId,
          changed: done.changed,
          ...(done.previous && done.changed ? { replaced: done.previous } : {}),
          auditLog: settings.auditLog,
        });
      } else {
        io.out(
          done.changed
            ? `Recorded KeyMaterialId ${materialId} for version ${version} of key '${name}' ('${done.row.label}')${done.previous ? ` (was ${done.previous})` : ""}.\n`
            : `Version ${version} of key '${name}' already has KeyMaterialId ${materialId}; nothing changed.\n`,
        );
      }
      return ok ? 0 : 1;
    }
    const matches = all.filter((k) => k.name === name);
    const ciop = matches.filter((k) => k.createdByCiop);
    if (matches.length === 0)
      throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${tokenFacts(hsm).label}' (citool keys list shows the keys ciop created)`);
    if (ciop.length === 0)
      throw new CiopError("ERR_KEY_NOT_CIOP", `key '${name}' on token '${tokenFacts(hsm).label}' was not created by ciop; citool only manages its own keys`);
    const key = ciop[0]!;
    if (s === "show") {
      const versions = await familyOf(hsm, key.name, all);
      const hasVersions = versions.length > 1 || versions.some((v) => v.record !== undefined);
      const warnings = versions.flatMap((v) => v.warnings);
      if (json) printJson(io, { command: "keys show", token: tokenFacts(hsm), key: { ...keyJson(key), versions: versions.map(versionJson) }, warnings });
      else {
        for (const w of warnings) printWarning(io, w);
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
        if (hasVersions) io.out(`\nAWS key-material versions:\n${table(versionTable(versions))}`);
      }
      return 0;
    }
    if (s === "delete") {
      // Version 1 of a family with later versions: deleting it would let a later export create a new
      // '<name>' that the old '<name>~vN' keys would then be taken as versions of.
      const { parseKeyVersionLabel } = await import("@ciop/hsm");
      if (parseKeyVersionLabel(key.name) === undefined) {
        const later = all
          .filter((k) => k.createdByCiop && k.type === key.type && parseKeyVersionLabel(k.name)?.name === key.name)
          .map((k) => k.name)
          .sort();
        if (later.length > 0)
          throw usageError(
            `key '${name}' is version 1 of a key that has later versions (${later.join(", ")}); delete those first (citool keys delete ${later[later.length - 1]}), so that a new '${name}' can never be taken for their version 1`,
          );
      }
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
      if (s === "delete") {
        await hsm.deleteKey(name!);
        // the key's version record (key-material versions) goes with it
        try {
          await hsm.deleteKeyVersionRecords(name!);
        } catch (err) {
          io.err(`warning: key '${name}' was deleted but its version record could not be: ${(err as Error).message}\n`);
        }
      } else await hsm.setKeyEnabled(name!, s === "enable");
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
