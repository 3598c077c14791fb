/**
 * Admin commands of xks-proxy: keys, credential, store-json, salesforce, azure-ekm (and `admin <command>`).
 * main.ts calls {@link runAdmin} when argv[0] is one of {@link ADMIN_COMMANDS}.
 */
import { CiopError } from "@ciop/core";
import { EXIT_USAGE, exitCodeFor } from "../exit-code.js";
import { runAzureEkmAdmin } from "../azure-ekm/admin.js";
import { runSalesforceAdmin } from "../salesforce/admin.js";
import { runCredential } from "./credential.js";
import { ADMIN_HELP, CREDENTIAL_HELP, KEYS_HELP, STORE_JSON_HELP } from "./help.js";
import type { AdminIo } from "./io.js";
import { runKeys } from "./keys.js";
import { runStoreJson } from "./store-json.js";

export type { AdminIo } from "./io.js";

export const ADMIN_COMMANDS = ["keys", "credential", "store-json", "salesforce", "azure-ekm", "admin"] as const;

/** One line, no stack, never anything but the error's own (secret-free) message. */
function describe(err: unknown): string {
  if (CiopError.isInstance(err)) return `${err.message} [${err.code}]`;
  if (err instanceof Error && "errorName" in err) return `${err.message} [${String((err as { errorName: unknown }).errorName)}]`;
  return err instanceof Error ? err.message : String(err);
}

export async function runAdmin(argv: string[], io: AdminIo): Promise<number> {
  let args = argv;
  if (args[0] === "admin") {
    args = args.slice(1);
    if (args.length === 0 || args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
      if (args[0] === "help" && args[1] !== undefined) return runAdmin(["help", ...args.slice(1)], io);
      io.out(ADMIN_HELP);
      return args.length === 0 ? EXIT_USAGE : 0;
    }
  }
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case "keys":
        return await runKeys(rest, io);
      case "credential":
        return await runCredential(rest, io);
      case "store-json":
        return await runStoreJson(rest, io);
      case "salesforce":
        return await runSalesforceAdmin(rest, io);
      case "azure-ekm":
        return await runAzureEkmAdmin(rest, io);
      case "help": {
        const topic = rest[0];
        const text =
          topic === "keys"
            ? KEYS_HELP
            : topic === "credential"
              ? CREDENTIAL_HELP
              : topic === "store-json"
                ? STORE_JSON_HELP
                : topic === undefined
                  ? ADMIN_HELP
                  : undefined;
        if (topic === "salesforce") return await runSalesforceAdmin(["--help"], io);
        if (topic === "azure-ekm") return await runAzureEkmAdmin(["--help"], io);
        if (text === undefined) {
          io.err(`xks-proxy: no help for '${topic}'\n`);
          return EXIT_USAGE;
        }
        io.out(text);
        return 0;
      }
      default:
        io.err(`xks-proxy: unknown admin command '${cmd ?? ""}'\n\n${ADMIN_HELP}`);
        return EXIT_USAGE;
    }
  } catch (err) {
    const code = exitCodeFor(err);
    io.err(`xks-proxy ${cmd}: ${describe(err)}\n`);
    if (code === EXIT_USAGE) io.err(`Run 'xks-proxy ${cmd} --help' for usage.\n`);
    return code;
  }
}
