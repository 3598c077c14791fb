/**
 * Open Telekom Cloud KMS and Huawei Cloud KMS import rules (get-parameters-for-import /
 * import-key-material, API v1.0), as two AWS-style rule sets. Open Telekom Cloud runs Huawei's KMS,
 * so the layout is the same; the documented algorithms differ. Sources are listed in the README.
 */
import type { AwsStyleAlgorithm, AwsStyleRules, AwsStyleUsage } from "@ciop/providers-aws";
import type { KeyType } from "@ciop/wrap";

/** Provider names. @public */
export const OTC_PROVIDER_NAME = "otc";
/** @public */
export const HUAWEI_PROVIDER_NAME = "huawei";

/**
 * Open Telekom Cloud's `wrapping_algorithm` values (its API reference lists these three; its
 * console wizard offers only RSAES_OAEP_SHA_256). RSAES_OAEP_SHA_256 carries AES-256 directly and
 * key pairs as OTC's asymmetric layout: RSA-OAEP-SHA-256 of a temporary AES-256 key, and the
 * RFC 5649 wrap of the PKCS#8 private key under it. The other two carry AES-256 only;
 * RSAES_PKCS1_V1_5 is legacy (only with `allowLegacy`, always warned about).
 * @public
 */
export const OTC_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"] as const;
/** @public */
export type OtcAlgorithm = (typeof OTC_ALGORITHMS)[number];

/** Huawei Cloud's `wrapping_algorithm` values ciop produces (Huawei also lists SM2_ENCRYPT). @public */
export const HUAWEI_ALGORITHMS = ["RSAES_OAEP_SHA_256"] as const;
/** @public */
export type HuaweiAlgorithm = (typeof HUAWEI_ALGORITHMS)[number];

/** Key types both import material into (key specs AES_256, RSA_2048/3072/4096, EC_P256/P384). @public */
export const OTC_KEY_TYPES: readonly KeyType[] = ["AES-256", "RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384"];
/** @public */
export const OTC_DEFAULT_KEY_TYPE: KeyType = "AES-256";
/** The wrapping key (`public_key`) is RSA_2048. @public */
export const OTC_WRAPPING_KEY_BITS: readonly number[] = [2048];

/** The `key_spec` of the KMS key that takes each target type. @public */
export const OTC_KEY_SPECS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "AES_256",
  "RSA-2048": "RSA_2048",
  "RSA-3072": "RSA_3072",
  "RSA-4096": "RSA_4096",
  "EC-NISTP256": "EC_P256",
  "EC-NISTP384": "EC_P384",
};

/** File of `encrypted_key_material` (base64): the wrapped AES key, or the wrapped temporary key of a key pair. @public */
export function otcKeyMaterialFileName(keyName: string): string {
  return `${keyName}-encrypted_key_material.b64`;
}

/** File of the wrapped private key of a key pair (base64; Huawei's `encrypted_privatekey`). @public */
export function otcPrivateKeyFileName(keyName: string): string {
  return `${keyName}-encrypted_privatekey.b64`;
}

const OAEP_256: AwsStyleAlgorithm = {
  secret: { kind: "oaep", hash: "sha256" },
  ec: { kind: "rsa-aes", hash: "sha256" },
  rsa: { kind: "rsa-aes", hash: "sha256" },
};

const OTC_ALGORITHM_RULES: Readonly<Record<OtcAlgorithm, AwsStyleAlgorithm>> = {
  RSAES_OAEP_SHA_256: OAEP_256,
  RSAES_OAEP_SHA_1: {
    secret: { kind: "oaep", hash: "sha1" },
    warning:
      "RSAES_OAEP_SHA_1 is in Open Telekom Cloud's API reference, but its console wizard offers only RSAES_OAEP_SHA_256: fetch the wrapping key and import with the API.",
  },
  RSAES_PKCS1_V1_5: {
    secret: { kind: "pkcs1", hash: "sha1" },
    legacy:
      "RSAES_PKCS1_V1_5 is a legacy padding (open to padding-oracle attacks) that Open Telekom Cloud's console no longer offers; prefer RSAES_OAEP_SHA_256.",
  },
};

/** Huawei's API pattern for encrypted_privatekey is ^[0-9a-zA-Z+/=]{200,6144}$: 200 base64 characters. */
const ENCRYPTED_PRIVATE_KEY_MIN_BYTES = 150;

const NO_SM =
  "SM2 encryption and SM4/SM2 key material (Huawei's Chinese regions) are not implemented by ciop; use RSAES_OAEP_SHA_256 with an AES-256, RSA or EC key.";
const NO_HMAC =
  "Huawei Cloud's import guide says HMAC keys take no imported material, and neither Open Telekom Cloud's import procedure nor its API reference says how HMAC material would be laid out.";
const NO_CURVE = "Open Telekom Cloud and Huawei Cloud KMS import EC keys on P-256 and P-384 only.";

const NOT_OFFERED_TYPES: Readonly<Record<string, string>> = {
  "HMAC-256": NO_HMAC,
  "HMAC-384": NO_HMAC,
  "HMAC-512": NO_HMAC,
  "EC-NISTP521": NO_CURVE,
  "EC-SECP256K1": NO_CURVE,
  SM4: NO_SM,
  SM2: NO_SM,
};

