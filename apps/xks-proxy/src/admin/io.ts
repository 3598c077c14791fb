/** Output sinks of the admin commands (stdout/stderr in the CLI, buffers in tests). */
export interface AdminIo {
  out(s: string): void;
  err(s: string): void;
  /** Asks a question on the terminal and resolves with the answer; absent when stdin is no terminal. */
  prompt?(question: string): Promise<string>;
}
