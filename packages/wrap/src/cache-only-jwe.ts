/**
 * Salesforce Cache-Only Key Service response: a compact JWE (RFC 7516) with
 * `alg` RSA-OAEP (SHA-1/MGF1-SHA-1, RFC 7518 §4.3) and `enc` A256GCM carrying the raw 32-byte
 * data encryption key.
 */
import { CiopError } from "@ciop/core";
import type { TargetKey, WrapEngine, WrappingKey } from "./engine.js";

/**
 * jose's base64url codec (RFC 7515 §2 / RFC 4648 §5, unpadded). jose 6 is ESM-only, so it is loaded
 * on first use: CommonJS consumers (and CommonJS test runners such as Jest) that never build a
 * cache-only JWE never have to load an ES module through require().
 */
async function joseBase64url(): Promise<{ encode(input: Uint8Array | string): string }> {
  const { base64url } = await import("jose");
  return base64url;
}

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
  const b64u = await joseBase64url();
  const encodedHeader = b64u.encode(new TextEncoder().encode(header));
  const aad = new TextEncoder().encode(encodedHeader);
  // The compact serialization is assembled here from the engine's parts, not with jose's
  // CompactEncrypt: CompactEncrypt needs the plaintext (here: the target key itself) and the content
  // encryption key in host memory. With the HSM engine neither leaves the token: the CEK is a
  // session AES-256 key made there, the target is encrypted under it by C_WrapKey (CKM_AES_GCM with
  // this AAD), and the CEK is RSA-OAEP wrapped by the token as well. jose only encodes the segments.
  const out = await engine.rsaOaepAesGcm(wrappingKey, target, "sha1", aad);
  if (out.iv.length !== 12 || out.tag.length !== 16) throw new CiopError("ERR_INTERNAL", "The engine returned a malformed AES-GCM result.");
  const jwe = [encodedHeader, b64u.encode(out.encryptedKey), b64u.encode(out.iv), b64u.encode(out.ciphertext), b64u.encode(out.tag)].join(".");
  return { jwe, header, body: JSON.stringify({ kid, jwe }), hostFallback: out.hostFallback, steps: out.steps };
}
