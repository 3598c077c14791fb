import type { EkmCrypto, EkmKeyDescription, EkmKeyPolicy } from "./crypto.js";
import { EkmError, ekmErrorFrom } from "./errors.js";
import { EKM_ALGORITHMS, type EkmAlgorithm } from "./types.js";

function allowed(policy: EkmKeyPolicy, name: string): boolean {
  const k = policy.keys;
  return k instanceof Set ? k.has(name) : (k as readonly string[]).includes(name);
}

/** The key, if listed and present (else 404 KeyNotFound); `enabled` checked when `operation` says so. */
export async function describeServedKey(crypto: EkmCrypto, policy: EkmKeyPolicy, name: string, operation: string | undefined): Promise<EkmKeyDescription> {
  if (!allowed(policy, name)) throw new EkmError("KeyNotFound", `no key named ${name} is served here`);
  let d: EkmKeyDescription | undefined;
  try {
    d = await crypto.describeKey(name);
  } catch (err) {
    throw ekmErrorFrom(err);
  }
  if (d === undefined) throw new EkmError("KeyNotFound", `no key named ${name} is served here`);
  if (operation !== undefined && !d.enabled) throw new EkmError("KeyDisabled", `operation ${operation} is not allowed on a disabled key`);
  return d;
}

/** The request's `alg`, which must be one the key's type accepts (400 BadRequest otherwise). */
export function algorithmFor(d: EkmKeyDescription, alg: unknown): EkmAlgorithm {
  if (typeof alg !== "string") throw new EkmError("BadRequest", "alg is required and must be a string");
  const ok = EKM_ALGORITHMS[d.keyType];
  if (!(ok as readonly string[]).includes(alg))
    throw new EkmError("BadRequest", `algorithm ${alg.slice(0, 20)} is not supported for a key of type ${d.keyType} (use ${ok.join(" or ")})`);
  return alg as EkmAlgorithm;
}
