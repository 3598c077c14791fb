/**
 * The software engine: every construction done with node:crypto on key material held in process
 * memory. For services that hold keys themselves, for tests, and as the reference the HSM engine
 * is checked against.
 */
import { createHash, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, KeyObject } from "node:crypto";
import { CiopError } from "@ciop/core";
import type { HashName, KeyType } from "@ciop/hsm";
import type { TargetKey, WrapEngine, WrappingKey, WrapResult } from "./engine.js";
import { isExactDerSequence } from "./der.js";
import { assertKeyType, ecCurveName, keyKind, rsaKeyBits, secretKeyLength } from "./key-types.js";
import { keyObjectFacts, type PublicKeyFacts } from "./public-key-facts.js";
import {
  aesGcmSeal,
  checkAesGcmUnderTarget,
  concat,
  hashLabel,
  rsaOaepEncrypt,
  rsaPkcs1Encrypt,
  softwareRsaAesEcb,
  softwareRsaAesKeyWrap,
  softwareRsaOaepAesGcm,
} from "./software/primitives.js";

interface Material {
  key: KeyObject;
  /** Exact PKCS#8 DER the caller gave, kept byte for byte. */
  pkcs8?: Buffer;
}

const MATERIAL = new WeakMap<TargetKey, Material>();

/** A {@link TargetKey} of the software engine. @public */
export interface SoftwareTargetKey extends TargetKey {
  readonly engine: "software";
}

function mismatch(name: string, type: KeyType, what: string): CiopError {
  return new CiopError("ERR_KEY_TYPE_MISMATCH", `Key "${name}": the material is ${what}, which does not match ${type}.`);
}

function checkPrivate(name: string, type: KeyType, key: KeyObject): void {
  if (key.type !== "private") throw mismatch(name, type, `a ${key.type} key, not a private key`);
  // Curve and modulus come from the key's SPKI DER, never from key.asymmetricKeyDetails: right after
  // generateKeyPairSync("ec") that getter can deadlock Node 20 (see public-key-facts.ts).
  let d: PublicKeyFacts;
  try {
    d = keyObjectFacts(key);
  } catch (err) {
    throw new CiopError(
      "ERR_KEY_TYPE_MISMATCH",
      `Key "${name}": the ${key.asymmetricKeyType ?? "unknown"} key's public half could not be read, so it cannot be checked against ${type}.`,
      { cause: err },
    );
  }
  const bits = rsaKeyBits(type);
  if (bits !== undefined) {
    if (key.asymmetricKeyType !== "rsa" || d.modulusLength !== bits) {
      throw mismatch(name, type, `${key.asymmetricKeyType}${d.modulusLength ? `-${d.modulusLength}` : ""}`);
    }
    return;
  }
  const curve = ecCurveName(type);
  if (key.asymmetricKeyType !== "ec" || d.namedCurve !== curve) {
    throw mismatch(name, type, `${key.asymmetricKeyType}${d.namedCurve ? ` on ${d.namedCurve}` : ""}`);
  }
}

/**
 * Wraps existing key material as a software {@link TargetKey}.
 *
 * @param material - secret types (AES-*, HMAC-*): the raw key bytes of exactly the type's length,
 * or a secret KeyObject; key pairs (RSA-*, EC-*): PKCS#8 DER bytes (kept byte for byte) or a
 * private KeyObject. The bytes are copied; the caller may zeroize its own copy.
 * @throws CiopError ERR_KEY_TYPE_MISMATCH when the material does not match `type`.
 * @public
 */
export function softwareKey(name: string, type: KeyType, material: Uint8Array | KeyObject): SoftwareTargetKey {
  assertKeyType(type);
  const kind = keyKind(type);
  let m: Material;
  if (kind === "secret") {
    const len = secretKeyLength(type)!;
    let key: KeyObject;
    if (material instanceof KeyObject) {
      if (material.type !== "secret") throw mismatch(name, type, `a ${material.type} key`);
      key = material;
    } else {
      key = createSecretKey(Buffer.from(material));
    }
    if (key.symmetricKeySize !== len) throw mismatch(name, type, `${key.symmetricKeySize ?? 0} bytes (expected ${len})`);
    m = { key };
  } else if (material instanceof KeyObject) {
    checkPrivate(name, type, material);
    m = { key: material };
  } else {
    const der = Buffer.from(material);
    let key: KeyObject;
    try {
      if (!isExactDerSequence(der)) throw new Error("not exact DER");
      key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    } catch (err) {
      der.fill(0);
      throw new CiopError("ERR_KEY_TYPE_MISMATCH", `Key "${name}": ${type} material must be PKCS#8 DER (PrivateKeyInfo) with no trailing bytes.`, {
        cause: err,
      });
    }
    checkPrivate(name, type, key);
    m = { key, pkcs8: der };
  }
  const target: SoftwareTargetKey = Object.freeze({ engine: "software", type, kind, name });
  MATERIAL.set(target, m);
  return target;
}

