import { zeroize } from "@ciop/core";
import { buildSampleProxyAad, buildSpecAad } from "./aad.js";
import type { XksCrypto, XksKeyPolicy } from "./crypto.js";
import { InvalidCiphertextException, InvalidKeyUsageException, InvalidStateException, toXksError } from "./errors.js";
import { resolveKey } from "./key-checks.js";
import { classifyCiphertextMetadata } from "./metadata.js";
import type { DecryptRequest } from "./schema.js";

/** Decrypt response body. @public */
export interface DecryptResponse {
  plaintext: string;
}

/**
 * Decrypt: rebuilds the AAD the ciphertext was made with (ciop scheme from its metadata version,
 * or — with `policy.compat.sampleProxyAad` — the AWS sample proxy's hashed-AAD scheme) and
 * decrypts in the key manager under the key version the metadata names (none: version 1, the
 * original key). IV not 12/16 bytes, tag not 16 bytes, empty ciphertext, unknown metadata, a key
 * version that does not exist (never made, or deleted), or a failed tag check → 400
 * InvalidCiphertextException (fixed message); a disabled key version → 400 InvalidStateException.
 * A key manager that cannot answer while the version is looked up gives its own error (5xx).
 * @public
 */
export async function handleDecrypt(keyId: string, req: DecryptRequest, crypto: XksCrypto, policy: XksKeyPolicy): Promise<DecryptResponse> {
  const key = await resolveKey("Decrypt", keyId, req.requestMetadata, crypto, policy, { requireEnabled: true });
  if (!key.canDecrypt) throw new InvalidKeyUsageException("the external key does not permit decryption");
  const iv = req.initializationVector;
  if ((iv.length !== 12 && iv.length !== 16) || req.authenticationTag.length !== 16 || req.ciphertext.length === 0) {
    throw new InvalidCiphertextException();
  }
  const scheme = classifyCiphertextMetadata(req.ciphertextMetadata, policy.compat);
  let aad: Uint8Array;
  if (scheme.kind === "ciop") aad = buildSpecAad(req.additionalAuthenticatedData, req.ciphertextMetadata);
  else if (scheme.kind === "sample-proxy") aad = buildSampleProxyAad(req.additionalAuthenticatedData, req.ciphertextMetadata);
  else throw new InvalidCiphertextException();
  const keyVersion = scheme.keyVersion;
  // The key's own description already is its current version's (enabled and usage checked above):
  // only a ciphertext of another version needs that version looked up, so an unrotated key, or a
  // ciphertext made under the current version, costs one key lookup per Decrypt, not two.
  if (!crypto.describeKeyVersion) {
    // a key manager without versions has only the original key
    if (keyVersion !== 1) throw new InvalidCiphertextException();
  } else if (keyVersion !== (key.currentVersion ?? 1)) {
    let version: Awaited<ReturnType<NonNullable<typeof crypto.describeKeyVersion>>>;
    try {
      version = await crypto.describeKeyVersion(keyId, keyVersion);
    } catch (err) {
      throw toXksError(err);
    }
    if (!version) throw new InvalidCiphertextException();
    if (!version.enabled) throw new InvalidStateException("the key version that encrypted this ciphertext is disabled");
    if (!version.canDecrypt) throw new InvalidKeyUsageException("the key version that encrypted this ciphertext does not permit decryption");
  }

  const ctTag = new Uint8Array(req.ciphertext.length + 16);
  ctTag.set(req.ciphertext, 0);
  ctTag.set(req.authenticationTag, req.ciphertext.length);
  let pt: Uint8Array;
  try {
    pt = await crypto.decrypt(keyId, iv, ctTag, aad, keyVersion === 1 ? undefined : keyVersion);
  } catch (err) {
    throw toXksError(err);
  }
  if (pt.length !== req.ciphertext.length) {
    zeroize(pt);
    throw new InvalidCiphertextException();
  }
  const plaintext = Buffer.from(pt.buffer, pt.byteOffset, pt.byteLength).toString("base64");
  zeroize(pt);
  return { plaintext };
}
