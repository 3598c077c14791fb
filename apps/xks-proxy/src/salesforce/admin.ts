/**
 * `xks-proxy salesforce ...` admin commands (stub; full implementation follows).
 */
export async function runSalesforceAdmin(
  argv: string[],
  io: { out(s: string): void; err(s: string): void },
): Promise<number> {
  void argv;
  io.err("xks-proxy salesforce: not implemented yet\n");
  return 2;
}
