/**
 * Alibaba Cloud KMS import rules (symmetric and asymmetric key material).
 */
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name (ciop's; the seed CLI has no Alibaba provider). @public */
export const ALIBABA_PROVIDER_NAME = "alibaba";

/**
 * Wrapping algorithms, named as Alibaba's `GetParametersForImport` names them.
 * - Symmetric (`Aliyun_AES_256` keys): `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1` (not on
 *   dedicated KMS instances), `RSAES_PKCS1_V1_5` (legacy: only with `allowLegacy`, always warned about).
 * - Asymmetric (RSA_2048, RSA_3072, EC_P256, EC_P256K keys):
 *   `RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD` = RSA-OAEP-SHA-256(ephemeral AES-256) followed by
 *   AES-256-ECB with PKCS#7 padding of the PKCS#8 private key.
 * @public
 */
export const ALIBABA_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD"] as const;

/** @public */
export type AlibabaAlgorithm = (typeof ALIBABA_ALGORITHMS)[number];

/** Symmetric targets (the first three algorithms). @public */
export const ALIBABA_SYMMETRIC_KEY_TYPES: readonly KeyType[] = ["AES-256"];

/** Asymmetric targets (RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD). @public */
export const ALIBABA_ASYMMETRIC_KEY_TYPES: readonly KeyType[] = ["RSA-2048", "RSA-3072", "EC-NISTP256", "EC-SECP256K1"];

/** @public */
export const ALIBABA_KEY_TYPES: readonly KeyType[] = [...ALIBABA_SYMMETRIC_KEY_TYPES, ...ALIBABA_ASYMMETRIC_KEY_TYPES];

/** @public */
export const ALIBABA_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** WrappingKeySpec RSA_2048 is the only RSA wrapping key Alibaba issues. @public */
export const ALIBABA_WRAPPING_KEY_BITS: readonly number[] = [2048];

/** Alibaba key specs matching each target type. @public */
export const ALIBABA_KEY_SPECS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "Aliyun_AES_256",
  "RSA-2048": "RSA_2048",
  "RSA-3072": "RSA_3072",
  "EC-NISTP256": "EC_P256",
  "EC-SECP256K1": "EC_P256K",
};

/** @internal */
export const ALIBABA_ALGORITHM_STEPS: Readonly<Record<AlibabaAlgorithm, { kind: "oaep" | "pkcs1" | "rsa-aes-ecb"; hash: HashName }>> = {
  RSAES_OAEP_SHA_256: { kind: "oaep", hash: "sha256" },
  RSAES_OAEP_SHA_1: { kind: "oaep", hash: "sha1" },
  RSAES_PKCS1_V1_5: { kind: "pkcs1", hash: "sha1" },
  RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD: { kind: "rsa-aes-ecb", hash: "sha256" },
};

/** Output: base64 EncryptedKeyMaterial, named in the seed's style. @public */
export function alibabaWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}
