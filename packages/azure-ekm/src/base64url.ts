import { EkmError } from "./errors.js";

const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url (RFC 7515: URL alphabet, no padding) of raw bytes. A value in another alphabet,
 * with padding, with whitespace or with non-zero trailing bits is refused (BadRequest).
 * @public
 */
export function decodeBase64url(value: unknown, field: string, maxBytes: number): Buffer {
  if (typeof value !== "string") throw new EkmError("BadRequest", `${field} must be a base64url string`);
  if (!B64URL.test(value) || value.length % 4 === 1) throw new EkmError("BadRequest", `${field} is not base64url (URL alphabet, no padding)`);
  if (value.length > Math.ceil((maxBytes * 4) / 3)) throw new EkmError("BadRequest", `${field} is longer than ${maxBytes} bytes`);
  const out = Buffer.from(value, "base64url");
  if (out.toString("base64url") !== value) {
    out.fill(0);
    throw new EkmError("BadRequest", `${field} is not canonical base64url`);
  }
  return out;
}

/** base64url of raw bytes, without padding. @public */
export function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}
