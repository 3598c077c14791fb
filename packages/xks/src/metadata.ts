/**
 * ciop's `ciphertextMetadata`: a marker 0xC1 ("ciop"), a scheme version and, from scheme 2 on, the
 * version of the external key that encrypted. KMS stores the bytes inside its ciphertext blob and
 * returns them on Decrypt, so the proxy knows how the AAD was built and which key version to use,
 * even after the scheme changes or the key rotates. The bytes are also bound into the GCM AAD, so
 * the key version is authenticated: changing it fails the tag check.
 *
 * Scheme 1 (2 bytes, `C1 01`): AES-256-GCM, 12-byte random IV, 16-byte tag, spec AAD
 * `BE16(len(aad)) || aad || U8(len(ctm)) || ctm`, under the key's original version (version 1).
 * Scheme 2 (6 bytes, `C1 02 BE32(keyVersion)`): the same, under key version 1 to
 * {@link MAX_KEY_VERSION}. Encrypt writes scheme 1 for version 1, so ciphertexts made before keys
 * could rotate and those made since under an unrotated key have the same metadata.
 * @public
 */
export const CIOP_METADATA_MARKER = 0xc1;

/** Scheme 1: the original key version, no version field. @public */
export const CIOP_SCHEME_V1 = 1;

/** Scheme 2: scheme 1's AAD with a 4-byte big-endian key version. @public */
export const CIOP_SCHEME_V2 = 2;

/** The highest key version scheme 2 carries (a larger value is refused as hostile input). @public */
export const MAX_KEY_VERSION = 0xffff;

/**
 * The ciphertextMetadata Encrypt writes for `keyVersion` (default 1): scheme 1 for version 1,
 * scheme 2 for any other. A version outside 1..{@link MAX_KEY_VERSION} is a RangeError.
 * @public
 */
export function ciopCiphertextMetadata(keyVersion = 1): Uint8Array {
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > MAX_KEY_VERSION) {
    throw new RangeError(`key version ${String(keyVersion)} is outside 1..${MAX_KEY_VERSION}`);
  }
  if (keyVersion === 1) return Uint8Array.of(CIOP_METADATA_MARKER, CIOP_SCHEME_V1);
  return Uint8Array.of(
    CIOP_METADATA_MARKER,
    CIOP_SCHEME_V2,
    (keyVersion >>> 24) & 0xff,
    (keyVersion >>> 16) & 0xff,
    (keyVersion >>> 8) & 0xff,
    keyVersion & 0xff,
  );
}

/** How a ciphertext's AAD must be rebuilt. @public */
export type CiphertextScheme =
  /** `version`: the ciop scheme (1 or 2); `keyVersion`: the key version that encrypted (1 for scheme 1). */
  | { kind: "ciop"; version: number; keyVersion: number }
  /** The AWS sample proxy's hashed-AAD scheme, always under the original key (version 1). */
  | { kind: "sample-proxy"; keyVersion: 1 }
  | { kind: "unknown" };

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

/**
 * Classifies a Decrypt request's ciphertextMetadata (hostile input: bounded, exact lengths, no
 * allocation). ciop's scheme 1 is exactly `C1 01`; scheme 2 exactly `C1 02` and a 4-byte version
 * in 1..{@link MAX_KEY_VERSION}. Any other length, scheme or version after the marker is
 * `unknown` (Decrypt answers InvalidCiphertextException), unless compatibility accepts the bytes
 * as the AWS sample proxy's.
 * @public
 */
export function classifyCiphertextMetadata(ctm: Uint8Array | undefined, compat: CompatibilityOptions = {}): CiphertextScheme {
  if (ctm !== undefined && ctm.length >= 2 && ctm[0] === CIOP_METADATA_MARKER) {
    if (ctm.length === 2 && ctm[1] === CIOP_SCHEME_V1) return { kind: "ciop", version: CIOP_SCHEME_V1, keyVersion: 1 };
    if (ctm.length === 6 && ctm[1] === CIOP_SCHEME_V2) {
      // (bytes 2..5 big-endian, read without a DataView over a caller's possibly shared buffer)
      const v = ((ctm[2]! << 24) >>> 0) + (ctm[3]! << 16) + (ctm[4]! << 8) + ctm[5]!;
      if (v >= 1 && v <= MAX_KEY_VERSION) return { kind: "ciop", version: CIOP_SCHEME_V2, keyVersion: v };
    }
  }
  if (compat.sampleProxyAad) {
    if (ctm === undefined || ctm.length === 0) return { kind: "sample-proxy", keyVersion: 1 };
    if (compat.sampleProxyMetadata && equal(ctm, compat.sampleProxyMetadata)) return { kind: "sample-proxy", keyVersion: 1 };
  }
  return { kind: "unknown" };
}
