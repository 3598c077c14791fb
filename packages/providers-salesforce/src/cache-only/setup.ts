/**
 * The values an administrator enters in Salesforce for a cache-only key.
 */
import { CiopError } from "@ciop/core";
import { assertCacheOnlyKid } from "./kid.js";

/** What to enter in Salesforce for a cache-only key. @public */
export interface CacheOnlySetup {
  /** Named Credential URL: the service's public base URL plus the route group's path prefix. */
  namedCredentialUrl: string;
  /** "Unique Key Identifier" (BYOK id) to enter on the Bring Your Own Key page. */
  keyIdentifier: string;
  /** The URL Salesforce will GET. */
  calloutUrl: string;
}

/** Builds the values to enter in Salesforce for `kid`. @public */
export function cacheOnlySetup(publicUrl: string, pathPrefix: string, kid: string): CacheOnlySetup {
  assertCacheOnlyKid(kid);
  let u: URL;
  try {
    u = new URL(publicUrl);
  } catch {
    throw new CiopError("ERR_CONFIG_INVALID", `The public URL ${JSON.stringify(publicUrl)} is not a URL (e.g. https://byok.example.com:8443).`);
  }
  if (u.protocol !== "https:") throw new CiopError("ERR_CONFIG_INVALID", `Salesforce calls named credentials over HTTPS; ${publicUrl} is not https.`);
  const base = `${u.origin}${u.pathname.replace(/\/+$/, "")}${pathPrefix.startsWith("/") ? "" : "/"}${pathPrefix.replace(/\/+$/, "")}`;
  return { namedCredentialUrl: base, keyIdentifier: kid, calloutUrl: `${base}/${kid}` };
}
