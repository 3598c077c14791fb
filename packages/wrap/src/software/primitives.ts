/**
 * The node:crypto building blocks the constructions are made of. Used by the software engine and by
 * the HSM engine's host-side fallback. Every function zeroizes the intermediate buffers it owns.
 */
import { constants, createCipheriv, publicEncrypt, randomBytes } from "node:crypto";
import { CiopError } from "@ciop/core";
import type { HashName } from "@ciop/hsm";
import type { TargetKey, WrappingKey } from "../engine.js";
import { wrappingPublicKeyObject } from "../parse-wrapping-key.js";

/** The RFC 5649 alternative initial value (first half; the length is appended by the cipher). */
export const KWP_IV = Buffer.from("A65959A6", "hex");

const HASH_BYTES: Readonly<Record<HashName, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Display name of a hash for step lists, e.g. "SHA-256". */
export function hashLabel(hash: HashName): string {
  return hash === "sha1" ? "SHA-1" : `SHA-${hash.slice(3)}`;
}

function requireRsa(wrappingKey: WrappingKey): number {
  if (wrappingKey.type !== "RSA") {
    throw new CiopError("ERR_WRAPPING_KEY_INVALID", `This construction needs an RSA wrapping key; got ${wrappingKey.type}-${wrappingKey.bits}.`);
  }
  return Math.ceil(wrappingKey.bits / 8);
}

/** Largest plaintext RSA-OAEP with `hash` can carry under `wrappingKey`: k − 2·hLen − 2. */
export function oaepMaxPlaintext(wrappingKey: WrappingKey, hash: HashName): number {
  return requireRsa(wrappingKey) - 2 * HASH_BYTES[hash] - 2;
}

function assertHash(hash: string): asserts hash is HashName {
  if (!(hash in HASH_BYTES)) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `Unknown hash "${hash}". Accepted: sha1, sha256, sha384, sha512.`);
  }
}

/** RSA-OAEP, the same hash for OAEP and MGF1, empty label. */
export function rsaOaepEncrypt(wrappingKey: WrappingKey, hash: HashName, plaintext: Uint8Array): Uint8Array {
  assertHash(hash);
  const max = oaepMaxPlaintext(wrappingKey, hash);
  if (plaintext.length > max) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `The key material (${plaintext.length} bytes) is too large for RSA-OAEP with ${hashLabel(hash)} under RSA-${wrappingKey.bits} (at most ${max} bytes). Use an RSA-AES key wrap algorithm or a larger wrapping key.`,
    );
  }
  return new Uint8Array(publicEncrypt({ key: wrappingPublicKeyObject(wrappingKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext));
}

/** RSAES-PKCS1-v1_5 encryption (legacy). */
export function rsaPkcs1Encrypt(wrappingKey: WrappingKey, plaintext: Uint8Array): Uint8Array {
  const max = requireRsa(wrappingKey) - 11;
  if (plaintext.length > max) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `The key material (${plaintext.length} bytes) is too large for RSA PKCS#1 v1.5 under RSA-${wrappingKey.bits} (at most ${max} bytes).`,
    );
  }
  return new Uint8Array(publicEncrypt({ key: wrappingPublicKeyObject(wrappingKey), padding: constants.RSA_PKCS1_PADDING }, plaintext));
}

function aesAlgorithm(key: Uint8Array, mode: string): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new CiopError("ERR_INTERNAL", "AES keys are 16, 24 or 32 bytes.");
  }
  return mode === "wrap-pad" ? `id-aes${key.length * 8}-wrap-pad` : `aes-${key.length * 8}-${mode}`;
}

/** RFC 5649 AES key wrap with padding (KWP). Output length 8 + ceil(len/8)·8. */
export function aesKwpWrap(kek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv(aesAlgorithm(kek, "wrap-pad"), kek, KWP_IV);
  const a = cipher.update(plaintext);
  const b = cipher.final();
  const out = new Uint8Array(Buffer.concat([a, b]));
  a.fill(0);
  return out;
}

/** AES-ECB with PKCS#7 padding (Alibaba's asymmetric import layout). */
export function aesEcbPkcs7Encrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv(aesAlgorithm(key, "ecb"), key, null);
  const a = cipher.update(plaintext);
  const b = cipher.final();
  return new Uint8Array(Buffer.concat([a, b]));
}

/** AES-GCM with a 96-bit IV and a 128-bit tag. */
export function aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ciphertext: Uint8Array; tag: Uint8Array } {
  const cipher = createCipheriv(aesAlgorithm(key, "gcm") as "aes-256-gcm", key, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final()]));
  return { ciphertext, tag: new Uint8Array(cipher.getAuthTag()) };
}

/**
 * AES-GCM of `plaintext` under `key` with a fresh 12-byte IV and a 16-byte tag; no AAD when `aad`
 * is absent (an empty AAD is the same thing in GCM).
 */
export function aesGcmSeal(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): { iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array } {
  const iv = random(12);
  return { iv, ...aesGcmEncrypt(key, iv, plaintext, aad ?? new Uint8Array(0)) };
}

/**
 * The checks both engines make before aesGcmUnderTarget: an AES target (GCM is an AES mode) and a
 * non-empty plaintext (PKCS#11 tokens refuse an empty one, so the software engine does too).
 */
export function checkAesGcmUnderTarget(target: TargetKey, plaintext: Uint8Array): void {
  if (!target.type.startsWith("AES-")) {
    throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `AES-GCM under the target key needs an AES key; "${target.name}" is ${target.type}.`);
  }
  if (!(plaintext instanceof Uint8Array) || plaintext.length === 0) {
    throw new CiopError("ERR_USAGE", "AES-GCM under the target key needs a non-empty plaintext.");
  }
}

/** Fresh random bytes (ephemeral keys, IVs). */
export function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** Concatenation into a new buffer. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Host-side RSA-AES key wrap: OAEP(hash)(eph AES-256) ‖ KWP(eph, plaintext). Zeroizes eph. */
export function softwareRsaAesKeyWrap(wrappingKey: WrappingKey, hash: HashName, plaintext: Uint8Array): Uint8Array {
  const eph = random(32);
  try {
    return concat(rsaOaepEncrypt(wrappingKey, hash, eph), aesKwpWrap(eph, plaintext));
  } finally {
    eph.fill(0);
  }
}

/** Host-side Alibaba layout: OAEP(hash)(eph AES-256) ‖ AES-256-ECB-PKCS7(eph, plaintext). Zeroizes eph. */
export function softwareRsaAesEcb(wrappingKey: WrappingKey, hash: HashName, plaintext: Uint8Array): Uint8Array {
  const eph = random(32);
  try {
    return concat(rsaOaepEncrypt(wrappingKey, hash, eph), aesEcbPkcs7Encrypt(eph, plaintext));
  } finally {
    eph.fill(0);
  }
}

/** Host-side JWE-style wrap: AES-256-GCM(cek, iv, plaintext, aad), OAEP(hash)(cek). Zeroizes cek. */
export function softwareRsaOaepAesGcm(
  wrappingKey: WrappingKey,
  hash: HashName,
  plaintext: Uint8Array,
  aad: Uint8Array,
): { encryptedKey: Uint8Array; iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array } {
  const cek = random(32);
  try {
    const iv = random(12);
    const { ciphertext, tag } = aesGcmEncrypt(cek, iv, plaintext, aad);
    const encryptedKey = rsaOaepEncrypt(wrappingKey, hash, cek);
    return { encryptedKey, iv, ciphertext, tag };
  } finally {
    cek.fill(0);
  }
}
