import { decodeBase64url, encodeBase64url } from "./base64url.js";
import type { EkmCrypto, EkmKeyPolicy } from "./crypto.js";
import { ekmErrorFrom, EkmError } from "./errors.js";
import { algorithmFor, describeServedKey } from "./key-checks.js";
import type { EkmAlgorithm } from "./types.js";

/** The largest key this proxy wraps (bytes): an RSA-4096 private key in PKCS#8 fits. @public */
export const MAX_WRAP_INPUT = 4096;

/** @public */
export interface EkmWrapResult {
  body: { value: string };
  alg: EkmAlgorithm;
  inputBytes: number;
}

/**
 * wrapkey: checks the key (listed, present, enabled), the algorithm against the key type and the
 * value, then wraps in the key manager. The decoded input and the wrapped output are zeroed here.
 * @public
 */
export async function wrapKey(crypto: EkmCrypto, policy: EkmKeyPolicy, keyName: string, body: Record<string, unknown>): Promise<EkmWrapResult> {
  const d = await describeServedKey(crypto, policy, keyName, "WrapKey");
  const alg = algorithmFor(d, body.alg);
  const input = decodeBase64url(body.value, "value", MAX_WRAP_INPUT);
  let out: Uint8Array | undefined;
  try {
    if (input.length === 0) throw new EkmError("BadRequest", "value is empty");
    if (alg === "A256KW" && (input.length < 16 || input.length % 8 !== 0))
      throw new EkmError("BadRequest", "A256KW wraps a multiple of 8 bytes, at least 16; use A256KWP for other lengths");
    if (d.keyType === "RSA") {
      const hLen = alg === "RSA-OAEP" ? 20 : 32;
      if (input.length > d.keySize / 8 - 2 * hLen - 2) throw new EkmError("BadRequest", `value is too long for ${alg} under a ${d.keySize}-bit key`);
    }
    try {
      out = await crypto.wrap(keyName, alg, input);
    } catch (err) {
      throw ekmErrorFrom(err);
    }
    return { body: { value: encodeBase64url(out) }, alg, inputBytes: input.length };
  } finally {
    input.fill(0);
    out?.fill(0);
  }
}
