/**
 * Admin commands of xks-proxy: keys, credential, store-json, salesforce.
 * main.ts calls runAdmin when argv[0] is one of ADMIN_COMMANDS.
 */
export interface AdminIo {
  out(s: string): void;
  err(s: string): void;
}

export const ADMIN_COMMANDS = ["keys", "credential", "store-json", "salesforce", "admin"] as const;

export async function runAdmin(argv: string[], io: AdminIo): Promise<number> {
  // Stub: the real implementation follows shortly.
  io.err(`xks-proxy: admin command '${argv[0] ?? ""}' is not implemented yet\n`);
  return 2;
}
