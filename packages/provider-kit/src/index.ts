/**
 * @ciop/provider-kit: what the @ciop/providers-* packages share, so that each of them holds only
 * its own rules: the request checks of plan(), the checks export() makes before wrapping, and
 * defineProvider.
 * @packageDocumentation
 */
export {
  checkKeyName,
  checkProvider,
  checkProviderOptions,
  checkKeyType,
  checkAlgorithmGiven,
  checkWrappingKeyShape,
  checkCertificate,
  oaepCapacity,
  pkcs1Capacity,
  plaintextSize,
} from "./request-checks.js";
export { exportStep, checkTargetType, wrapStep } from "./export-checks.js";
export type { WrapStep } from "./export-checks.js";
export { defineProvider } from "./define-provider.js";
