/**
 * Byte layout of the hybrid RSA + AES constructions (CKM_RSA_AES_KEY_WRAP and Alibaba's
 * RSA-OAEP + AES-ECB): `RSA part (exactly the wrapping modulus length) ‖ AES part`.
 */
import { CiopError } from "@ciop/core";
import type { WrappingKey } from "./engine.js";

/** The two halves of a hybrid RSA + AES blob. @public */
export interface RsaAesParts {
  /** RSA-OAEP of the ephemeral AES key; exactly `ceil(bits/8)` bytes. */
  encryptedKey: Uint8Array;
  /** AES part: RFC 5649 KWP (or AES-ECB for Alibaba) of the target. */
  wrappedKey: Uint8Array;
}

function modulusBytes(wrappingKey: Pick<WrappingKey, "bits"> | number): number {
  return typeof wrappingKey === "number" ? wrappingKey : Math.ceil(wrappingKey.bits / 8);
}

/**
 * Splits a hybrid blob at the modulus length (256/384/512 bytes for RSA-2048/3072/4096), as the
 * receiving side does. Returns views into `blob`.
 * @param modulus - the wrapping key, or its modulus length in bytes.
 * @public
 */
export function splitRsaAesBlob(blob: Uint8Array, modulus: Pick<WrappingKey, "bits"> | number): RsaAesParts {
  const k = modulusBytes(modulus);
  if (blob.length <= k) {
    throw new CiopError("ERR_USAGE", `A hybrid RSA-AES blob must be longer than the ${k}-byte RSA part; got ${blob.length} bytes.`);
  }
  return { encryptedKey: blob.subarray(0, k), wrappedKey: blob.subarray(k) };
}

/**
 * Joins the halves, RSA part first. Checks that the RSA part has the modulus length.
 * @public
 */
export function joinRsaAesBlob(parts: RsaAesParts, modulus?: Pick<WrappingKey, "bits"> | number): Uint8Array {
  if (modulus !== undefined && parts.encryptedKey.length !== modulusBytes(modulus)) {
    throw new CiopError("ERR_USAGE", `The RSA part is ${parts.encryptedKey.length} bytes; the wrapping key's modulus is ${modulusBytes(modulus)} bytes.`);
  }
  const out = new Uint8Array(parts.encryptedKey.length + parts.wrappedKey.length);
  out.set(parts.encryptedKey, 0);
  out.set(parts.wrappedKey, parts.encryptedKey.length);
  return out;
}

/** Length of an RFC 5649 KWP output for `plaintextLength` bytes: 8 + ceil(n/8)·8. @public */
export function kwpLength(plaintextLength: number): number {
  return 8 + Math.ceil(plaintextLength / 8) * 8;
}

/** Length of CKM_RSA_AES_KEY_WRAP output: modulus bytes + KWP length. @public */
export function rsaAesKeyWrapLength(wrappingKey: Pick<WrappingKey, "bits">, plaintextLength: number): number {
  return modulusBytes(wrappingKey) + kwpLength(plaintextLength);
}
