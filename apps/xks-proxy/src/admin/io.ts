/** Output sinks of the admin commands (stdout/stderr in the CLI, buffers in tests). */
export interface AdminIo {
  out(s: string): void;
  err(s: string): void;
  /** Asks a question on the terminal and resolves with the answer; absent when stdin is no terminal. */
  prompt?(question: string): Promise<string>;
}

/** Rows (the first is the heading) as aligned columns two spaces apart, one line each. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
