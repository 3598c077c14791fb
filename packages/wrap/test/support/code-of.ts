import { CiopError } from "@ciop/core";

/** The CiopError code a promise rejects with (undefined when it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return CiopError.isInstance(err) ? (err as CiopError).code : `not a CiopError: ${String(err)}`;
  }
  return undefined;
}
