/**
 * citool entry point: wires process argv/stdio/exit to run(). Nothing else lives here.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import type { Io } from "./io.js";
import { run } from "./run.js";

function prompt(question: string, options?: { hidden?: boolean }): Promise<string> {
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
  stdinIsTTY: process.stdin.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
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
