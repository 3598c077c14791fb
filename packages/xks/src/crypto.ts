import type { CompatibilityOptions } from "./metadata.js";
import type { XksRequestMetadata } from "./schema.js";
import type { XksOperation } from "./types.js";

/** What the key manager says about one external key. @public */
export interface XksKeyDescription {
  /** "AES_256" for a 256-bit AES key; anything else cannot serve XKS. */
  keySpec: string;
  /** false: the key is disabled in the key manager → InvalidStateException. */
  enabled: boolean;
  /** The key permits encryption (CKA_ENCRYPT). */
  canEncrypt: boolean;
  /** The key permits decryption (CKA_DECRYPT). */
  canDecrypt: boolean;
  /** Usages to report in GetKeyMetadata (default: derived from canEncrypt/canDecrypt). */
  keyUsage?: readonly string[];
  /**
   * The key version Encrypt uses now, for a key manager whose keys rotate (absent: 1, the
   * original key). Encrypt records it in the ciphertextMetadata.
   */
  currentVersion?: number;
}

/**
 * The key manager seen by the XKS handlers: AES-GCM with a caller-supplied IV and AAD, output
 * `ciphertext || 16-byte tag`. The proxy implements it over @ciop/hsm.
 *
 * Errors: throw a CiopError with code ERR_KEY_DISABLED (key disabled), ERR_DECRYPTION_FAILED
 * (bad tag/AAD), ERR_KEY_NOT_FOUND, ERR_TIMEOUT, or any XksError; everything else becomes
 * InternalException.
 * @public
 */
export interface XksCrypto {
  /** undefined when the key does not exist in the key manager. */
  describeKey(keyId: string): Promise<XksKeyDescription | undefined>;
  /** `keyVersion`: the version of a rotating key to use (absent: 1, the original key). */
  encrypt(keyId: string, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, keyVersion?: number): Promise<Uint8Array>;
  decrypt(keyId: string, iv: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array, keyVersion?: number): Promise<Uint8Array>;
  /**
   * One version of a rotating key: undefined when that version does not exist (never made, or
   * deleted); `enabled` false when it is disabled. Without this method a key has only version 1.
   */
  describeKeyVersion?(keyId: string, keyVersion: number): Promise<XksKeyDescription | undefined>;
  /**
   * Forgets what is cached about `keyId` (its state and versions), so the next describeKey reads
   * the token. Encrypt calls it once when the version it took as current turns out to be disabled.
   */
  refreshKey?(keyId: string): void;
  /**
   * Encrypts under an IV the key manager chooses (an HSM that generates the GCM IV itself) and
   * returns it with ciphertext ‖ tag. When present, Encrypt uses it instead of randomIv + encrypt.
   */
  seal?(keyId: string, plaintext: Uint8Array, aad: Uint8Array, keyVersion?: number): Promise<{ ciphertextAndTag: Uint8Array; iv: Uint8Array }>;
  /** A fresh 12-byte IV (default: node's CSPRNG). */
  randomIv?(): Uint8Array | Promise<Uint8Array>;
}

/**
 * What a key store allows: its key allow-list, optional secondary authorization, and the
 * decrypt compatibility switches.
 * @public
 */
export interface XksKeyPolicy {
  /** External key ids the store may use; others → KeyNotFoundException. */
  keys: readonly string[] | ReadonlySet<string>;
  /** Secondary authorization (never consulted for GetHealthStatus). false → AccessDeniedException. */
  authorize?(operation: XksOperation, keyId: string, metadata: XksRequestMetadata): boolean | Promise<boolean>;
  /** Accept ciphertexts made by the AWS sample proxy on Decrypt. */
  compat?: CompatibilityOptions;
}
