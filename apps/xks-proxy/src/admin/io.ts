/** Output sinks of the admin commands (stdout/stderr in the CLI, buffers in tests). */
export interface AdminIo {
  out(s: string): void;
  err(s: string): void;
}
