/**
 * Command-line parsing with node:util parseArgs. One option table for every command; each command
 * lists the options it accepts, so a misplaced option is reported instead of silently ignored.
 */
import { parseArgs } from "node:util";
import { usageError } from "./errors.js";

export const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  // seed-compatible options
  module: { type: "string", short: "m" },
  ocs: { type: "string", short: "O" },
  softcard: { type: "string", short: "S" },
  "module-protection": { type: "boolean", short: "M" },
  "azure-kek": { type: "string", short: "a" },
  "key-type": { type: "string", short: "k" },
  // per-provider inputs beyond the seed
  "ibm-nonce": { type: "string" },
  // beyond the seed
  "hsm-lib": { type: "string" },
  "hsm-params": { type: "string" },
  token: { type: "string" },
  "pin-file": { type: "string" },
  "data-dir": { type: "string" },
  "out-dir": { type: "string" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  "allow-weak-wrapping-key": { type: "boolean" },
  "allow-invalid-certificate": { type: "boolean" },
  "allow-legacy": { type: "boolean" },
  "allow-host-fallback": { type: "boolean" },
  "audit-log": { type: "string" },
  config: { type: "string" },
  debug: { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  all: { type: "boolean" },
  // AWS key-material versions
  "new-key-material": { type: "boolean" },
  "key-material-description": { type: "string" },
  "key-material-version": { type: "string" },
  "aws-key-material-id": { type: "string" },
} as const;

export type OptionName = keyof typeof OPTIONS;

export interface ParsedArgs {
  values: Partial<Record<OptionName, string | boolean>>;
  positionals: string[];
  /** Options as the user spelled them, in order (for "does not apply" messages). */
  given: Array<{ name: OptionName; spelled: string }>;
}

const HSM_OPTIONS: OptionName[] = [
  "module",
  "ocs",
  "softcard",
  "module-protection",
  "hsm-lib",
  "hsm-params",
  "token",
  "pin-file",
  "data-dir",
  "allow-host-fallback",
];
const COMMON: OptionName[] = ["help", "version", "config", "debug", "json"];

/** Which options each command accepts. */
export const COMMAND_OPTIONS: Record<"export" | "inspect" | "keys", ReadonlySet<OptionName>> = {
  export: new Set<OptionName>([
    ...COMMON,
    ...HSM_OPTIONS,
    "azure-kek",
    "ibm-nonce",
    "key-type",
    "out-dir",
    "force",
    "allow-weak-wrapping-key",
    "allow-invalid-certificate",
    "allow-legacy",
    "audit-log",
    "new-key-material",
    "key-material-description",
    "key-material-version",
  ]),
  inspect: new Set<OptionName>([...COMMON, "allow-weak-wrapping-key", "allow-invalid-certificate", "allow-legacy", "azure-kek"]),
  keys: new Set<OptionName>([...COMMON, ...HSM_OPTIONS, "audit-log", "yes", "all", "aws-key-material-id", "force"]),
};

/** Human spelling of an option, e.g. "-m/--module". */
export function spell(name: OptionName): string {
  const def = OPTIONS[name] as { short?: string };
  return def.short ? `-${def.short}/--${name}` : `--${name}`;
}

/** node's parseArgs over citool's options; its errors become usage errors. */
function parseOptions(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw translateParseError(err, argv);
  }
}

export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  const parsed = parseOptions(argv);
  const given: ParsedArgs["given"] = [];
  for (const t of parsed.tokens ?? []) {
    if (t.kind === "option") given.push({ name: t.name as OptionName, spelled: t.rawName });
  }
  // A value option given twice is almost always a mistake (parseArgs keeps the last one silently).
  const seen = new Map<OptionName, string>();
  for (const g of given) {
    const def = OPTIONS[g.name] as { type: string };
    if (def.type === "string" && seen.has(g.name)) {
      throw usageError(`option ${spell(g.name)} was given more than once; give it once`);
    }
    seen.set(g.name, g.spelled);
  }
  return { values: parsed.values as ParsedArgs["values"], positionals: parsed.positionals, given };
}

function translateParseError(err: unknown, argv: readonly string[]): Error {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const m = /Unknown option '([^']+)'/.exec(msg);
    const opt = m?.[1] ?? "?";
    return usageError(`unknown option ${opt} (run citool --help for the options)`, { option: opt });
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const m = /Option '([^']+)'/.exec(msg);
    const what = m?.[1] ?? "an option";
    if (/argument missing/.test(msg)) return usageError(`option ${what} needs a value`);
    return usageError(`option ${what.replace(/ <value>$/, "")} does not take a value`);
  }
  if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return usageError(`unexpected argument in ${argv.join(" ")}`);
  }
  return usageError(msg);
}

/** Refuses options that make no sense for `command`. */
export function checkOptionsApply(args: ParsedArgs, command: keyof typeof COMMAND_OPTIONS, label: string): void {
  const allowed = COMMAND_OPTIONS[command];
  for (const g of args.given) {
    if (!allowed.has(g.name)) throw usageError(`option ${g.spelled} does not apply to ${label}`);
  }
}

export function str(args: ParsedArgs, name: OptionName): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

export function flag(args: ParsedArgs, name: OptionName): boolean {
  return args.values[name] === true;
}
