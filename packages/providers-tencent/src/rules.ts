/**
 * Tencent Cloud KMS import rules (GetParametersForImport / ImportKeyMaterial, API 2019-01-18), as
 * an AWS-style rule set. Sources are listed in the package README.
 */
import type { AwsStyleAlgorithm, AwsStyleRules, AwsStyleUsage } from "@ciop/providers-aws";
import type { KeyType } from "@ciop/wrap";

/** Provider name. @public */
export const TENCENT_PROVIDER_NAME = "tencent";

/**
 * Wrapping algorithms, as `GetParametersForImport` names them (its `WrappingAlgorithm` takes
 * exactly these three). All three encrypt the key material itself with the RSA-2048 wrapping key.
 * `RSAES_PKCS1_V1_5` is legacy: only with `allowLegacy`, always with a warning.
 * @public
 */
export const TENCENT_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"] as const;

/** @public */
export type TencentAlgorithm = (typeof TENCENT_ALGORITHMS)[number];

/**
 * Key types: 256-bit symmetric key material, what `ImportKeyMaterial` takes in Tencent's
 * FIPS-compliant regions (its SM-CRYPTO regions take 128-bit SM4 material, which ciop does not make).
 * @public
 */
export const TENCENT_KEY_TYPES: readonly KeyType[] = ["AES-256"];

/** @public */
export const TENCENT_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** `WrappingKeySpec`: only RSA_2048 is offered. @public */
export const TENCENT_WRAPPING_KEY_BITS: readonly number[] = [2048];

/** The Tencent key that takes each target type (for the usage text). @public */
export const TENCENT_KEY_SPECS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "KeyUsage ENCRYPT_DECRYPT",
};

/** Name of the base64 `EncryptedKeyMaterial` file. @public */
export function tencentWrappedFileName(keyName: string): string {
  return `${keyName}-EncryptedKeyMaterial.b64`;
}

const LEGACY = "RSAES_PKCS1_V1_5 is a legacy padding (open to padding-oracle attacks); Tencent Cloud KMS still offers it, but prefer RSAES_OAEP_SHA_256.";

const TENCENT_ALGORITHM_RULES: Readonly<Record<TencentAlgorithm, AwsStyleAlgorithm>> = {
  RSAES_OAEP_SHA_256: { secret: { kind: "oaep", hash: "sha256" } },
  RSAES_OAEP_SHA_1: { secret: { kind: "oaep", hash: "sha1" } },
  RSAES_PKCS1_V1_5: { secret: { kind: "pkcs1", hash: "sha1" }, legacy: LEGACY },
};

const NO_SM =
  "Tencent's SM-CRYPTO regions import 128-bit SM4 key material; ciop makes no SM4 keys and implements no SM2 encryption. Use a FIPS-compliant region with AES-256 key material.";
const NO_KEY_PAIRS = "Tencent Cloud KMS imports only symmetric key material (no key pairs, so no RSA-AES key wrap).";

function tencentUsage({ plan, files }: AwsStyleUsage): string {
  return (
    `EncryptedKeyMaterial (base64) for a Tencent Cloud KMS key created with key material source External (CreateKey --Type 2), ` +
    `whose wrapping public key (WrappingKeySpec RSA_2048) and import token came from GetParametersForImport with WrappingAlgorithm ` +
    `${plan.algorithm} (both valid for 24 hours). It is 256-bit key material, as Tencent's FIPS-compliant regions take. ` +
    `TCCLI: tccli kms ImportKeyMaterial --KeyId <key id> --ImportToken <ImportToken> --EncryptedKeyMaterial "$(cat ${files[0]})" ` +
    `(add --ValidTo <unix time> for material that expires).`
  );
}

/**
 * Tencent Cloud KMS as AWS-style rules.
 * @public
 */
export const TENCENT_RULES: AwsStyleRules<TencentAlgorithm> = {
  label: "Tencent Cloud KMS",
  names: [TENCENT_PROVIDER_NAME],
  algorithms: TENCENT_ALGORITHM_RULES,
  keyTypes: TENCENT_KEY_TYPES,
  defaultKeyType: TENCENT_DEFAULT_KEY_TYPE,
  keySpecs: TENCENT_KEY_SPECS,
  wrappingKeyBits: TENCENT_WRAPPING_KEY_BITS,
  notOffered: {
    algorithms: { SM2PKE: NO_SM, SM2_ENCRYPT: NO_SM, RSA_AES_KEY_WRAP_SHA_256: NO_KEY_PAIRS, RSA_AES_KEY_WRAP_SHA_1: NO_KEY_PAIRS },
    keyTypes: { SM4: NO_SM, "SM4-128": NO_SM },
  },
  output: { encoding: "base64", fileName: tencentWrappedFileName, usage: tencentUsage },
};
