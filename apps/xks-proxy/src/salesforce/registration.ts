/**
 * The Salesforce cache-only route group as the proxy knows it: the `[salesforce]` section, its
 * switch and path prefix, the registry kids no key store may list, and the group's factory.
 */
import path from "node:path";
import { readRegistry } from "@ciop/salesforce-cache-only";
import type { RouteGroupRegistration } from "../route-group.js";
import { DEFAULT_PATH_PREFIX, parseSalesforceSection, salesforceEnabled } from "./config.js";
import { createSalesforceRouteGroup } from "./index.js";

type Table = Record<string, unknown>;

function asTable(section: unknown): Table | undefined {
  return typeof section === "object" && section !== null && !Array.isArray(section) ? (section as Table) : undefined;
}

/** The registry file a raw `[salesforce]` section names (default next to the config). */
export function salesforceRegistryPath(section: unknown, dir: string): string {
  const r = asTable(section)?.registry;
  return path.resolve(dir, typeof r === "string" && r !== "" ? r : "salesforce-keys.json");
}

export const salesforceRouteGroup: RouteGroupRegistration = {
  section: "salesforce",
  enabled: salesforceEnabled,
  validate(section, configDir) {
    parseSalesforceSection(section, configDir);
  },
  pathPrefix(section) {
    const t = asTable(section);
    if (t === undefined) return DEFAULT_PATH_PREFIX;
    const p = t.path_prefix;
    if (p === undefined) return DEFAULT_PATH_PREFIX;
    return typeof p === "string" ? p.replace(/\/+$/, "") : undefined;
  },
  /**
   * Every kid of the cache-only registry, and its HSM label: a Salesforce DEK is made extractable
   * (to be wrapped for Salesforce) and must never serve KMS. A kid created later is still caught by
   * the key attribute check when the proxy first finds the key (store-key-policy.ts).
   */
  reservedKeyIds(section, configDir) {
    const file = salesforceRegistryPath(section, configDir);
    const reserved = new Map<string, string>();
    for (const e of Object.values(readRegistry(file).keys)) {
      const why = `the HSM key of Salesforce cache-only key '${e.kid}' (registry ${file}): a Salesforce DEK is extractable and must never serve KMS`;
      reserved.set(e.kid, why);
      reserved.set(e.hsmLabel, why);
    }
    return reserved;
  },
  inlineSecrets(section) {
    const auth = asTable(asTable(section)?.auth);
    return auth?.basic_password_hash !== undefined ? ["salesforce.auth.basic_password_hash"] : [];
  },
  disabledNote: "[salesforce] enabled = false: the cache-only key route is not served",
  create: createSalesforceRouteGroup,
};
