/**
 * Salesforce Cache-Only Key Service response: a compact JWE (RFC 7516) with
 * `alg` RSA-OAEP (SHA-1/MGF1-SHA-1, RFC 7518 §4.3) and `enc` A256GCM carrying the raw 32-byte
 * data encryption key.
 */
import { CiopError } from "@ciop/core";
import type { TargetKey, WrapEngine, WrappingKey } from "./engine.js";
import { toBase64Url } from "./base64.js";

/** Input of {@link createCacheOnlyJwe}. @public */
export interface CacheOnlyJweRequest {
  engine: WrapEngine;
  /** The data encryption key: AES-256. */
  target: TargetKey;
  /** Public key of the Salesforce BYOK certificate (RSA, 4096-bit in practice). */
  wrappingKey: WrappingKey;
  /** The key identifier registered in Salesforce: 1–255 characters of A-Z a-z 0-9 . - _ */
  kid: string;
  /** Replay-detection nonce echoed from the callout (printable ASCII, no spaces, 1–256 chars). */
  jti?: string;
}

/** Result of {@link createCacheOnlyJwe}. @public */
export interface CacheOnlyJwe {
  /** `b64u(header).b64u(encryptedKey).b64u(iv).b64u(ciphertext).b64u(tag)`, unpadded. */
  jwe: string;
  /** The protected header exactly as serialized. */
  header: string;
  /** The response body Salesforce expects: `{"kid": ..., "jwe": ...}` as a JSON string. */
  body: string;
  hostFallback: boolean;
  steps: string[];
}

const KID = /^[A-Za-z0-9._-]{1,255}$/;
const JTI = /^[\x21-\x7e]{1,256}$/;

/**
 * Builds the cache-only key JWE. The protected header is exactly
 * `{"alg":"RSA-OAEP","enc":"A256GCM","kid":"<kid>"}` plus `"jti":"<jti>"` when given; the AAD is
 * the ASCII of its base64url; the CEK and the 96-bit IV are fresh on every call.
 *
 * @throws CiopError ERR_KID_INVALID, ERR_USAGE (bad jti), ERR_KEY_TYPE_UNSUPPORTED (target not AES-256).
 * @public
 */
export async function createCacheOnlyJwe(request: CacheOnlyJweRequest): Promise<CacheOnlyJwe> {
  const { engine, target, wrappingKey, kid, jti } = request;
  if (!KID.test(kid)) {
    throw new CiopError("ERR_KID_INVALID", `Invalid key identifier "${kid}": use 1-255 characters from A-Z a-z 0-9 . - _`);
  }
  if (jti !== undefined && !JTI.test(jti)) {
    throw new CiopError("ERR_USAGE", "Invalid jti (replay nonce): use 1-256 printable ASCII characters without spaces.");
  }
  if (target.type !== "AES-256") {
    throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `A cache-only key must be AES-256 (a 32-byte data encryption key); "${target.name}" is ${target.type}.`);
  }
  const headerObject: Record<string, string> = { alg: "RSA-OAEP", enc: "A256GCM", kid };
  if (jti !== undefined) headerObject.jti = jti;
  const header = JSON.stringify(headerObject);
  const encodedHeader = toBase64Url(new TextEncoder().encode(header));
  const aad = new TextEncoder().encode(encodedHeader);
  const out = await engine.rsaOaepAesGcm(wrappingKey, target, "sha1", aad);
  if (out.iv.length !== 12 || out.tag.length !== 16) throw new CiopError("ERR_INTERNAL", "The engine returned a malformed AES-GCM result.");
  const jwe = [encodedHeader, toBase64Url(out.encryptedKey), toBase64Url(out.iv), toBase64Url(out.ciphertext), toBase64Url(out.tag)].join(".");
  return { jwe, header, body: JSON.stringify({ kid, jwe }), hostFallback: out.hostFallback, steps: out.steps };
}
