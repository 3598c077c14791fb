/**
 * `xks-proxy serve` in a process of its own (test/support/run-proxy.cjs), its JSON log lines
 * collected, for the multi-process tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { SUPPORT } from "./proxy-helpers.js";

export type LogRecord = Record<string, unknown>;

export class ProxyProcess {
  readonly lines: LogRecord[] = [];
  readonly child: ChildProcess;

  constructor(configFile: string) {
    this.child = spawn(process.execPath, [path.join(SUPPORT, "run-proxy.cjs"), "serve", "--config", configFile], { stdio: ["ignore", "pipe", "inherit"] });
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogRecord);
      } catch {
        /* not JSON */
      }
    });
  }

  /** Resolves with the log lines matching `pred` once there are `count` of them (45 s at most). */
  waitFor(pred: (r: LogRecord) => boolean, count = 1): Promise<LogRecord[]> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("timed out waiting for the proxy's log")), 45_000);
      const check = (): void => {
        const hits = this.lines.filter(pred);
        if (hits.length >= count) {
          clearTimeout(t);
          clearInterval(iv);
          resolve(hits);
        }
      };
      const iv = setInterval(check, 50);
      check();
    });
  }

  /** SIGTERM, and wait for the exit (nothing when it has exited already). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}
