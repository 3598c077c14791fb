/**
 * Request checks shared by this provider's plan(): key name, key type, algorithm, wrapping-key shape
 * and certificate validity. Every failure is a usage CiopError whose message names the bad value and
 * lists what is accepted.
 */
import { CiopError } from "@ciop/core";
import type { KeyType, WrappingKey } from "@ciop/wrap";

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** @internal */
export function checkKeyName(name: unknown): string {
  if (typeof name !== "string" || !KEY_NAME.test(name)) {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `Invalid key name ${JSON.stringify(name)}: use 1-128 characters A-Z a-z 0-9 . _ - starting with a letter or digit (it becomes part of the output file names).`,
    );
  }
  return name;
}

/** @internal */
export function checkProvider(provider: unknown, names: readonly string[]): string {
  if (typeof provider !== "string" || !names.includes(provider)) {
    throw new CiopError(
      "ERR_PROVIDER_UNKNOWN",
      `This module handles provider ${names.map((n) => `"${n}"`).join(" or ")}, not ${JSON.stringify(provider)}.`,
    );
  }
  return provider;
}

/** @internal */
export function checkKeyType(
  keyType: string | undefined,
  accepted: readonly KeyType[],
  fallback: KeyType,
  label: string,
): KeyType {
  const type = keyType ?? fallback;
  if (!(accepted as readonly string[]).includes(type)) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `${label} does not import key type "${type}". Accepted: ${accepted.join(", ")}.`,
    );
  }
  return type as KeyType;
}

/** @internal */
export function checkAlgorithmGiven(algorithm: string | undefined, accepted: readonly string[], label: string): string {
  if (algorithm === undefined || algorithm === "") {
    throw new CiopError(
      "ERR_USAGE",
      `${label} needs a wrapping algorithm (wrapAlg). Accepted: ${accepted.join(", ")}.`,
    );
  }
  if (!accepted.includes(algorithm)) {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${label} does not accept wrapping algorithm "${algorithm}". Accepted: ${accepted.join(", ")}.`,
    );
  }
  return algorithm;
}

/** @internal */
export function checkWrappingKeyShape(wrappingKey: WrappingKey, bits: readonly number[], label: string): void {
  if (wrappingKey.type !== "RSA") {
    throw new CiopError(
      "ERR_WRAPPING_KEY_INVALID",
      `${label} wraps with an RSA key; the wrapping key given is ${wrappingKey.type} (${wrappingKey.bits} bits). Accepted: RSA ${bits.join(", ")} bits.`,
    );
  }
  if (!bits.includes(wrappingKey.bits)) {
    throw new CiopError(
      "ERR_WRAPPING_KEY_SIZE",
      `${label} does not use a ${wrappingKey.bits}-bit RSA wrapping key. Accepted sizes: ${bits.join(", ")} bits.`,
    );
  }
}

/**
 * Refuses an expired or not-yet-valid wrapping certificate unless `allow` is set, in which case it
 * returns a warning instead.
 * @internal
 */
export function checkCertificate(wrappingKey: WrappingKey, allow: boolean | undefined, now = new Date()): string[] {
  const cert = wrappingKey.certificate;
  if (cert === undefined) return [];
  const t = now.getTime();
  let problem: string | undefined;
  if (t < cert.notBefore.getTime()) problem = `is not valid before ${cert.notBefore.toISOString()}`;
  else if (t > cert.notAfter.getTime()) problem = `expired on ${cert.notAfter.toISOString()}`;
  if (problem === undefined) return [];
  const text = `The wrapping certificate (subject "${cert.subject}") ${problem}`;
  if (allow === true) return [`${text}; used anyway because invalid certificates were allowed.`];
  throw new CiopError(
    "ERR_CERTIFICATE_NOT_VALID",
    `${text}. Download a current certificate from the provider, or explicitly allow an invalid certificate.`,
  );
}

/** Largest plaintext RSA-OAEP can carry: k - 2*hLen - 2 bytes. @internal */
export function oaepCapacity(modulusBits: number, hash: "sha1" | "sha256" | "sha384" | "sha512"): number {
  const hLen = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash];
  return modulusBits / 8 - 2 * hLen - 2;
}

/** Largest plaintext RSA PKCS#1 v1.5 encryption can carry: k - 11 bytes. @internal */
export function pkcs1Capacity(modulusBits: number): number {
  return modulusBits / 8 - 11;
}

/**
 * Size in bytes of what a wrap of `type` carries: the raw secret, or the largest usual PKCS#8
 * encoding of an EC private key (with the optional embedded public key). RSA keys are never
 * carried by direct RSA encryption, so they have no entry.
 * @internal
 */
export function plaintextSize(type: KeyType): number | undefined {
  const sizes: Partial<Record<KeyType, number>> = {
    "AES-128": 16, "AES-192": 24, "AES-256": 32,
    "HMAC-160": 20, "HMAC-224": 28, "HMAC-256": 32, "HMAC-384": 48, "HMAC-512": 64,
    "EC-NISTP256": 138, "EC-SECP256K1": 135, "EC-NISTP384": 185, "EC-NISTP521": 241,
  };
  return sizes[type];
}
