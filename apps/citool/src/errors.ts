import { CiopError } from "@ciop/core";

/** A bad command line (exit status 2). */
export function usageError(message: string, details?: Record<string, unknown>): CiopError {
  return new CiopError("ERR_USAGE", message, details ? { details } : undefined);
}

/** Exit status for an error: 2 for the caller's mistakes, 1 for everything that failed while working. */
export function exitCodeFor(err: unknown): 1 | 2 {
  if (CiopError.isInstance(err) && err.isUsageError) return 2;
  return 1;
}
