/**
 * @ciop/xks: the AWS KMS External Key Store (XKS) proxy protocol, v1.0.3, without an HTTP server:
 * routing, SigV4 verification, request validation, the AES-GCM AAD/CDIV rules, key checks and the
 * error model. A server (apps/xks-proxy) feeds it raw requests and an {@link XksCrypto}.
 * @packageDocumentation
 */
export {
  XksError,
  ValidationException,
  AuthenticationFailedException,
  AccessDeniedException,
  InvalidUriPathException,
  KeyNotFoundException,
  InvalidStateException,
  InvalidKeyUsageException,
  InvalidCiphertextException,
  UnsupportedOperationException,
  ThrottlingException,
  DependencyTimeoutException,
  InternalException,
  XKS_ERROR_STATUS,
  XKS_ERROR_NAMES,
  createXksError,
  toXksError,
  sanitizeErrorMessage,
} from "./errors.js";
export type { XksErrorName } from "./errors.js";
export { DEFAULT_XKS_LIMITS } from "./types.js";
export type { XksCredential, XksKeyStore, XksOperation, XksLimits } from "./types.js";
export { routeXksRequest } from "./route.js";
export type { XksRoute } from "./route.js";
export { verifyXksSignature, parseAuthorizationHeader, XKS_SIGV4_SERVICE } from "./sigv4.js";
export type { XksSignedRequest, VerifySignatureOptions, VerifiedSignature } from "./sigv4.js";
export { NodeSha256 } from "./sha256.js";
export {
  parseJsonBody,
  parseRequestMetadata,
  parseGetKeyMetadataRequest,
  parseGetHealthStatusRequest,
  parseEncryptRequest,
  parseDecryptRequest,
} from "./schema.js";
export type { XksRequestMetadata, GetKeyMetadataRequest, GetHealthStatusRequest, EncryptRequest, DecryptRequest } from "./schema.js";
export { buildSpecAad, buildSampleProxyAad, computeCdiv } from "./aad.js";
export {
  CIOP_METADATA_MARKER,
  CIOP_SCHEME_V1,
  CIOP_SCHEME_V2,
  MAX_KEY_VERSION,
  ciopCiphertextMetadata,
  classifyCiphertextMetadata,
} from "./metadata.js";
export type { CiphertextScheme, CompatibilityOptions } from "./metadata.js";
export type { XksCrypto, XksKeyDescription, XksKeyPolicy } from "./crypto.js";
export { handleGetKeyMetadata } from "./get-key-metadata.js";
export type { GetKeyMetadataResponse } from "./get-key-metadata.js";
export { handleEncrypt } from "./encrypt.js";
export type { EncryptResponse } from "./encrypt.js";
export { handleDecrypt } from "./decrypt.js";
export type { DecryptResponse } from "./decrypt.js";
export { handleGetHealthStatus, HealthMonitor } from "./get-health-status.js";
export type { GetHealthStatusResponse, EkmFleetMember, HealthMonitorOptions } from "./get-health-status.js";
export { handleXksHttpRequest } from "./dispatch.js";
export type { XksHttpRequest, XksHttpResult, XksRequestLog, XksServiceOptions } from "./dispatch.js";
export {
  generateXksCredential,
  validateXksCredential,
  xksConsoleConfiguration,
  ACCESS_KEY_ID_PATTERN,
  SECRET_ACCESS_KEY_PATTERN,
} from "./credentials.js";
export type { XksConsoleConfiguration } from "./credentials.js";
