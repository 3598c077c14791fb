/**
 * Salesforce Shield Platform Encryption BYOK (uploaded tenant secret) rules, with the seed CLI's
 * spellings.
 */
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name as the seed CLI spells it. @public */
export const SALESFORCE_PROVIDER_NAME = "salesforce";

/**
 * Wrapping algorithms: the seed's list plus `RSAES_OAEP_SHA_512` (ciop's name for RSA-OAEP with
 * SHA-512 and MGF1-SHA-512, the digest Salesforce recommends for tenant secrets).
 * - `RSAES_OAEP_SHA_1`: what the seed guide says Salesforce requires; still accepted.
 * - `RSAES_OAEP_SHA_512`: recommended by Salesforce.
 * - `RSAES_OAEP_SHA_256`: kept from the seed's list, with a warning (Salesforce documents SHA-1 and SHA-512).
 * - `RSAES_PKCS1_V1_5`: legacy, only with `allowLegacy`, always warned about.
 * @public
 */
export const SALESFORCE_ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_512"] as const;

/** @public */
export type SalesforceAlgorithm = (typeof SALESFORCE_ALGORITHMS)[number];

/** A tenant secret is a 256-bit random value. @public */
export const SALESFORCE_KEY_TYPES: readonly KeyType[] = ["AES-256"];

/** @public */
export const SALESFORCE_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** Salesforce's BYOK certificate carries an RSA-4096 key. @public */
export const SALESFORCE_WRAPPING_KEY_BITS: readonly number[] = [4096];

/** @internal */
export const SALESFORCE_ALGORITHM_STEPS: Readonly<Record<SalesforceAlgorithm, { kind: "oaep" | "pkcs1"; hash: HashName }>> = {
  RSAES_OAEP_SHA_256: { kind: "oaep", hash: "sha256" },
  RSAES_OAEP_SHA_1: { kind: "oaep", hash: "sha1" },
  RSAES_PKCS1_V1_5: { kind: "pkcs1", hash: "sha1" },
  RSAES_OAEP_SHA_512: { kind: "oaep", hash: "sha512" },
};

/** The seed's "Encrypted Tenant Secret" file. @public */
export function salesforceWrappedFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}

/** The seed's "Hashed Tenant Secret" file. @public */
export function salesforceHashFileName(keyName: string): string {
  return `${keyName}-hash`;
}
