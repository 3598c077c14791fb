import type { XksCrypto, XksKeyDescription, XksKeyPolicy } from "./crypto.js";
import { AccessDeniedException, InvalidKeyUsageException, InvalidStateException, KeyNotFoundException, toXksError } from "./errors.js";
import type { XksRequestMetadata } from "./schema.js";
import type { XksOperation } from "./types.js";

/** The XKS key id syntax (spec: 1 to 128 of A-Z a-z 0-9 - . _). */
export const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

function allowed(keys: XksKeyPolicy["keys"], keyId: string): boolean {
  return Array.isArray(keys) ? keys.includes(keyId) : (keys as ReadonlySet<string>).has(keyId);
}

/**
 * The checks every key operation runs, in the spec's order: allow-list and key id → 404,
 * secondary authorization → 403, existence in the key manager → 404, AES_256 → 400 usage,
 * enabled → 400 InvalidStateException. Usage checks per operation follow in the handlers.
 * @internal
 */
export async function resolveKey(
  operation: XksOperation,
  keyId: string,
  metadata: XksRequestMetadata,
  crypto: XksCrypto,
  policy: XksKeyPolicy,
  options: { requireEnabled: boolean },
): Promise<XksKeyDescription> {
  if (!KEY_ID.test(keyId) || !allowed(policy.keys, keyId)) throw new KeyNotFoundException("the external key id is not configured in this key store");
  if (policy.authorize) {
    let ok: boolean;
    try {
      ok = await policy.authorize(operation, keyId, metadata);
    } catch (err) {
      throw toXksError(err);
    }
    if (!ok) throw new AccessDeniedException("secondary authorization refused the request");
  }
  let key: XksKeyDescription | undefined;
  try {
    key = await crypto.describeKey(keyId);
  } catch (err) {
    throw toXksError(err);
  }
  if (!key) throw new KeyNotFoundException("the external key was not found in the HSM");
  if (key.keySpec !== "AES_256") throw new InvalidKeyUsageException("the external key is not a 256-bit AES key");
  if (options.requireEnabled && !key.enabled) throw new InvalidStateException("the external key is disabled");
  return key;
}

/** Key usages to report for a key. @internal */
export function usagesOf(key: XksKeyDescription): string[] {
  if (key.keyUsage) return [...key.keyUsage];
  const out: string[] = [];
  if (key.canEncrypt) out.push("ENCRYPT");
  if (key.canDecrypt) out.push("DECRYPT");
  return out;
}
