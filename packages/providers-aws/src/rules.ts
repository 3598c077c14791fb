/**
 * AWS KMS import rules: wrapping algorithms, importable key types and wrapping-key sizes, with the
 * seed CLI's spellings, as one AWS-style rule set ({@link AWS_RULES}).
 */
import type { KeyType } from "@ciop/wrap";
import type { AwsStyleAlgorithm, AwsStyleRules, AwsStyleUsage } from "./aws-style.js";

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

/** Name of the file to upload as the wrapped key material (the seed's name). @public */
export function awsWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}

const LEGACY_WARNING =
  "RSAES_PKCS1_V1_5 is a legacy wrapping algorithm: AWS KMS has not accepted it for new imports since October 2023. Prefer RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.";

/** What each algorithm carries and how: direct RSA for secrets and EC keys, RSA-AES for everything. */
const AWS_ALGORITHM_RULES: Readonly<Record<AwsAlgorithm, AwsStyleAlgorithm>> = {
  RSAES_OAEP_SHA_256: { secret: { kind: "oaep", hash: "sha256" }, ec: { kind: "oaep", hash: "sha256" } },
  RSAES_OAEP_SHA_1: { secret: { kind: "oaep", hash: "sha1" }, ec: { kind: "oaep", hash: "sha1" } },
  RSA_AES_KEY_WRAP_SHA_256: { secret: { kind: "rsa-aes", hash: "sha256" }, ec: { kind: "rsa-aes", hash: "sha256" }, rsa: { kind: "rsa-aes", hash: "sha256" } },
  RSA_AES_KEY_WRAP_SHA_1: { secret: { kind: "rsa-aes", hash: "sha1" }, ec: { kind: "rsa-aes", hash: "sha1" }, rsa: { kind: "rsa-aes", hash: "sha1" } },
  RSAES_PKCS1_V1_5: { secret: { kind: "pkcs1", hash: "sha1" }, legacy: LEGACY_WARNING },
};

function awsUsage({ plan, keySpec, files }: AwsStyleUsage): string {
  const fileName = files[0]!;
  return (
    `Wrapped key material for an AWS KMS key with key spec ${keySpec} and origin EXTERNAL, whose wrapping key ` +
    `(RSA_${plan.wrappingKey.bits}) and import token were downloaded for wrapping algorithm ${plan.algorithm}. ` +
    `Console: choose this file as "Wrapped key material" next to the import token. CLI: aws kms import-key-material ` +
    `--key-id <key id> --encrypted-key-material fileb://${fileName} --import-token fileb://<import token file> ` +
    `--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE.`
  );
}

/**
 * AWS KMS as an AWS-style rule set: the definition the `aws` module is built from, and the model
 * the clouds that copy AWS's import API follow.
 * @public
 */
export const AWS_RULES: AwsStyleRules<AwsAlgorithm> = {
  label: "AWS KMS",
  names: [AWS_PROVIDER_NAME],
  algorithms: AWS_ALGORITHM_RULES,
  keyTypes: AWS_KEY_TYPES,
  defaultKeyType: AWS_DEFAULT_KEY_TYPE,
  keySpecs: AWS_KEY_SPECS,
  wrappingKeyBits: AWS_WRAPPING_KEY_BITS,
  output: { encoding: "binary", fileName: awsWrappedFileName, usage: awsUsage },
};
