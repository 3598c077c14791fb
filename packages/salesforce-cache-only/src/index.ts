/**
 * @ciop/salesforce-cache-only: the Salesforce Shield cache-only key service. Data encryption keys
 * live in the HSM, bound to a Salesforce BYOK certificate in a small JSON registry, and are served
 * as the `{"kid","jwe"}` callout response; key operations and host fallbacks are audited. The rules
 * it applies (key identifiers, certificates, setup values) are @ciop/providers-salesforce's.
 * @packageDocumentation
 */
export { CACHE_ONLY_REGISTRY_VERSION, emptyRegistry, readRegistry, writeRegistry, updateRegistry, RegistryWatcher } from "./registry.js";
export type { CacheOnlyKeyEntry, CacheOnlyRegistry } from "./registry.js";
export { CACHE_ONLY_PROVIDER, CacheOnlyKeyService, createCacheOnlyResponse } from "./service.js";
export type {
  CacheOnlyResponse,
  CacheOnlyResponseRequest,
  CacheOnlyServiceOptions,
  CacheOnlyKeyStatus,
  CreateCacheOnlyKeyOptions,
} from "./service.js";
