/**
 * @ciop/providers-salesforce: Salesforce Shield Platform Encryption rules and artefacts: the BYOK
 * tenant secret provider, and the rules of cache-only keys (key identifiers, the BYOK certificate,
 * the setup values). It writes nothing and makes no HSM call; the cache-only key service itself
 * (HSM, registry, audit) is @ciop/salesforce-cache-only.
 * @packageDocumentation
 */
export { salesforceByok, planSalesforce, exportSalesforce } from "./salesforce.js";
export {
  SALESFORCE_PROVIDER_NAME,
  SALESFORCE_ALGORITHMS,
  SALESFORCE_KEY_TYPES,
  SALESFORCE_DEFAULT_KEY_TYPE,
  SALESFORCE_WRAPPING_KEY_BITS,
  salesforceWrappedFileName,
  salesforceHashFileName,
} from "./rules.js";
export type { SalesforceAlgorithm } from "./rules.js";
export { CACHE_ONLY_KID_PATTERN, isCacheOnlyKid, assertCacheOnlyKid, nextRotationKid } from "./cache-only/kid.js";
export { CACHE_ONLY_CERTIFICATE_BITS, checkCacheOnlyCertificate } from "./cache-only/certificate.js";
export type { CacheOnlyCertificateFacts, CheckCertificateOptions } from "./cache-only/certificate.js";
export { cacheOnlySetup } from "./cache-only/setup.js";
export type { CacheOnlySetup } from "./cache-only/setup.js";
