/**
 * xks-proxy: `xks-proxy [serve] [--config FILE]` runs the AWS KMS External Key Store proxy;
 * `xks-proxy keys|credential|store-json|salesforce|azure-ekm|admin ...` are the admin commands.
 * Exit codes (exit-code.ts): 0 ok, 2 usage error or invalid configuration, 1 runtime failure.
 */
import { isatty } from "node:tty";
import { ADMIN_COMMANDS, runAdmin } from "./admin/index.js";
import { isClusterWorker, runPrimary, startWorker } from "./cluster.js";
import { EXIT_USAGE, exitCodeFor } from "./exit-code.js";
import { loadConfig } from "./proxy-config.js";
import { startServer } from "./server.js";

const USAGE = `usage: xks-proxy [serve] [--config FILE]
       xks-proxy keys|credential|store-json|salesforce|azure-ekm ... (admin commands; --help for each)

serve     run the proxy (default). The configuration comes from --config, else
          XKS_PROXY_CONFIG, else XKS_PROXY_SETTINGS_TOML (an AWS sample proxy
          settings file is read as-is), else ./xks-proxy.toml.
          SIGHUP (or a change to the file) reloads stores, credentials and
          certificates without a restart; SIGINT/SIGTERM stop it.
`;

// HSM calls run on the libuv threadpool (pkcs11js async); give it room beside file and DNS work.
// Takes effect because the pool starts lazily, at its first job.
process.env.UV_THREADPOOL_SIZE ??= "16";

/** One line read from the terminal (confirmations of destructive admin commands). */
async function prompt(question: string): Promise<string> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    rl.on("close", () => resolve(""));
    rl.question(question, (answer) => {
      resolve(answer);
      rl.close();
    });
  });
}

const io = {
  out: (s: string) => void process.stdout.write(s),
  err: (s: string) => void process.stderr.write(s),
  ...(isatty(0) ? { prompt } : {}),
};

async function serve(args: string[]): Promise<number> {
  let configFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--config" || a === "-c") {
      configFile = args[++i];
      if (configFile === undefined) {
        io.err(`xks-proxy: --config needs a file\n${USAGE}`);
        return EXIT_USAGE;
      }
    } else if (a.startsWith("--config=")) {
      configFile = a.slice("--config=".length);
    } else if (a === "--help" || a === "-h") {
      io.out(USAGE);
      return 0;
    } else {
      io.err(`xks-proxy: unknown option '${a}'\n${USAGE}`);
      return EXIT_USAGE;
    }
  }
  const config = await loadConfig(configFile);
  if (config.server.processes > 1 && !isClusterWorker()) return runPrimary(config);
  const worker = isClusterWorker();
  const server = worker ? await startWorker(config) : await startServer(config, { watchConfig: true });
  const stop = (): void => {
    void server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // a worker's reloads come from the primary (which gets SIGHUP and watches the files)
  process.on("SIGHUP", () => {
    if (!worker) void server.reload().catch(() => undefined);
  });
  return new Promise<number>(() => undefined); // runs until a signal
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && (ADMIN_COMMANDS as readonly string[]).includes(cmd)) return runAdmin(argv, io);
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    io.out(USAGE);
    return 0;
  }
  if (cmd === undefined || cmd === "serve") return serve(rest);
  if (cmd.startsWith("-")) return serve(argv);
  io.err(`xks-proxy: unknown command '${cmd}'\n${USAGE}`);
  return EXIT_USAGE;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    io.err(`xks-proxy: ${e.code ? `${e.code}: ` : ""}${e.message ?? String(err)}\n`);
    process.exit(exitCodeFor(err));
  },
);
