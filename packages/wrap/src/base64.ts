/**
 * Base64 (RFC 4648 §4) and base64url (§5, unpadded) helpers for callers and for the non-JWE
 * artefacts, with strict decoding that throws ERR_USAGE. They use node's Buffer codecs so that they
 * stay synchronous and loadable from CommonJS; the JWE segments of the cache-only key response are
 * encoded by jose (see cache-only-jwe.ts), which is ESM-only and loaded on first use there.
 */
import { CiopError } from "@ciop/core";

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Standard, padded base64 of `bytes`. @public */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Decodes standard base64. Whitespace (line breaks of PEM-like or wrapped files) is ignored;
 * any other character outside the alphabet, or a wrong length, throws ERR_USAGE.
 * @public
 */
export function fromBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (!B64.test(compact) || compact.length % 4 !== 0) {
    throw new CiopError("ERR_USAGE", "Not valid base64: expected the characters A-Z a-z 0-9 + / with = padding.");
  }
  return new Uint8Array(Buffer.from(compact, "base64"));
}

/** Unpadded base64url (RFC 7515 style) of `bytes`. @public */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** Decodes unpadded (or padded) base64url; throws ERR_USAGE on other characters. @public */
export function fromBase64Url(text: string): Uint8Array {
  const compact = text.replace(/=+$/, "");
  if (!B64URL.test(compact) || compact.length % 4 === 1) {
    throw new CiopError("ERR_USAGE", "Not valid base64url: expected the characters A-Z a-z 0-9 - _ without padding.");
  }
  return new Uint8Array(Buffer.from(compact, "base64url"));
}
