/**
 * xks-proxy's one mapping from an error to an exit status, the rule citool follows too: 2 for the
 * caller's mistakes (usage errors and an invalid or unreadable configuration: @ciop/core's
 * usage-error codes, and an XKS ValidationException such as a malformed credential), 1 for
 * failures while working (HSM unavailable, a port in use, anything unexpected).
 */
import { CiopError } from "@ciop/core";

export const EXIT_RUNTIME_FAILURE = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(err: unknown): 1 | 2 {
  if (CiopError.isInstance(err)) return err.isUsageError ? EXIT_USAGE : EXIT_RUNTIME_FAILURE;
  if (err instanceof Error && err.name === "ValidationException") return EXIT_USAGE;
  return EXIT_RUNTIME_FAILURE;
}
