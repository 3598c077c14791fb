/**
 * Dispatch: `inspect` and `keys` are subcommands; anything else is the seed-compatible export.
 * Returns the exit status; every error becomes one line on stderr (and a JSON document with --json).
 */
import { CiopError } from "@ciop/core";
import { flag, parseCommandLine, type ParsedArgs } from "./args.js";
import { runExport } from "./commands/export.js";
import { runInspect } from "./commands/inspect.js";
import { runKeys } from "./commands/keys.js";
import { runSalesforceCacheOnly, salesforceCacheOnlyIndex } from "./commands/salesforce-cache-only.js";
import { exitCodeFor } from "./errors.js";
import { INSPECT_HELP, KEYS_HELP, mainHelp } from "./help.js";
import type { Io } from "./io.js";
import { formatError, makeStyle, printJson } from "./output.js";
import { providerNames } from "./providers.js";

declare const __CITOOL_VERSION__: string;
export const VERSION = typeof __CITOOL_VERSION__ === "string" ? __CITOOL_VERSION__ : "0.0.0-dev";

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const sfco = salesforceCacheOnlyIndex(argv);
  if (sfco >= 0) return runSalesforceCacheOnly([...argv.slice(0, sfco), ...argv.slice(sfco + 1)], io);
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
      io.out(topic === "inspect" ? INSPECT_HELP : topic === "keys" ? KEYS_HELP : mainHelp(providerNames()));
      return 0;
    }
    if (first === "inspect") {
      if (flag(args, "help")) { io.out(INSPECT_HELP); return 0; }
      return await runInspect(args, io);
    }
    if (first === "keys") {
      if (flag(args, "help")) { io.out(KEYS_HELP); return 0; }
      return await runKeys(args, io);
    }
    if (flag(args, "help") || argv.length === 0) {
      if (argv.length === 0) {
        io.err(mainHelp(providerNames()));
        return 2;
      }
      io.out(mainHelp(providerNames()));
      return 0;
    }
    return await runExport(args, io);
  } catch (err) {
    const debug = args ? flag(args, "debug") : argv.includes("--debug");
    const code = exitCodeFor(err);
    const s = makeStyle(io, io.stderrIsTTY);
    io.err(s.red(formatError(err, debug)) + "\n");
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
