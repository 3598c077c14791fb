/**
 * @ciop/providers-ibm-key-protect: IBM Key Protect import-token rules and artefacts.
 * @packageDocumentation
 */
export { ibmKeyProtect } from "./ibm-key-protect.js";
export { planIbmKeyProtect } from "./plan.js";
export type { IbmKeyProtectExportOptions } from "./plan.js";
export { exportIbmKeyProtect } from "./export.js";
export { parseIbmNonce } from "./nonce.js";
export {
  IBM_KP_PROVIDER_NAME,
  IBM_KP_ALGORITHMS,
  IBM_KP_DEFAULT_ALGORITHM,
  IBM_KP_KEY_TYPES,
  IBM_KP_DEFAULT_KEY_TYPE,
  IBM_KP_WRAPPING_KEY_BITS,
  IBM_KP_NONCE_BYTES,
  IBM_KP_KEY_NAME_LENGTH,
  IBM_KP_KEY_CONTENT_TYPE,
  ibmKeyProtectFileNames,
} from "./rules.js";
export type { IbmKeyProtectAlgorithm } from "./rules.js";
