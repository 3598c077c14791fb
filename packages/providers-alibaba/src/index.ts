/**
 * @ciop/providers-alibaba: Alibaba Cloud KMS BYOK rules and artefacts.
 * @packageDocumentation
 */
export { alibabaKms, planAlibaba, exportAlibaba } from "./alibaba.js";
export {
  ALIBABA_PROVIDER_NAME,
  ALIBABA_ALGORITHMS,
  ALIBABA_KEY_TYPES,
  ALIBABA_SYMMETRIC_KEY_TYPES,
  ALIBABA_ASYMMETRIC_KEY_TYPES,
  ALIBABA_DEFAULT_KEY_TYPE,
  ALIBABA_WRAPPING_KEY_BITS,
  ALIBABA_KEY_SPECS,
  alibabaWrappedFileName,
} from "./rules.js";
export type { AlibabaAlgorithm } from "./rules.js";
