/**
 * Salesforce cache-only keys: DEKs in the HSM, bound to a Salesforce BYOK certificate, served as
 * the `{"kid","jwe"}` callout response.
 */
export { CACHE_ONLY_KID_PATTERN, isCacheOnlyKid, assertCacheOnlyKid, nextRotationKid } from "./kid.js";
export { CACHE_ONLY_CERTIFICATE_BITS, checkCacheOnlyCertificate } from "./certificate.js";
export type { CacheOnlyCertificateFacts, CheckCertificateOptions } from "./certificate.js";
export { CACHE_ONLY_REGISTRY_VERSION, emptyRegistry, readRegistry, writeRegistry, updateRegistry, RegistryWatcher } from "./registry.js";
export type { CacheOnlyKeyEntry, CacheOnlyRegistry } from "./registry.js";
export { CACHE_ONLY_PROVIDER, CacheOnlyKeyService, createCacheOnlyResponse, cacheOnlySetup } from "./service.js";
export type {
  CacheOnlyResponse,
  CacheOnlyResponseRequest,
  CacheOnlyServiceOptions,
  CacheOnlyKeyStatus,
  CreateCacheOnlyKeyOptions,
  CacheOnlySetup,
} from "./service.js";
