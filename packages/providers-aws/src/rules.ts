/**
 * AWS KMS import rules: wrapping algorithms, importable key types and wrapping-key sizes, with the
 * seed CLI's spellings.
 */
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name as the seed CLI spells it. @public */
export const AWS_PROVIDER_NAME = "aws";

/**
 * Wrapping algorithms, named as AWS KMS `GetParametersForImport` names them.
 * - `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1`: RSA-OAEP of the key material itself (symmetric,
 *   HMAC and EC keys whose PKCS#8 fits in one OAEP block).
 * - `RSA_AES_KEY_WRAP_SHA_256`, `RSA_AES_KEY_WRAP_SHA_1`: OAEP of an ephemeral AES-256 key followed
 *   by AES key wrap with padding (RFC 5649) of the material; required for RSA key pairs.
 * - `RSAES_PKCS1_V1_5`: legacy; AWS stopped accepting it in 2023. Only with `allowLegacy`.
 * @public
 */
export const AWS_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSAES_PKCS1_V1_5"] as const;

/** @public */
export type AwsAlgorithm = (typeof AWS_ALGORITHMS)[number];

/** Key types AWS KMS imports (SYMMETRIC_DEFAULT = AES-256, HMAC_224..512, RSA, ECC). @public */
export const AWS_KEY_TYPES: readonly KeyType[] = [
  "AES-256",
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

/** The seed's default target: a 256-bit AES key. @public */
export const AWS_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** Wrapping key specs RSA_2048, RSA_3072, RSA_4096. @public */
export const AWS_WRAPPING_KEY_BITS: readonly number[] = [2048, 3072, 4096];

/** The AWS KMS key spec that matches each target type (what to choose when creating the KMS key). @public */
export const AWS_KEY_SPECS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "SYMMETRIC_DEFAULT",
  "HMAC-224": "HMAC_224",
  "HMAC-256": "HMAC_256",
  "HMAC-384": "HMAC_384",
  "HMAC-512": "HMAC_512",
  "RSA-2048": "RSA_2048",
  "RSA-3072": "RSA_3072",
  "RSA-4096": "RSA_4096",
  "EC-NISTP256": "ECC_NIST_P256",
  "EC-NISTP384": "ECC_NIST_P384",
  "EC-NISTP521": "ECC_NIST_P521",
  "EC-SECP256K1": "ECC_SECG_P256K1",
};

/** How each algorithm is carried out. @internal */
export const AWS_ALGORITHM_STEPS: Readonly<Record<AwsAlgorithm, { kind: "oaep" | "rsa-aes" | "pkcs1"; hash: HashName }>> = {
  RSAES_OAEP_SHA_256: { kind: "oaep", hash: "sha256" },
  RSAES_OAEP_SHA_1: { kind: "oaep", hash: "sha1" },
  RSA_AES_KEY_WRAP_SHA_256: { kind: "rsa-aes", hash: "sha256" },
  RSA_AES_KEY_WRAP_SHA_1: { kind: "rsa-aes", hash: "sha1" },
  RSAES_PKCS1_V1_5: { kind: "pkcs1", hash: "sha1" },
};

/** Name of the file to upload as the wrapped key material (the seed's name). @public */
export function awsWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}
