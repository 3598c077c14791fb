import { decodeBase64url, encodeBase64url } from "./base64url.js";
import type { EkmCrypto, EkmKeyPolicy } from "./crypto.js";
import { ekmErrorFrom, EkmError } from "./errors.js";
import { algorithmFor, describeServedKey } from "./key-checks.js";
import type { EkmWrapResult } from "./wrap-key.js";

/** The largest wrapped value accepted (bytes). @public */
export const MAX_UNWRAP_INPUT = 4200;

/**
 * unwrapkey: the same checks as wrapkey, then the key manager unwraps. A value that does not
 * unwrap is 400 BadRequest. The unwrapped bytes are zeroed here once encoded.
 * @public
 */
export async function unwrapKey(crypto: EkmCrypto, policy: EkmKeyPolicy, keyName: string, body: Record<string, unknown>): Promise<EkmWrapResult> {
  const d = await describeServedKey(crypto, policy, keyName, "UnwrapKey");
  const alg = algorithmFor(d, body.alg);
  const input = decodeBase64url(body.value, "value", MAX_UNWRAP_INPUT);
  if (d.keyType === "oct" && (input.length < 16 || input.length % 8 !== 0))
    throw new EkmError("BadRequest", "a value wrapped with A256KW or A256KWP is a multiple of 8 bytes, at least 16");
  if (d.keyType === "RSA" && input.length !== d.keySize / 8)
    throw new EkmError("BadRequest", `a value wrapped with ${alg} under a ${d.keySize}-bit key is ${d.keySize / 8} bytes`);
  let out: Uint8Array | undefined;
  try {
    out = await crypto.unwrap(keyName, alg, input);
  } catch (err) {
    throw ekmErrorFrom(err);
  }
  try {
    return { body: { value: encodeBase64url(out) }, alg, inputBytes: input.length };
  } finally {
    out.fill(0);
  }
}
