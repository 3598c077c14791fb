/**
 * Cache-only key identifiers ("Unique Key Identifier" in Salesforce): the path segment of the
 * callout, the `kid` of the response and of the JWE header, and the CKA_LABEL of the DEK.
 */
import { CiopError } from "@ciop/core";

/** What Salesforce accepts as a cache-only key identifier. @public */
export const CACHE_ONLY_KID_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;

/** True when `kid` is a valid cache-only key identifier. @public */
export function isCacheOnlyKid(kid: unknown): kid is string {
  // "." and ".." would be path segments; "__proto__" would be an object prototype in the JSON registry.
  return typeof kid === "string" && CACHE_ONLY_KID_PATTERN.test(kid) && kid !== "." && kid !== ".." && kid !== "__proto__";
}

/** Throws ERR_KID_INVALID unless `kid` is a valid cache-only key identifier. @public */
export function assertCacheOnlyKid(kid: unknown): asserts kid is string {
  if (!isCacheOnlyKid(kid)) {
    throw new CiopError(
      "ERR_KID_INVALID",
      `Invalid cache-only key identifier ${JSON.stringify(kid)}: use 1-255 characters from A-Z a-z 0-9 . _ - (and not ".", ".." or "__proto__").`,
    );
  }
}

/** The next identifier in a rotation: `name.v3` after `name.v2`, `name.v2` after `name`. @public */
export function nextRotationKid(kid: string): string {
  const m = /^(.*)\.v(\d{1,6})$/.exec(kid);
  const next = m ? `${m[1]}.v${Number(m[2]) + 1}` : `${kid}.v2`;
  assertCacheOnlyKid(next);
  return next;
}
