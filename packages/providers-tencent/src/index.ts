/**
 * @ciop/providers-tencent: Tencent Cloud KMS BYOK rules, over @ciop/providers-aws's AWS-style import.
 * @packageDocumentation
 */
export { tencentKms } from "./tencent.js";
export {
  TENCENT_PROVIDER_NAME,
  TENCENT_ALGORITHMS,
  TENCENT_KEY_TYPES,
  TENCENT_DEFAULT_KEY_TYPE,
  TENCENT_WRAPPING_KEY_BITS,
  TENCENT_KEY_SPECS,
  TENCENT_RULES,
  tencentWrappedFileName,
} from "./rules.js";
export type { TencentAlgorithm } from "./rules.js";
