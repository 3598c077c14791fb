/**
 * One-line JSON logs. Callers never pass plaintext, AAD, keys, PINs or secrets.
 *
 * Writes respect back-pressure: when stdout or the log file takes lines more slowly than they come
 * (a pipe nobody reads, a full or slow disk), at most LOG_MAX_BUFFERED_CHARS wait in the stream;
 * lines past that are dropped and counted ({@link Logger.droppedLines}), and once the stream has
 * drained, one line says how many were dropped. Memory stays bounded instead of the heap growing
 * with every request.
 */
import { appendFileSync, createWriteStream, type WriteStream } from "node:fs";
import type { LoggingConfig } from "./config/index.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
/** Pending lines are written together at most this long after the first of them... */
export const LOG_FLUSH_MS = 25;
/** ...or as soon as they add up to this many characters. */
export const LOG_FLUSH_CHARS = 64 * 1024;
/** Characters that may wait in the output stream; lines beyond are dropped (and counted). */
export const LOG_MAX_BUFFERED_CHARS = 1024 * 1024;
export type LogLevel = keyof typeof LEVELS;

const PID = process.pid;
let lastMs = 0;
let lastIso = "";
const prefixes: Record<LogLevel, { ms: number; text: string }> = {
  debug: { ms: -1, text: "" },
  info: { ms: -1, text: "" },
  warn: { ms: -1, text: "" },
  error: { ms: -1, text: "" },
};
/**
 * The fixed start of a line at `level` (time, level, pid), rendered once per millisecond and
 * level: many lines share one under load.
 */
function linePrefix(level: LogLevel): string {
  const now = Date.now();
  const p = prefixes[level];
  if (p.ms === now) return p.text;
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  p.ms = now;
  p.text = `{"time":"${lastIso}","level":"${level}","pid":${PID}`;
  return p.text;
}

export class Logger {
  private stream: WriteStream | undefined;
  private level: LogLevel;
  private readonly pending: string[] = [];
  private pendingChars = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string | undefined;
  /** Lines dropped because the output did not keep up (since the start). */
  droppedLines = 0;
  /** Dropped lines not yet reported in the log. */
  private unreported = 0;
  /** The output is over LOG_MAX_BUFFERED_CHARS: lines are dropped until it drains. */
  private blocked = false;
  private readonly maxBuffered: number;

  constructor(
    cfg: LoggingConfig,
    private readonly sink?: (line: string) => void,
    opts: { maxBufferedChars?: number } = {},
  ) {
    this.level = cfg.level;
    this.maxBuffered = opts.maxBufferedChars ?? LOG_MAX_BUFFERED_CHARS;
    // lines of a batch not yet written when the process exits
    if (!sink) process.once("exit", this.flushAtExit);
    if (!sink && cfg.file !== undefined) {
      const file = cfg.file;
      this.file = file;
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
    // the fixed members first, then the record's (records never carry time, level or pid)
    const rest = JSON.stringify(record);
    const line = rest.length > 2 ? `${linePrefix(level)},${rest.slice(1)}` : `${linePrefix(level)}}`;
    if (this.sink) {
      this.sink(line);
      return;
    }
    if (this.blocked) {
      this.droppedLines++;
      this.unreported++;
      return;
    }
    // Lines are written together, LOG_FLUSH_MS after the first or at LOG_FLUSH_CHARS: under load
    // that is one write for hundreds of requests instead of one each (each write of a file stream
    // is a trip through the thread pool). Process exit and close() write what is pending.
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= LOG_FLUSH_CHARS) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(this.flush, LOG_FLUSH_MS).unref();
  }

  /** The pending lines as one text (and none pending any more), or undefined. */
  private take(): string | undefined {
    if (this.pending.length === 0) return undefined;
    const out = `${this.pending.join("\n")}\n`;
    this.pending.length = 0;
    this.pendingChars = 0;
    return out;
  }

  /** Writes the pending lines (`force`: even past the buffer limit, for the last lines at close). */
  private readonly flush = (force = false): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending.length;
    const out = this.take();
    if (out === undefined) return;
    const target: NodeJS.WritableStream & { writableLength: number } = this.stream ?? process.stdout;
    if (!force && target.writableLength + out.length > this.maxBuffered) {
      // the output is not keeping up: these lines go, and so does every line until it drains
      this.droppedLines += lines;
      this.unreported += lines;
      this.block(target);
      return;
    }
    if (!target.write(out) && target.writableLength >= this.maxBuffered) this.block(target);
  };

  /** Drops lines until `target` drains, then reports how many went. */
  private block(target: NodeJS.WritableStream): void {
    if (this.blocked) return;
    this.blocked = true;
    const resume = (): void => {
      target.removeListener("drain", resume);
      clearInterval(poll);
      this.blocked = false;
      const dropped = this.unreported;
      this.unreported = 0;
      if (dropped > 0) this.log("warn", { msg: "log-lines-dropped", dropped, reason: "the log output did not keep up" });
    };
    target.once("drain", resume);
    // a stream that was over the limit without refusing a write (one huge batch) may never emit 'drain'
    const poll = setInterval(() => {
      if ((target as unknown as { writableLength: number }).writableLength < this.maxBuffered / 2) resume();
    }, 100).unref();
  }

  private readonly flushAtExit = (): void => {
    const out = this.take();
    if (out === undefined) return;
    try {
      if (this.stream && this.file !== undefined) appendFileSync(this.file, out);
      else process.stdout.write(out);
    } catch {
      // nothing more can be done while exiting
    }
  };

  async close(): Promise<void> {
    process.removeListener("exit", this.flushAtExit);
    // the drop report is written even into a full output: it is one line, and the last chance
    if (this.unreported > 0) {
      const dropped = this.unreported;
      this.unreported = 0;
      this.blocked = false;
      this.log("warn", { msg: "log-lines-dropped", dropped, reason: "the log output did not keep up" });
    }
    this.flush(true);
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }
}
