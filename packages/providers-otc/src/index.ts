/**
 * @ciop/providers-otc: Open Telekom Cloud KMS and Huawei Cloud KMS BYOK rules, over
 * @ciop/providers-aws's AWS-style import.
 * @packageDocumentation
 */
export { otcKms, huaweiKms } from "./otc.js";
export {
  OTC_PROVIDER_NAME,
  HUAWEI_PROVIDER_NAME,
  OTC_ALGORITHMS,
  HUAWEI_ALGORITHMS,
  OTC_KEY_TYPES,
  OTC_DEFAULT_KEY_TYPE,
  OTC_WRAPPING_KEY_BITS,
  OTC_KEY_SPECS,
  OTC_RULES,
  HUAWEI_RULES,
  otcKeyMaterialFileName,
  otcPrivateKeyFileName,
} from "./rules.js";
export type { OtcAlgorithm, HuaweiAlgorithm } from "./rules.js";
