export { Hsm } from "./hsm.js";
export type { WrapMechanism } from "./hsm.js";
export { HsmKey, HsmPublicKey, CIOP_ID_PREFIX } from "./hsm-key.js";
export { HsmError, ckrName } from "./errors.js";
export { KEY_TYPES } from "./key-specs.js";
export { EMBEDDED_TOKEN_LABEL, defaultDataDir } from "./embedded-token.js";
export { CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP_KWP, CKM_RSA_AES_KEY_WRAP, oaepMechanism } from "./mechanisms.js";
export { SOFTHSM_LIBRARY_CANDIDATES } from "./library.js";
export type { GcmSealed } from "./aes-gcm.js";
export type { ExternalKeyOutcome } from "./external-key.js";
export { GCM_PROFILE_NAMES } from "./gcm-profile.js";
export { KEY_VERSION_SEPARATOR, KEY_VERSION_MAX, KEY_VERSION_APPLICATION, keyVersionLabel, parseKeyVersionLabel } from "./keys/versions.js";
export type { KeyVersionRecord, KeyVersionRecordInput, KeyVersionInit } from "./keys/versions.js";
export type { GcmProfile, GcmProfileName, GcmProfileOption, GcmProfileSpec, GcmIvSource } from "./gcm-profile.js";
export type {
  KeyType,
  HashName,
  PinSource,
  Protection,
  HsmOptions,
  TokenInfo,
  KeyInfo,
  KeyUsage,
  WrapOutcome,
  Capabilities,
  KeyWrapPadSemantics,
  GenerateKeyOptions,
  HostFallbackEvent,
} from "./types.js";
