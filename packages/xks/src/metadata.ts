/**
 * ciop's `ciphertextMetadata`: two bytes, a marker 0xC1 ("ciop") and a scheme version. KMS stores
 * them inside its ciphertext blob and returns them on Decrypt, so the proxy knows how the AAD was
 * built even after the scheme changes. The bytes are also bound into the GCM AAD.
 *
 * Version 1: AES-256-GCM, 12-byte random IV, 16-byte tag, spec AAD
 * `BE16(len(aad)) || aad || U8(len(ctm)) || ctm`.
 * @public
 */
export const CIOP_METADATA_MARKER = 0xc1;

/** The scheme versions this release understands. @public */
export const CIOP_SCHEME_V1 = 1;

/** The ciphertextMetadata written on every Encrypt. @public */
export function ciopCiphertextMetadata(version: number = CIOP_SCHEME_V1): Uint8Array {
  return Uint8Array.of(CIOP_METADATA_MARKER, version);
}

/** How a ciphertext's AAD must be rebuilt. @public */
export type CiphertextScheme = { kind: "ciop"; version: number } | { kind: "sample-proxy" } | { kind: "unknown" };

/** Options that widen what Decrypt accepts. @public */
export interface CompatibilityOptions {
  /**
   * Decrypt ciphertexts made by the AWS sample proxy (hashed-AAD scheme): those that come with no
   * ciphertextMetadata, or with exactly `sampleProxyMetadata` (its `ciphertext_metadata_b64`).
   */
  sampleProxyAad?: boolean;
  /** The static metadata the sample proxy was configured with, if any. */
  sampleProxyMetadata?: Uint8Array;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Classifies a Decrypt request's ciphertextMetadata. @public */
export function classifyCiphertextMetadata(ctm: Uint8Array | undefined, compat: CompatibilityOptions = {}): CiphertextScheme {
  if (ctm !== undefined && ctm.length === 2 && ctm[0] === CIOP_METADATA_MARKER) return { kind: "ciop", version: ctm[1]! };
  if (compat.sampleProxyAad) {
    if (ctm === undefined || ctm.length === 0) return { kind: "sample-proxy" };
    if (compat.sampleProxyMetadata && equal(ctm, compat.sampleProxyMetadata)) return { kind: "sample-proxy" };
  }
  return { kind: "unknown" };
}
