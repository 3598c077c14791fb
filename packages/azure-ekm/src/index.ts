/**
 * @ciop/azure-ekm: the Azure Managed HSM external key management proxy API (0.1-preview) as pure
 * functions over an injected key manager ({@link EkmCrypto}). No HTTP server here: xks-proxy mounts
 * it (apps/xks-proxy/src/azure-ekm).
 */
export { EKM_API_VERSION, EKM_ALGORITHMS, EKM_KEY_SIZES } from "./types.js";
export type { EkmAlgorithm, EkmKeyType, EkmOperation, EkmKeyMetadata, EkmProxyInfo } from "./types.js";
export { EkmError, EKM_ERROR_STATUS, ekmErrorFrom, sanitizeMessage } from "./errors.js";
export type { EkmErrorCode } from "./errors.js";
export { decodeBase64url, encodeBase64url } from "./base64url.js";
export { parseRequestContext, salvageRequestContext, cleanContextValue } from "./request-context.js";
export type { EkmRequestContext } from "./request-context.js";
export { parseEkmRoute, isEkmPathPrefix, EKM_KEY_NAME } from "./route.js";
export type { EkmRoute } from "./route.js";
export type { EkmCrypto, EkmKeyDescription, EkmKeyPolicy } from "./crypto.js";
export { proxyInfo } from "./info.js";
export type { EkmProxyDescription } from "./info.js";
export { keyMetadata } from "./get-key-metadata.js";
export { wrapKey, MAX_WRAP_INPUT } from "./wrap-key.js";
export type { EkmWrapResult } from "./wrap-key.js";
export { unwrapKey, MAX_UNWRAP_INPUT } from "./unwrap-key.js";
export { handleEkmRequest, MAX_EKM_BODY } from "./dispatch.js";
export type { EkmRequest, EkmResponse, EkmHandlerOptions } from "./dispatch.js";