function consoleSteps(files: readonly string[], pair: boolean): string {
  return pair
    ? `Console (Import Key Material > Use Existing Key Material) takes binary files: base64 -d ${files[0]} > EncryptedKeyMaterial.bin (the temporary key material) and base64 -d ${files[1]} > out_private_key.der (the private key ciphertext).`
    : `Console (Import Key Material > Use Existing Key Material) takes the binary file: base64 -d ${files[0]} > EncryptedKeyMaterial.bin.`;
}

function describe({ plan, keySpec, files }: AwsStyleUsage, cloud: string): string {
  const pair = files.length === 2;
  return (
    (pair
      ? `${files[0]} is encrypted_key_material (the temporary AES-256 key, RSA-OAEP-SHA-256 encrypted) and ${files[1]} the private key ciphertext (RFC 5649 wrap of the PKCS#8 private key under that key), `
      : `${files[0]} is encrypted_key_material (base64), `) +
    `for ${cloud} KMS key with key_spec ${keySpec} and origin external, whose wrapping key (public_key, RSA_2048) and import_token came from ` +
    `get-parameters-for-import with wrapping_algorithm ${plan.algorithm} (valid for 24 hours). `
  );
}

function otcUsage(u: AwsStyleUsage): string {
  const pair = u.files.length === 2;
  return (
    describe(u, "an Open Telekom Cloud") +
    consoleSteps(u.files, pair) +
    (pair
      ? " Open Telekom Cloud's API reference documents no field for the private key ciphertext, so import key pairs in the console."
      : ` API: POST https://kms.<region>.otc.t-systems.com/v1.0/<project_id>/kms/import-key-material with body {"key_id": "<key id>", "import_token": "<import_token>", "encrypted_key_material": "$(cat ${u.files[0]})"} (add "expiration_time" for material that expires).`)
  );
}

function huaweiUsage(u: AwsStyleUsage): string {
  const pair = u.files.length === 2;
  return (
    describe(u, "a Huawei Cloud") +
    `KooCLI: hcloud KMS ImportKeyMaterial --cli-region=<region> --project_id=<project id> --key_id=<key id> --import_token=<import_token> ` +
    `--encrypted_key_material="$(cat ${u.files[0]})"` +
    (pair ? ` --encrypted_privatekey="$(cat ${u.files[1]})"` : "") +
    ` (the API: POST /v1.0/{project_id}/kms/import-key-material with the same members). ` +
    consoleSteps(u.files, pair)
  );
}

/**
 * Open Telekom Cloud KMS as AWS-style rules.
 * @public
 */
export const OTC_RULES: AwsStyleRules<OtcAlgorithm> = {
  label: "Open Telekom Cloud KMS",
  names: [OTC_PROVIDER_NAME],
  algorithms: OTC_ALGORITHM_RULES,
  keyTypes: OTC_KEY_TYPES,
  defaultKeyType: OTC_DEFAULT_KEY_TYPE,
  keySpecs: OTC_KEY_SPECS,
  wrappingKeyBits: OTC_WRAPPING_KEY_BITS,
  notOffered: { algorithms: { SM2_ENCRYPT: NO_SM, SM2PKE: NO_SM }, keyTypes: NOT_OFFERED_TYPES },
  noteCappedStrength: true,
  output: {
    encoding: "base64",
    fileName: otcKeyMaterialFileName,
    privateKeyFileName: otcPrivateKeyFileName,
    privateKeyMinBytes: ENCRYPTED_PRIVATE_KEY_MIN_BYTES,
    usage: otcUsage,
  },
};

const HUAWEI_ONLY_OAEP_256 =
  "Huawei Cloud's get-parameters-for-import lists only RSAES_OAEP_SHA_256 and SM2_ENCRYPT (Open Telekom Cloud, provider otc, still lists it).";

/**
 * Huawei Cloud KMS as AWS-style rules.
 * @public
 */
export const HUAWEI_RULES: AwsStyleRules<HuaweiAlgorithm> = {
  label: "Huawei Cloud KMS",
  names: [HUAWEI_PROVIDER_NAME],
  algorithms: { RSAES_OAEP_SHA_256: OAEP_256 },
  keyTypes: OTC_KEY_TYPES,
  defaultKeyType: OTC_DEFAULT_KEY_TYPE,
  keySpecs: OTC_KEY_SPECS,
  wrappingKeyBits: OTC_WRAPPING_KEY_BITS,
  notOffered: {
    algorithms: { SM2_ENCRYPT: NO_SM, SM2PKE: NO_SM, RSAES_OAEP_SHA_1: HUAWEI_ONLY_OAEP_256, RSAES_PKCS1_V1_5: HUAWEI_ONLY_OAEP_256 },
    keyTypes: NOT_OFFERED_TYPES,
  },
  noteCappedStrength: true,
  output: {
    encoding: "base64",
    fileName: otcKeyMaterialFileName,
    privateKeyFileName: otcPrivateKeyFileName,
    privateKeyMinBytes: ENCRYPTED_PRIVATE_KEY_MIN_BYTES,
    usage: huaweiUsage,
  },
};
