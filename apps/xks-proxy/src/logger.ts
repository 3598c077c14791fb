/** One-line JSON logs. Callers never pass plaintext, AAD, keys, PINs or secrets. */
import { createWriteStream, type WriteStream } from "node:fs";
import type { LoggingConfig } from "./config/index.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export class Logger {
  private stream: WriteStream | undefined;
  private level: LogLevel;

  constructor(
    cfg: LoggingConfig,
    private readonly sink?: (line: string) => void,
  ) {
    this.level = cfg.level;
    if (!sink && cfg.file !== undefined) {
      const file = cfg.file;
      const stream = createWriteStream(file, { flags: "a", mode: 0o640 });
      // An unwritable log file must not take the proxy down: fall back to stdout and say so once.
      stream.on("error", (err) => {
        if (this.stream !== stream) return;
        this.stream = undefined;
        this.log("error", { msg: "log-file-unwritable", file, error: err.message.slice(0, 200) });
      });
      this.stream = stream;
    }
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }

  log(level: LogLevel, record: Record<string, unknown>): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, ...record });
    if (this.sink) this.sink(line);
    else if (this.stream) this.stream.write(line + "\n");
    else process.stdout.write(line + "\n");
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }
}
