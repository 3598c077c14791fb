import { CiopError } from "@ciop/core";

/** A bad command line (exit status 2). */
export function usageError(message: string, details?: Record<string, unknown>): CiopError {
  return new CiopError("ERR_USAGE", message, details ? { details } : undefined);
}

/**
 * citool's one mapping from an error to an exit status, the rule xks-proxy follows too
 * (apps/xks-proxy/src/exit-code.ts): 2 for the caller's mistakes (usage errors, an invalid or
 * unreadable configuration, any of @ciop/core's USAGE_ERROR_CODES), 1 for everything that failed
 * while working.
 */
export function exitCodeFor(err: unknown): 1 | 2 {
  if (CiopError.isInstance(err) && err.isUsageError) return 2;
  return 1;
}