/**
 * Generates a fresh software key of `type` (random bytes for secrets, node:crypto key pairs otherwise).
 * @public
 */
export function generateSoftwareKey(name: string, type: KeyType): SoftwareTargetKey {
  assertKeyType(type);
  if (keyKind(type) === "secret") {
    const raw = randomBytes(secretKeyLength(type)!);
    try {
      return softwareKey(name, type, raw);
    } finally {
      raw.fill(0);
    }
  }
  const bits = rsaKeyBits(type);
  const pair =
    bits !== undefined
      ? generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 0x10001 })
      : generateKeyPairSync("ec", { namedCurve: ecCurveName(type)! });
  return softwareKey(name, type, pair.privateKey);
}

function material(target: TargetKey): Material {
  const m = target.engine === "software" ? MATERIAL.get(target) : undefined;
  if (!m) {
    throw new CiopError(
      "ERR_USAGE",
      `Key "${target.name}" is not a software key (engine "${target.engine}"); create it with softwareKey() or generateSoftwareKey(), or use the engine it belongs to.`,
    );
  }
  return m;
}

/**
 * The bytes that go inside a wrap: raw secret bytes, or PKCS#8 DER for private keys.
 * Returns a fresh buffer the caller must zeroize.
 * @internal
 */
export function softwareKeyBytes(target: TargetKey): Buffer {
  const m = material(target);
  if (m.pkcs8) return Buffer.from(m.pkcs8);
  return target.kind === "secret" ? m.key.export() : (m.key.export({ format: "der", type: "pkcs8" }) as Buffer);
}

function requireSecret(target: TargetKey, what: string): void {
  if (target.kind !== "secret") {
    throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `${what} takes a secret key (AES or HMAC); "${target.name}" is ${target.type}.`);
  }
}

/** Runs `fn` on the target's bytes and zeroizes them afterwards. */
function withBytes<T>(target: TargetKey, fn: (bytes: Buffer) => T): T {
  const bytes = softwareKeyBytes(target);
  try {
    return fn(bytes);
  } finally {
    bytes.fill(0);
  }
}

/**
 * Creates the software {@link WrapEngine}. Results always have `hostFallback: false` (there is no
 * HSM to fall back from); `steps` name the node:crypto operations.
 * @public
 */
export function createSoftwareEngine(): WrapEngine {
  const result = (bytes: Uint8Array, steps: string[]): WrapResult => ({ bytes, hostFallback: false, steps });
  return Object.freeze({
    name: "software" as const,
    async rsaOaep(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult> {
      return result(
        withBytes(target, (b) => rsaOaepEncrypt(wrappingKey, hash, b)),
        [`RSA-OAEP(${hashLabel(hash)})`],
      );
    },
    async rsaPkcs1v15(wrappingKey: WrappingKey, target: TargetKey): Promise<WrapResult> {
      return result(
        withBytes(target, (b) => rsaPkcs1Encrypt(wrappingKey, b)),
        ["RSA-PKCS1-v1_5"],
      );
    },
    async rsaAesKeyWrap(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult> {
      return result(
        withBytes(target, (b) => softwareRsaAesKeyWrap(wrappingKey, hash, b)),
        ["AES-256-KWP(RFC 5649)", `RSA-OAEP(${hashLabel(hash)})`],
      );
    },
    async rsaAesEcb(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult> {
      return result(
        withBytes(target, (b) => softwareRsaAesEcb(wrappingKey, hash, b)),
        ["AES-256-ECB-PKCS7", `RSA-OAEP(${hashLabel(hash)})`],
      );
    },
    async rsaOaepAesGcm(wrappingKey: WrappingKey, target: TargetKey, hash: HashName, aad: Uint8Array) {
      requireSecret(target, "AES-GCM key transport");
      const parts = withBytes(target, (b) => softwareRsaOaepAesGcm(wrappingKey, hash, b, aad));
      return {
        ...result(concat(parts.encryptedKey, parts.iv, parts.ciphertext, parts.tag), ["AES-256-GCM", `RSA-OAEP(${hashLabel(hash)})`]),
        ...parts,
      };
    },
    async aesGcmUnderTarget(target: TargetKey, plaintext: Uint8Array, aad?: Uint8Array) {
      checkAesGcmUnderTarget(target, plaintext);
      const parts = withBytes(target, (b) => aesGcmSeal(b, plaintext, aad));
      return { ...result(concat(parts.ciphertext, parts.tag), ["AES-GCM"]), ...parts };
    },
    async digest(target: TargetKey, hash: HashName): Promise<Uint8Array> {
      requireSecret(target, "A key digest");
      return withBytes(target, (b) => new Uint8Array(createHash(hash).update(b).digest()));
    },
    async publicKey(target: TargetKey): Promise<Uint8Array> {
      if (target.kind !== "private") {
        throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `"${target.name}" is a secret key (${target.type}); it has no public key.`);
      }
      const m = material(target);
      return new Uint8Array(createPublicKey(m.key).export({ format: "der", type: "spki" }));
    },
  });
}
