/**
 * The request checks every provider's plan() makes: provider name, key name, provider options,
 * key type, algorithm, wrapping-key shape and certificate validity, and the plaintext bounds of
 * direct RSA encryption. Every failure is a usage CiopError whose message names the bad value and
 * lists what is accepted. Each provider calls them in its own order (the order decides which error
 * a request with several problems gets).
 */
import { CiopError } from "@ciop/core";
import { secretKeyLength } from "@ciop/wrap";
import type { KeyType, ProviderOptions, WrappingKey } from "@ciop/wrap";

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** @public */
export function checkKeyName(name: unknown): string {
  if (typeof name !== "string" || !KEY_NAME.test(name)) {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `Invalid key name ${JSON.stringify(name)}: use 1-128 characters A-Z a-z 0-9 . _ - starting with a letter or digit (it becomes part of the output file names).`,
    );
  }
  return name;
}

/** @public */
export function checkProvider(provider: unknown, names: readonly string[]): string {
  if (typeof provider !== "string" || !names.includes(provider)) {
    throw new CiopError("ERR_PROVIDER_UNKNOWN", `This module handles provider ${names.map((n) => `"${n}"`).join(" or ")}, not ${JSON.stringify(provider)}.`);
  }
  return provider;
}

/**
 * Refuses provider options this provider does not take (ERR_USAGE), so that no option is silently
 * ignored; returns the options (an empty object when none were given).
 * @public
 */
export function checkProviderOptions(options: unknown, accepted: readonly string[], label: string): ProviderOptions {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new CiopError("ERR_USAGE", `${label}: provider options must be an object, not ${JSON.stringify(options)}.`);
  }
  const unknown = Object.keys(options).filter((k) => !accepted.includes(k));
  if (unknown.length > 0) {
    throw new CiopError(
      "ERR_USAGE",
      `${label} takes no option ${unknown.map((k) => JSON.stringify(k)).join(", ")}. ` +
        (accepted.length > 0 ? `Accepted: ${accepted.join(", ")}.` : "It takes no provider options."),
    );
  }
  return options as ProviderOptions;
}

/** @public */
export function checkKeyType(keyType: string | undefined, accepted: readonly KeyType[], fallback: KeyType, label: string): KeyType {
  const type = keyType ?? fallback;
  if (!(accepted as readonly string[]).includes(type)) {
    throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `${label} does not import key type "${type}". Accepted: ${accepted.join(", ")}.`);
  }
  return type as KeyType;
}

/** @public */
export function checkAlgorithmGiven(algorithm: string | undefined, accepted: readonly string[], label: string): string {
  if (algorithm === undefined || algorithm === "") {
    throw new CiopError("ERR_USAGE", `${label} needs a wrapping algorithm (wrapAlg). Accepted: ${accepted.join(", ")}.`);
  }
  if (!accepted.includes(algorithm)) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${label} does not accept wrapping algorithm "${algorithm}". Accepted: ${accepted.join(", ")}.`);
  }
  return algorithm;
}

/** @public */
export function checkWrappingKeyShape(wrappingKey: WrappingKey, bits: readonly number[], label: string): void {
  if (wrappingKey.type !== "RSA") {
    throw new CiopError(
      "ERR_WRAPPING_KEY_INVALID",
      `${label} wraps with an RSA key; the wrapping key given is ${wrappingKey.type} (${wrappingKey.bits} bits). Accepted: RSA ${bits.join(", ")} bits.`,
    );
  }
  if (!bits.includes(wrappingKey.bits)) {
    throw new CiopError("ERR_WRAPPING_KEY_SIZE", `${label} does not use a ${wrappingKey.bits}-bit RSA wrapping key. Accepted sizes: ${bits.join(", ")} bits.`);
  }
}

/**
 * Refuses an expired or not-yet-valid wrapping certificate unless `allow` is set, in which case it
 * returns a warning instead.
 * @public
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
  throw new CiopError("ERR_CERTIFICATE_NOT_VALID", `${text}. Download a current certificate from the provider, or explicitly allow an invalid certificate.`);
}

/** Largest plaintext RSA-OAEP can carry: k - 2*hLen - 2 bytes. @public */
export function oaepCapacity(modulusBits: number, hash: "sha1" | "sha256" | "sha384" | "sha512"): number {
  const hLen = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash];
  return modulusBits / 8 - 2 * hLen - 2;
}

/** Largest plaintext RSA PKCS#1 v1.5 encryption can carry: k - 11 bytes. @public */
export function pkcs1Capacity(modulusBits: number): number {
  return modulusBits / 8 - 11;
}

/**
 * Size in bytes of what a wrap of `type` carries: the raw secret, or the largest usual PKCS#8
 * encoding of an EC private key (with the optional embedded public key). RSA keys are never
 * carried by direct RSA encryption, so they have no entry.
 * @public
 */
export function plaintextSize(type: KeyType): number | undefined {
  return secretKeyLength(type) ?? EC_PKCS8_BYTES[type];
}

/** Largest usual PKCS#8 encoding of each EC key type (with the embedded public key). */
const EC_PKCS8_BYTES: Readonly<Partial<Record<KeyType, number>>> = {
  "EC-NISTP256": 138,
  "EC-SECP256K1": 135,
  "EC-NISTP384": 185,
  "EC-NISTP521": 241,
};
