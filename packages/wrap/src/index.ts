/**
 * @ciop/wrap: the key-wrapping constructions of cloud BYOK (RSA-OAEP, PKCS#1 v1.5,
 * CKM_RSA_AES_KEY_WRAP, Alibaba's RSA + AES-ECB, Salesforce's cache-only JWE) over two engines:
 * an HSM engine (the key stays in the HSM where the token can do the step) and a software engine
 * (node:crypto).
 * @packageDocumentation
 */
export type { HashName, KeyType, TargetKey, WrappingKey, WrapResult, WrapEngine, AesGcmUnderTargetResult } from "./engine.js";
export type { ExportRequest, ExportPlan, Artefact, ExportResult, ProviderModule, ProviderOptions } from "./provider.js";

export { parseWrappingKey, inspectWrappingKey } from "./parse-wrapping-key.js";
export type { ParseWrappingKeyOptions, WrappingKeyInspection } from "./parse-wrapping-key.js";

export { checkWrappingStrength, keyTypeStrength, rsaStrength, ecStrength, wrappingKeyStrength } from "./strength.js";
export type { WrappingStrengthCheck } from "./strength.js";

export { KEY_TYPES, keyKind, secretKeyLength, rsaKeyBits, ecCurveName } from "./key-types.js";

export { createSoftwareEngine, softwareKey, generateSoftwareKey } from "./software-engine.js";
export type { SoftwareTargetKey } from "./software-engine.js";

export { createHsmEngine, hsmKey } from "./hsm-engine.js";
export type { HsmTargetKey } from "./hsm-engine.js";

export { splitRsaAesBlob, joinRsaAesBlob, kwpLength, rsaAesKeyWrapLength } from "./rsa-aes-layout.js";
export type { RsaAesParts } from "./rsa-aes-layout.js";

export { createCacheOnlyJwe } from "./cache-only-jwe.js";
export type { CacheOnlyJweRequest, CacheOnlyJwe } from "./cache-only-jwe.js";

export { createAlibabaAsymmetricMaterial } from "./alibaba.js";
export type { AlibabaAsymmetricRequest } from "./alibaba.js";

export { toBase64, fromBase64, toBase64Url, fromBase64Url } from "./base64.js";

export { runExport, planExport } from "./run-export.js";
export type {
  ExportRequestInput,
  PlannedExport,
  RunExportResult,
  ExportHooks,
  KeyReadyContext,
  ExportFailure,
  KeySourceInput,
} from "./run-export.js";
export { hsmKeySource, softwareKeySource } from "./key-sources.js";
export type { KeySource, SourcedKey } from "./key-sources.js";
