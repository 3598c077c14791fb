/**
 * Facts about the key types ciop handles: what goes inside a wrap (raw bytes or PKCS#8), sizes, curves.
 */
import { CiopError } from "@ciop/core";
import type { KeyType } from "@ciop/hsm";

const SECRET_BYTES: Readonly<Record<string, number>> = {
  "AES-128": 16,
  "AES-192": 24,
  "AES-256": 32,
  "HMAC-160": 20,
  "HMAC-224": 28,
  "HMAC-256": 32,
  "HMAC-384": 48,
  "HMAC-512": 64,
};

const RSA_BITS: Readonly<Record<string, number>> = { "RSA-2048": 2048, "RSA-3072": 3072, "RSA-4096": 4096 };

/** Node/OpenSSL curve names of the EC key types. */
const EC_CURVES: Readonly<Record<string, string>> = {
  "EC-NISTP256": "prime256v1",
  "EC-NISTP384": "secp384r1",
  "EC-NISTP521": "secp521r1",
  "EC-SECP256K1": "secp256k1",
};

/** Every key type ciop knows, in a stable order. */
export const KEY_TYPES: readonly KeyType[] = [
  "AES-128",
  "AES-192",
  "AES-256",
  "HMAC-160",
  "HMAC-224",
  "HMAC-256",
  "HMAC-384",
  "HMAC-512",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "EC-NISTP256",
  "EC-NISTP384",
  "EC-NISTP521",
  "EC-SECP256K1",
];

/**
 * What a wrap of this key type carries: `"secret"` (raw key bytes) or `"private"` (PKCS#8 DER).
 * @public
 */
export function keyKind(type: KeyType): "secret" | "private" {
  if (SECRET_BYTES[type] !== undefined) return "secret";
  if (RSA_BITS[type] !== undefined || EC_CURVES[type] !== undefined) return "private";
  throw unknownType(type);
}

/** Length in bytes of a secret key type's raw value; undefined for key pairs. @public */
export function secretKeyLength(type: KeyType): number | undefined {
  return SECRET_BYTES[type];
}

/** RSA modulus size of an RSA key type; undefined otherwise. @public */
export function rsaKeyBits(type: KeyType): number | undefined {
  return RSA_BITS[type];
}

/** OpenSSL/node:crypto curve name of an EC key type; undefined otherwise. @public */
export function ecCurveName(type: KeyType): string | undefined {
  return EC_CURVES[type];
}

/** @internal */
export function assertKeyType(type: string): asserts type is KeyType {
  if (!(KEY_TYPES as readonly string[]).includes(type)) throw unknownType(type);
}

function unknownType(type: string): CiopError {
  return new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `Unknown key type "${type}". Accepted: ${KEY_TYPES.join(", ")}.`);
}
