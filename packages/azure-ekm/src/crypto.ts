import type { EkmAlgorithm, EkmKeyType } from "./types.js";

/** What the key manager says about one external key. @public */
export interface EkmKeyDescription {
  keyType: EkmKeyType;
  /** Bits: 256 for oct, the modulus size for RSA. */
  keySize: number;
  /** false: disabled in the key manager → 403 KeyDisabled. */
  enabled: boolean;
  /** RSA modulus, unsigned big-endian. */
  n?: Uint8Array;
  /** RSA public exponent, unsigned big-endian. */
  e?: Uint8Array;
}

/**
 * The key manager as the EKM handlers see it; xks-proxy implements it over @ciop/hsm. The key
 * stays in the key manager: `wrap` and `unwrap` run with it there.
 *
 * Errors: throw a CiopError with ERR_KEY_DISABLED, ERR_KEY_NOT_FOUND, ERR_DECRYPTION_FAILED (the
 * input does not unwrap), ERR_MECHANISM_UNSUPPORTED / ERR_HOST_FALLBACK_REFUSED (cannot do it),
 * ERR_TIMEOUT, ERR_HSM, or an EkmError; anything else becomes InternalServerError.
 * The handlers zero the buffers they pass in and the ones they get back once answered.
 * @public
 */
export interface EkmCrypto {
  /** undefined when the key does not exist. */
  describeKey(keyName: string): Promise<EkmKeyDescription | undefined>;
  wrap(keyName: string, alg: EkmAlgorithm, key: Uint8Array): Promise<Uint8Array>;
  unwrap(keyName: string, alg: EkmAlgorithm, wrapped: Uint8Array): Promise<Uint8Array>;
}

/**
 * Which keys a route serves: the allow-list (others → 404 KeyNotFound).
 * @public
 */
export interface EkmKeyPolicy {
  keys: readonly string[] | ReadonlySet<string>;
}
