/**
 * Everything a command touches outside itself: streams, environment, working directory, prompts.
 * cli.ts builds the real one; nothing else reads process.* directly.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Ask a question on the terminal; `hidden` does not echo what is typed (PINs). */
  prompt(question: string, options?: { hidden?: boolean }): Promise<string>;
}
