import { randomBytes } from "node:crypto";
import { ValidationException } from "./errors.js";
import type { XksCredential } from "./types.js";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Access key id format KMS accepts: 20–30 characters of A–Z and 2–7. @public */
export const ACCESS_KEY_ID_PATTERN = /^[A-Z2-7]{20,30}$/;
/** Secret format KMS accepts: 43–64 characters of A–Z a–z 0–9 + / =. @public */
export const SECRET_ACCESS_KEY_PATTERN = /^[A-Za-z0-9+/=]{43,64}$/;

/**
 * A fresh XKS proxy credential: a 24-character base32 access key id (120 random bits) and a
 * 44-character Base64 secret (256 random bits).
 * @public
 */
export function generateXksCredential(): XksCredential {
  return { accessKeyId: base32(randomBytes(15)), secretAccessKey: randomBytes(32).toString("base64") };
}

/**
 * Checks a credential against the formats KMS accepts; the message never contains the secret.
 * @throws ValidationException
 * @public
 */
export function validateXksCredential(c: XksCredential): void {
  if (!ACCESS_KEY_ID_PATTERN.test(c.accessKeyId)) throw new ValidationException("an access key id must be 20 to 30 characters of A-Z and 2-7");
  if (!SECRET_ACCESS_KEY_PATTERN.test(c.secretAccessKey))
    throw new ValidationException("a secret access key must be 43 to 64 characters of A-Z, a-z, 0-9, +, / and =");
}

/** The JSON the KMS console accepts when creating or updating an external key store. @public */
export interface XksConsoleConfiguration {
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

/**
 * Builds the console configuration file for a store: its URI path (`<prefix>/kms/xks/v1`) and one
 * credential.
 * @public
 */
export function xksConsoleConfiguration(uriPrefix: string, credential: XksCredential): XksConsoleConfiguration {
  const path = `${uriPrefix.replace(/\/+$/, "")}/kms/xks/v1`;
  if (path.length > 128 || !/^[A-Za-z0-9/_-]+$/.test(path)) {
    throw new ValidationException("XksProxyUriPath must be at most 128 characters of a-z A-Z 0-9 / - _");
  }
  validateXksCredential(credential);
  return { XksProxyUriPath: path, XksProxyAuthenticationCredential: { AccessKeyId: credential.accessKeyId, RawSecretAccessKey: credential.secretAccessKey } };
}
