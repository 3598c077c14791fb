import type { XksCrypto, XksKeyPolicy } from "./crypto.js";
import { resolveKey, usagesOf } from "./key-checks.js";
import type { GetKeyMetadataRequest } from "./schema.js";

/** GetKeyMetadata response body. @public */
export interface GetKeyMetadataResponse {
  keySpec: string;
  keyUsage: string[];
  keyStatus: "ENABLED" | "DISABLED";
}

/**
 * GetKeyMetadata: reports spec, usages and status of an allowed key (a disabled key is reported
 * as DISABLED, not refused).
 * @public
 */
export async function handleGetKeyMetadata(
  keyId: string,
  req: GetKeyMetadataRequest,
  crypto: XksCrypto,
  policy: XksKeyPolicy,
): Promise<GetKeyMetadataResponse> {
  const key = await resolveKey("GetKeyMetadata", keyId, req.requestMetadata, crypto, policy, { requireEnabled: false });
  return { keySpec: key.keySpec, keyUsage: usagesOf(key), keyStatus: key.enabled ? "ENABLED" : "DISABLED" };
}
