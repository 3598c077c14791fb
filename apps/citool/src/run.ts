/**
 * Dispatch: `inspect`, `keys` and `salesforce-cache-only` are subcommands; anything else is the
 * seed-compatible export. Returns the exit status; every error becomes one line on stderr (and a
 * JSON document with --json).
 *
 * Each command's module is imported when that command runs (`await import`), and the provider
 * packages only as far as the command needs them (see providers.ts): a cold export loads what an
 * export needs and nothing else (bench/citool measures it).
 */
import { CiopError } from "@ciop/core";
import { flag, parseCommandLine, type ParsedArgs } from "./args.js";
import { exitCodeFor } from "./errors.js";
import { INSPECT_HELP, KEYS_HELP, mainHelp } from "./help.js";
import type { Io } from "./io.js";
import { formatError, makeStyle, printJson } from "./output.js";
import { loadProviders, providerNames } from "./providers.js";

declare const __CITOOL_VERSION__: string;
export const VERSION = typeof __CITOOL_VERSION__ === "string" ? __CITOOL_VERSION__ : "0.0.0-dev";

/** The main help lists the providers, so every provider package is loaded for it. */
async function mainHelpText(): Promise<string> {
  await loadProviders();
  return mainHelp(providerNames());
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  // The subcommand is found by its own argument rules, which only an argv holding the word can meet.
  if (argv.includes("salesforce-cache-only")) {
    const { runSalesforceCacheOnly, salesforceCacheOnlyIndex } = await import("./commands/salesforce-cache-only.js");
    const sfco = salesforceCacheOnlyIndex(argv);
    if (sfco >= 0) return runSalesforceCacheOnly([...argv.slice(0, sfco), ...argv.slice(sfco + 1)], io);
  }
  let args: ParsedArgs | undefined;
  try {
    args = parseCommandLine(argv);
    const first = args.positionals[0];
    if (flag(args, "version")) {
      io.out(`citool ${VERSION} (ciop)\n`);
      return 0;
    }
    if (first === "help") {
      const topic = args.positionals[1];
      io.out(topic === "inspect" ? INSPECT_HELP : topic === "keys" ? KEYS_HELP : await mainHelpText());
      return 0;
    }
    if (first === "inspect") {
      if (flag(args, "help")) {
        io.out(INSPECT_HELP);
        return 0;
      }
      const [{ runInspect }] = await Promise.all([import("./commands/inspect.js"), loadProviders()]);
      return await runInspect(args, io);
    }
    if (first === "keys") {
      if (flag(args, "help")) {
        io.out(KEYS_HELP);
        return 0;
      }
      const { runKeys } = await import("./commands/keys.js");
      return await runKeys(args, io);
    }
    if (flag(args, "help") || argv.length === 0) {
      if (argv.length === 0) {
        io.err(await mainHelpText());
        return 2;
      }
      io.out(await mainHelpText());
      return 0;
    }
    // the export loads the package of the provider it names (all of them for an unknown name)
    const [{ runExport }] = await Promise.all([import("./commands/export.js"), first === undefined ? undefined : loadProviders(first)]);
    return await runExport(args, io);
  } catch (err) {
    const debug = args ? flag(args, "debug") : argv.includes("--debug");
    const code = exitCodeFor(err);
    const s = makeStyle(io, io.stderrIsTTY);
    io.err(`${s.red(formatError(err, debug))}\n`);
    if (args && flag(args, "json")) {
      printJson(io, {
        error: {
          code: CiopError.isInstance(err) ? err.code : "ERR_INTERNAL",
          message: err instanceof Error ? err.message : String(err),
          exitCode: code,
        },
      });
    }
    return code;
  }
}
