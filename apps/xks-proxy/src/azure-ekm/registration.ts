/**
 * The Azure Managed HSM EKM route group as the proxy knows it: the `[azure_ekm]` section, its
 * switch, the keys no XKS store may list, and the factory. The group serves its own listener
 * only, so the prefix it gives the main listener's router matches no request (OWN_LISTENER_PREFIX).
 */
import type { RouteGroupRegistration } from "../route-group.js";
import { azureEkmEnabled, parseAzureEkmSection } from "./config.js";
import { createAzureEkmRouteGroup, OWN_LISTENER_PREFIX } from "./index.js";

export const azureEkmRouteGroup: RouteGroupRegistration = {
  section: "azure_ekm",
  enabled: azureEkmEnabled,
  validate(section, configDir) {
    parseAzureEkmSection(section, configDir);
  },
  pathPrefix() {
    return OWN_LISTENER_PREFIX;
  },
  /** An Azure external key can wrap and unwrap caller bytes: it must never serve XKS. */
  reservedKeyIds(section) {
    const reserved = new Map<string, string>();
    const keys = typeof section === "object" && section !== null ? (section as { keys?: unknown }).keys : undefined;
    if (Array.isArray(keys))
      for (const k of keys)
        if (typeof k === "string")
          reserved.set(k, `the HSM key of Azure EKM external key '${k}' ([azure_ekm] keys): it wraps caller-supplied key material and must never serve KMS`);
    return reserved;
  },
  disabledNote: "[azure_ekm] enabled = false: the Azure Managed HSM external key API is not served",
  create: createAzureEkmRouteGroup,
};
