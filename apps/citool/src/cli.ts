/**
 * citool entry point: wires process argv/stdio/exit to run(). Nothing else lives here, and nothing
 * is done or loaded at import time that a command may not need (readline only for a prompt; the
 * terminal checks use isatty rather than building process.stdin).
 */
import { isatty } from "node:tty";
import type { Io } from "./io.js";
import { run } from "./run.js";

async function prompt(question: string, options?: { hidden?: boolean }): Promise<string> {
  const [{ createInterface }, { Writable }] = await Promise.all([import("node:readline"), import("node:stream")]);
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _enc, cb) {
        if (!muted) process.stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
    rl.on("SIGINT", () => {
      rl.close();
      process.stderr.write("\n");
      reject(Object.assign(new Error("cancelled"), { code: "ERR_PIN_MISSING" }));
    });
    rl.question(question, (answer) => {
      rl.close();
      if (options?.hidden) process.stderr.write("\n");
      resolve(answer);
    });
    muted = options?.hidden === true;
  });
}

const io: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stdinIsTTY: isatty(0),
  stderrIsTTY: isatty(2),
  prompt,
};

run(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`citool: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
