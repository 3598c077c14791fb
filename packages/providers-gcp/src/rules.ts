/**
 * Google Compute Engine (customer-supplied encryption keys) and Google Cloud KMS (import jobs)
 * rules, with the seed CLI's spellings.
 */
import type { HashName, KeyType } from "@ciop/wrap";

// ---------------------------------------------------------------------------------------------
// Google Compute Engine (CSEK)

/** Provider name as the seed CLI spells it. @public */
export const GCE_PROVIDER_NAME = "google-compute-engine";

/**
 * The seed's algorithm list for Compute Engine. Google itself only unwraps `RSAES_OAEP_SHA_1`
 * (RSA-OAEP with SHA-1 and MGF1-SHA-1); the others are accepted for parity with the seed tool and
 * always come with a warning (`RSAES_PKCS1_V1_5` also needs `allowLegacy`).
 * @public
 */
export const GCE_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"] as const;

/** @public */
export type GceAlgorithm = (typeof GCE_ALGORITHMS)[number];

/** The algorithm Compute Engine accepts. @public */
export const GCE_ACCEPTED_BY_GOOGLE: GceAlgorithm = "RSAES_OAEP_SHA_1";

/** Compute Engine takes a 256-bit AES key only. @public */
export const GCE_KEY_TYPES: readonly KeyType[] = ["AES-256"];

/** @public */
export const GCE_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** Google's CSEK ingress certificate holds an RSA-2048 key. @public */
export const GCE_WRAPPING_KEY_BITS: readonly number[] = [2048];

/** @internal */
export const GCE_ALGORITHM_STEPS: Readonly<Record<GceAlgorithm, { kind: "oaep" | "pkcs1"; hash: HashName }>> = {
  RSAES_OAEP_SHA_256: { kind: "oaep", hash: "sha256" },
  RSAES_OAEP_SHA_1: { kind: "oaep", hash: "sha1" },
  RSAES_PKCS1_V1_5: { kind: "pkcs1", hash: "sha1" },
};

/** The seed's output: base64 text to paste as the wrapped key. @public */
export function gceWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}

/** ciop's extra output: base64 SHA-256 of the raw key, as Compute Engine reports it. @public */
export function gceSha256FileName(keyName: string): string {
  return `${keyName}-sha256`;
}

// ---------------------------------------------------------------------------------------------
// Google Cloud KMS

/** Provider name as the seed CLI spells it. @public */
export const GCKMS_PROVIDER_NAME = "google-cloud-key-management";

/**
 * Wrapping algorithms for Cloud KMS import jobs.
 * - Seed names: `RSAES_OAEP_SHA_256` / `RSAES_OAEP_SHA_1` = the RSA-AES import methods
 *   `RSA_OAEP_{3072,4096}_SHA256_AES_256` / `RSA_OAEP_{3072,4096}_SHA1_AES_256` (size from the key).
 * - Google's own import-method names, which also fix the wrapping-key size.
 * - `RSA_OAEP_3072_SHA256` / `RSA_OAEP_4096_SHA256`: direct RSA-OAEP, symmetric (AES/HMAC) keys only.
 * @public
 */
export const GCKMS_ALGORITHMS = [
  "RSAES_OAEP_SHA_256",
  "RSAES_OAEP_SHA_1",
  "RSA_OAEP_3072_SHA256_AES_256",
  "RSA_OAEP_4096_SHA256_AES_256",
  "RSA_OAEP_3072_SHA1_AES_256",
  "RSA_OAEP_4096_SHA1_AES_256",
  "RSA_OAEP_3072_SHA256",
  "RSA_OAEP_4096_SHA256",
] as const;

/** @public */
export type GckmsAlgorithm = (typeof GCKMS_ALGORITHMS)[number];

/** Key types Cloud KMS imports (the seed's list plus secp256k1 and HMAC). @public */
export const GCKMS_KEY_TYPES: readonly KeyType[] = [
  "AES-256",
  "HMAC-160",
  "HMAC-224",
  "HMAC-256",
  "HMAC-384",
  "HMAC-512",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "EC-NISTP256",
  "EC-NISTP384",
  "EC-SECP256K1",
];

/** The seed's default target for Google KMS. @public */
export const GCKMS_DEFAULT_KEY_TYPE: KeyType = "RSA-2048";

/** Import jobs use RSA-3072 or RSA-4096 wrapping keys. @public */
export const GCKMS_WRAPPING_KEY_BITS: readonly number[] = [3072, 4096];

/** @internal */
export const GCKMS_ALGORITHM_STEPS: Readonly<Record<GckmsAlgorithm, { kind: "rsa-aes" | "oaep"; hash: HashName; bits?: number }>> = {
  RSAES_OAEP_SHA_256: { kind: "rsa-aes", hash: "sha256" },
  RSAES_OAEP_SHA_1: { kind: "rsa-aes", hash: "sha1" },
  RSA_OAEP_3072_SHA256_AES_256: { kind: "rsa-aes", hash: "sha256", bits: 3072 },
  RSA_OAEP_4096_SHA256_AES_256: { kind: "rsa-aes", hash: "sha256", bits: 4096 },
  RSA_OAEP_3072_SHA1_AES_256: { kind: "rsa-aes", hash: "sha1", bits: 3072 },
  RSA_OAEP_4096_SHA1_AES_256: { kind: "rsa-aes", hash: "sha1", bits: 4096 },
  RSA_OAEP_3072_SHA256: { kind: "oaep", hash: "sha256", bits: 3072 },
  RSA_OAEP_4096_SHA256: { kind: "oaep", hash: "sha256", bits: 4096 },
};

/** Google's import-method name for an algorithm and wrapping-key size. @public */
export function gckmsImportMethod(algorithm: GckmsAlgorithm, bits: number): string {
  const step = GCKMS_ALGORITHM_STEPS[algorithm];
  const hash = step.hash === "sha1" ? "SHA1" : "SHA256";
  return step.kind === "oaep" ? `RSA_OAEP_${bits}_${hash}` : `RSA_OAEP_${bits}_${hash}_AES_256`;
}

/** A Cloud KMS algorithm (gcloud spelling) that fits each key type; others of the same size work too. @public */
export const GCKMS_EXAMPLE_ALGORITHMS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "google-symmetric-encryption",
  "HMAC-160": "hmac-sha1",
  "HMAC-224": "hmac-sha224",
  "HMAC-256": "hmac-sha256",
  "HMAC-384": "hmac-sha384",
  "HMAC-512": "hmac-sha512",
  "RSA-2048": "rsa-sign-pss-2048-sha256",
  "RSA-3072": "rsa-sign-pss-3072-sha256",
  "RSA-4096": "rsa-sign-pss-4096-sha256",
  "EC-NISTP256": "ec-sign-p256-sha256",
  "EC-NISTP384": "ec-sign-p384-sha384",
  "EC-SECP256K1": "ec-sign-secp256k1-sha256",
};

/** The seed's output: the binary wrapped key. @public */
export function gckmsWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped.bin`;
}
