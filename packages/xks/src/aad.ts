import { createHash } from "node:crypto";

const EMPTY = new Uint8Array(0);

/**
 * The AES-GCM AAD the XKS spec recommends handing to the key manager:
 * `BE16(len(aad)) || aad || U8(len(ctm)) || ctm`, lengths of the decoded bytes, absent = empty.
 * The length prefixes stop bytes moving between the two fields.
 * @public
 */
export function buildSpecAad(aad: Uint8Array | undefined, ciphertextMetadata: Uint8Array | undefined): Uint8Array {
  const a = aad ?? EMPTY;
  const m = ciphertextMetadata ?? EMPTY;
  if (a.length > 0xffff) throw new RangeError("AAD longer than 65535 bytes cannot be length-prefixed");
  if (m.length > 0xff) throw new RangeError("ciphertextMetadata longer than 255 bytes cannot be length-prefixed");
  const out = new Uint8Array(2 + a.length + 1 + m.length);
  out[0] = a.length >>> 8;
  out[1] = a.length & 0xff;
  out.set(a, 2);
  out[2 + a.length] = m.length;
  out.set(m, 3 + a.length);
  return out;
}

/**
 * The AAD the AWS sample proxy (aws-samples/aws-kms-xks-proxy) hands to the HSM:
 * `BE16(len(aad)) || SHA256(aad) || U8(len(ctm)) || ctm`, where the digest is present whenever the
 * request carried an AAD member (even an empty one) and left out when it carried none.
 * Only used to decrypt ciphertexts that proxy made.
 * @public
 */
export function buildSampleProxyAad(aad: Uint8Array | undefined, ciphertextMetadata: Uint8Array | undefined): Uint8Array {
  const m = ciphertextMetadata ?? EMPTY;
  const len = aad?.length ?? 0;
  if (len > 0xffff) throw new RangeError("AAD longer than 65535 bytes cannot be length-prefixed");
  const digest = aad === undefined ? EMPTY : new Uint8Array(createHash("sha256").update(aad).digest());
  const out = new Uint8Array(2 + digest.length + 1 + m.length);
  out[0] = len >>> 8;
  out[1] = len & 0xff;
  out.set(digest, 2);
  out[2 + digest.length] = m.length;
  out.set(m, 3 + digest.length);
  return out;
}

/**
 * Ciphertext data integrity value: Base64 of SHA-256 over
 * `aad || ciphertextMetadata || iv || ciphertext || tag` (absent fields empty, no length prefixes).
 * @public
 */
export function computeCdiv(
  aad: Uint8Array | undefined,
  ciphertextMetadata: Uint8Array | undefined,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): string {
  const h = createHash("sha256");
  if (aad) h.update(aad);
  if (ciphertextMetadata) h.update(ciphertextMetadata);
  h.update(iv).update(ciphertext).update(tag);
  return h.digest("base64");
}
