/**
 * The wrapping engine: the primitive steps every BYOK construction is built from. Two adapters
 * implement it: the HSM engine (over @ciop/hsm, the target key stays in the HSM) and the software
 * engine (node:crypto, for services that hold key material themselves).
 *
 * This file is a contract shared by @ciop/wrap's constructions and the provider packages: extend it,
 * do not break it.
 */
import type { HashName, KeyType } from "@ciop/hsm";

export type { HashName, KeyType };

/** A key an engine can wrap. Opaque: the HSM engine holds a handle, the software engine bytes. */
export interface TargetKey {
  readonly engine: "hsm" | "software";
  readonly type: KeyType;
  /** "secret" = raw bytes inside the wrap; "private" = PKCS#8 DER inside the wrap. */
  readonly kind: "secret" | "private";
  readonly name: string;
}

/** A provider's RSA wrapping key (see parseWrappingKey / inspectWrappingKey). */
export interface WrappingKey {
  readonly type: "RSA" | "EC";
  readonly bits: number;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
  /** SHA-256 over the SPKI DER, lower-case hex. */
  readonly sha256: string;
  readonly strength: number;
  readonly certificate?: {
    subject: string;
    issuer: string;
    notBefore: Date;
    notAfter: Date;
    serialNumber: string;
  };
}

/** Bytes produced by a step plus what it took. */
export interface WrapResult {
  bytes: Uint8Array;
  /** True when key material (target or an ephemeral key protecting it) was in host memory. */
  hostFallback: boolean;
  /** Mechanisms/steps, e.g. ["CKM_AES_KEY_WRAP_PAD", "CKM_RSA_PKCS_OAEP(SHA-1)"]. */
  steps: string[];
}

/** What {@link WrapEngine.aesGcmUnderTarget} returns: `bytes` = ciphertext ‖ tag. */
export interface AesGcmUnderTargetResult extends WrapResult {
  /** The 12-byte IV the encryption used (chosen by ciop, or by a token that picks its own). */
  iv: Uint8Array;
  /** Ciphertext, as long as the plaintext. */
  ciphertext: Uint8Array;
  /** The 16-byte authentication tag. */
  tag: Uint8Array;
}

export interface WrapEngine {
  readonly name: "hsm" | "software";
  /**
   * RSA-OAEP (same hash for OAEP and MGF1, empty label) of the target's raw bytes (secret keys) or
   * PKCS#8 DER (key pairs, when it fits: k − 2·hLen − 2 bytes; RSA private keys never fit).
   */
  rsaOaep(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult>;
  /** RSA PKCS#1 v1.5 of the target's raw bytes (or PKCS#8 when it fits in k − 11 bytes). Legacy. */
  rsaPkcs1v15(wrappingKey: WrappingKey, target: TargetKey): Promise<WrapResult>;
  /** CKM_RSA_AES_KEY_WRAP: OAEP(ephemeral AES-256) ‖ KWP(ephemeral, target); PKCS#8 for private keys, no trailing padding. */
  rsaAesKeyWrap(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult>;
  /** Alibaba asymmetric layout: OAEP(ephemeral AES-256) ‖ AES-256-ECB-PKCS7(ephemeral, PKCS#8 target). */
  rsaAesEcb(wrappingKey: WrappingKey, target: TargetKey, hash: HashName): Promise<WrapResult>;
  /**
   * AES-256-GCM of the target's raw bytes under a fresh CEK and a fresh 96-bit IV (128-bit tag),
   * the CEK then RSA-OAEP wrapped (JWE RSA-OAEP/A256GCM). Secret keys only.
   * `bytes` = encryptedKey ‖ iv ‖ ciphertext ‖ tag (the parts are also returned separately).
   */
  rsaOaepAesGcm(
    wrappingKey: WrappingKey,
    target: TargetKey,
    hash: HashName,
    aad: Uint8Array,
  ): Promise<WrapResult & { encryptedKey: Uint8Array; iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array }>;
  /**
   * AES-GCM encryption of `plaintext` (not key material: e.g. IBM Key Protect's import nonce) under
   * the target AES key itself, with a fresh 96-bit IV and a 128-bit tag; `aad` optional (none when
   * absent or empty). AES target keys only; the plaintext must not be empty. In the HSM this is
   * C_EncryptInit(CKM_AES_GCM) with the target's handle; where the token has no AES-GCM, the
   * target goes through the host-fallback path like any other host step.
   * `bytes` = ciphertext ‖ tag (the parts are also returned separately).
   */
  aesGcmUnderTarget(target: TargetKey, plaintext: Uint8Array, aad?: Uint8Array): Promise<AesGcmUnderTargetResult>;
  /** Digest of the target's raw bytes (C_DigestKey in the HSM). Secret keys only. */
  digest(target: TargetKey, hash: HashName): Promise<Uint8Array>;
  /** SubjectPublicKeyInfo DER of a key pair target. */
  publicKey(target: TargetKey): Promise<Uint8Array>;
}
