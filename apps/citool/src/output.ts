/**
 * Terminal output: colours (only on a TTY, never with NO_COLOR), one-line errors, warnings, JSON,
 * and a progress indicator for slow key generation.
 */
import { CiopError } from "@ciop/core";
import type { Io } from "./io.js";

export interface Style {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

/** NO_COLOR set to a non-empty value (any value) turns colours off (https://no-color.org). */
export function noColor(io: Io): boolean {
  return (io.env.NO_COLOR ?? "") !== "";
}

/** Colours on stderr/stdout only when it is a terminal, NO_COLOR is not set, and TERM is not dumb. */
export function makeStyle(io: Io, isTTY: boolean): Style {
  const on = isTTY && !noColor(io) && io.env.TERM !== "dumb" && io.env.FORCE_COLOR !== "0";
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), bold: wrap(1, 22), dim: wrap(2, 22) };
}

/** The one line printed for an error; with --debug the stack and cause chain follow. */
export function formatError(err: unknown, debug: boolean): string {
  let line: string;
  if (CiopError.isInstance(err)) line = `citool: error: ${err.message} [${err.code}]`;
  else if (err instanceof Error) line = `citool: error: ${err.message}`;
  else line = `citool: error: ${String(err)}`;
  line = line.replace(/\s*\n\s*/g, " ");
  if (!debug) return line;
  const parts = [line];
  let cur: unknown = err;
  let depth = 0;
  while (cur instanceof Error && depth < 5) {
    parts.push(cur.stack ?? String(cur));
    cur = (cur as { cause?: unknown }).cause;
    if (cur !== undefined) parts.push("caused by:");
    depth++;
  }
  return parts.join("\n");
}

export function printWarning(io: Io, message: string): void {
  const s = makeStyle(io, io.stderrIsTTY);
  io.err(`${s.yellow("warning:")} ${message}\n`);
}

export function printJson(io: Io, doc: unknown): void {
  io.out(`${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * A spinner with elapsed seconds on stderr while `work` runs; silent when stderr is not a TTY.
 * Needs an HSM call that does not block the event loop (the @ciop/hsm async API).
 */
export async function withProgress<T>(io: Io, label: string, work: () => Promise<T>): Promise<T> {
  if (!io.stderrIsTTY) return work();
  const frames = !noColor(io) && io.env.TERM !== "dumb" ? ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"] : ["-", "\\", "|", "/"];
  const started = Date.now();
  let i = 0;
  const draw = () => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    io.err(`\r${frames[i++ % frames.length]} ${label} (${secs} s)`);
  };
  draw();
  const timer = setInterval(draw, 100);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    io.err("\r\u001b[2K");
  }
}
