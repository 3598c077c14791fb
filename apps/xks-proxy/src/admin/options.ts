/**
 * Option parsing for the admin commands: node:util parseArgs in strict mode, one table per command,
 * so a misplaced or misspelled option is a usage error (exit 2) instead of being ignored.
 */
import { parseArgs } from "node:util";
import { CiopError } from "@ciop/core";

type OptionSpec = { type: "string" | "boolean"; short?: string };

/** Options every HSM-touching command accepts. */
export const HSM_OPTIONS = {
  config: { type: "string" },
  "hsm-lib": { type: "string" },
  "hsm-params": { type: "string" },
  token: { type: "string" },
  "pin-file": { type: "string" },
} as const satisfies Record<string, OptionSpec>;

export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const satisfies Record<string, OptionSpec>;

export interface Parsed<T extends Record<string, OptionSpec>> {
  values: { [K in keyof T]?: T[K]["type"] extends "string" ? string : boolean };
  positionals: string[];
}

export function usageError(message: string): CiopError {
  return new CiopError("ERR_USAGE", message);
}

/** Parses argv against `spec`; unknown options and missing option values become ERR_USAGE. */
export function parse<T extends Record<string, OptionSpec>>(argv: string[], spec: T, command: string): Parsed<T> {
  try {
    const r = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return r as unknown as Parsed<T>;
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw usageError(`${command}: ${msg}`);
  }
}

/** Exactly `names.length` positionals, named in the message when missing or extra. */
export function positionals(p: string[], names: string[], usage: string): string[] {
  if (p.length < names.length)
    throw usageError(
      `missing ${names
        .slice(p.length)
        .map((n) => `<${n}>`)
        .join(" ")} (usage: ${usage})`,
    );
  if (p.length > names.length) throw usageError(`unexpected argument '${p[names.length]}' (usage: ${usage})`);
  return p;
}

/** What {@link parseGroupCommand} found: help to print (with its exit status), or one command to run. */
export type GroupCommand<T extends Record<string, OptionSpec>> =
  | { help: 0 | 2 }
  | { help?: undefined; cmd: string; args: string[]; values: Parsed<T>["values"] };

/**
 * argv of a command group (`xks-proxy <group> keys <verb> ... | <group> <command> ...`) against
 * `spec`: help when asked (exit 0) or when no command is given (exit 2), else the command ("keys
 * create", "show-setup"), its positionals, and its options, each of which must be listed for that
 * command in `allowed` or be --help or an HSM option.
 */
export function parseGroupCommand<T extends Record<string, OptionSpec>>(
  argv: string[],
  spec: T,
  group: string,
  allowed: Record<string, ReadonlyArray<keyof T>>,
): GroupCommand<T> {
  const { values, positionals: pos } = parse(argv, spec, group);
  if (values.help || pos.length === 0 || pos[0] === "help") return { help: values.help || pos[0] === "help" ? 0 : 2 };
  const cmd = pos[0] === "keys" ? `keys ${pos[1] ?? ""}`.trim() : pos[0]!;
  const args = pos[0] === "keys" ? pos.slice(2) : pos.slice(1);
  const ok = allowed[cmd];
  if (!ok) throw usageError(`unknown command '${group} ${cmd}' (run xks-proxy ${group} --help)`);
  for (const k of Object.keys(values)) {
    if (!ok.includes(k) && k !== "help" && !(k in HSM_OPTIONS)) throw usageError(`option --${k} does not apply to '${group} ${cmd}'`);
  }
  return { cmd, args, values };
}
