import { EkmError } from "./errors.js";
import { EKM_API_VERSION, type EkmOperation } from "./types.js";

/** An external key identifier: 1 to 64 of A-Z, a-z, 0-9 and "-". @public */
export const EKM_KEY_NAME = /^[A-Za-z0-9-]{1,64}$/;

/** A path prefix: up to 64 of A-Z, a-z, 0-9, "/" and "-" (here: starting with "/"). @public */
export function isEkmPathPrefix(p: string): boolean {
  return p.length <= 64 && /^(\/[A-Za-z0-9-]+)*\/?$/.test(p) && /^[A-Za-z0-9/-]*$/.test(p);
}

/** @public */
export interface EkmRoute {
  operation: EkmOperation;
  keyName?: string;
}

/**
 * Reads the operation and key name from the part of the path after the prefix ("info",
 * "<key>/metadata", "<key>/wrapkey", "<key>/unwrapkey") and checks `api-version`. Any other
 * path, a key name outside the API's alphabet, and a missing or other api-version are 400 BadRequest.
 * @public
 */
export function parseEkmRoute(rest: string, apiVersion: string | null): EkmRoute {
  const parts = rest.split("/");
  let route: EkmRoute;
  if (parts.length === 1 && parts[0] === "info") route = { operation: "info" };
  else if (parts.length === 2 && (parts[1] === "metadata" || parts[1] === "wrapkey" || parts[1] === "unwrapkey")) {
    if (!EKM_KEY_NAME.test(parts[0]!)) throw new EkmError("BadRequest", "the key name must be 1 to 64 letters, digits or '-'");
    route = { operation: parts[1], keyName: parts[0]! };
  } else {
    throw new EkmError("BadRequest", "unknown operation: use info, {key}/metadata, {key}/wrapkey or {key}/unwrapkey");
  }
  if (apiVersion === null) throw new EkmError("BadRequest", `the api-version query parameter is required (this proxy serves ${EKM_API_VERSION})`);
  if (apiVersion !== EKM_API_VERSION)
    throw new EkmError("BadRequest", `api-version ${apiVersion.slice(0, 40)} is not supported (this proxy serves ${EKM_API_VERSION})`);
  return route;
}
