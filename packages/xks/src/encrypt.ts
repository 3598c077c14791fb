import { timingSafeEqual } from "node:crypto";
import { zeroize } from "@ciop/core";
import { buildSpecAad, computeCdiv } from "./aad.js";
import type { XksCrypto, XksKeyPolicy } from "./crypto.js";
import { InternalException, InvalidKeyUsageException, InvalidStateException, toXksError } from "./errors.js";
import { resolveKey } from "./key-checks.js";
import { randomGcmIv } from "./iv.js";
import { ciopCiphertextMetadata } from "./metadata.js";
import type { EncryptRequest } from "./schema.js";

/** Encrypt response body (Base64 members). @public */
export interface EncryptResponse {
  authenticationTag: string;
  ciphertext: string;
  ciphertextMetadata: string;
  initializationVector: string;
  ciphertextDataIntegrityValue?: string;
}

const TAG_BYTES = 16;
const IV_BYTES = 12;

/**
 * Encrypt: AES-256-GCM in the key manager with a fresh 12-byte IV under the key's current version,
 * ciop's ciphertextMetadata (scheme and key version) and the spec's length-prefixed AAD binding both. When a CDIV is requested it
 * is computed from the encrypt output first, then the output is decrypted and compared, as the
 * spec's Appendix C orders.
 *
 * Usage rules (400 InvalidKeyUsageException, checked before encrypting): the key must permit
 * encryption, and also decryption when a CDIV is requested.
 * @public
 */
export async function handleEncrypt(keyId: string, req: EncryptRequest, crypto: XksCrypto, policy: XksKeyPolicy): Promise<EncryptResponse> {
  const wantCdiv = req.ciphertextDataIntegrityValueAlgorithm === "SHA_256";
  let key = await resolveKey("Encrypt", keyId, req.requestMetadata, crypto, policy, { requireEnabled: true });
  let ctm: Uint8Array;
  let v: number | undefined;
  let aad: Uint8Array;
  let iv: Uint8Array;
  let out: Uint8Array;
  for (let attempt = 0; ; attempt++) {
    if (!key.canEncrypt) throw new InvalidKeyUsageException("the external key does not permit encryption");
    if (wantCdiv && !key.canDecrypt) {
      throw new InvalidKeyUsageException("a ciphertext data integrity value needs a key that can also decrypt (to verify the result)");
    }
    // the current key version, authenticated through the metadata in the AAD (version 1: scheme 1)
    const keyVersion = key.currentVersion ?? 1;
    ctm = ciopCiphertextMetadata(keyVersion);
    v = keyVersion === 1 ? undefined : keyVersion;
    aad = buildSpecAad(req.additionalAuthenticatedData, ctm);
    try {
      if (crypto.seal) {
        ({ iv, ciphertextAndTag: out } = await crypto.seal(keyId, req.plaintext, aad, v));
      } else {
        iv = crypto.randomIv ? await crypto.randomIv() : randomGcmIv();
        out = await crypto.encrypt(keyId, iv, req.plaintext, aad, v);
      }
      break;
    } catch (err) {
      const e = toXksError(err);
      // The version this instance took as current was disabled on the token (by another instance,
      // within the key-state TTL): once, forget the cached state and encrypt under the version that
      // is current now, instead of refusing while the key itself is still enabled.
      if (attempt === 0 && v !== undefined && e instanceof InvalidStateException && crypto.refreshKey) {
        crypto.refreshKey(keyId);
        key = await resolveKey("Encrypt", keyId, req.requestMetadata, crypto, policy, { requireEnabled: true });
        continue;
      }
      throw e;
    }
  }
  if (iv.length !== IV_BYTES || out.length !== req.plaintext.length + TAG_BYTES)
    throw new InternalException("the key manager returned output of an unexpected length");
  const ciphertext = out.subarray(0, out.length - TAG_BYTES);
  const tag = out.subarray(out.length - TAG_BYTES);

  const res: EncryptResponse = {
    authenticationTag: Buffer.from(tag).toString("base64"),
    ciphertext: Buffer.from(ciphertext).toString("base64"),
    ciphertextMetadata: Buffer.from(ctm).toString("base64"),
    initializationVector: Buffer.from(iv).toString("base64"),
  };
  if (wantCdiv) {
    res.ciphertextDataIntegrityValue = computeCdiv(req.additionalAuthenticatedData, ctm, iv, ciphertext, tag);
    let check: Uint8Array;
    try {
      check = await crypto.decrypt(keyId, iv, out, aad, v);
    } catch (err) {
      const e = toXksError(err);
      // A verification decrypt that fails is our failure, not a bad ciphertext from the caller.
      throw e.errorName === "InvalidCiphertextException" ? new InternalException("the encrypt result did not decrypt; retry", { cause: err }) : e;
    }
    const same = check.length === req.plaintext.length && timingSafeEqual(check, req.plaintext);
    zeroize(check);
    if (!same) throw new InternalException("the encrypt result did not round-trip; retry");
  }
  return res;
}
