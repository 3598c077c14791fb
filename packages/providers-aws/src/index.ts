/**
 * @ciop/providers-aws: AWS KMS BYOK rules and artefacts.
 * @packageDocumentation
 */
export { awsKms } from "./aws.js";
export { planAws } from "./plan.js";
export { exportAws } from "./export.js";
export {
  AWS_PROVIDER_NAME,
  AWS_ALGORITHMS,
  AWS_KEY_TYPES,
  AWS_DEFAULT_KEY_TYPE,
  AWS_WRAPPING_KEY_BITS,
  AWS_KEY_SPECS,
  AWS_RULES,
  awsWrappedFileName,
} from "./rules.js";
export type { AwsAlgorithm } from "./rules.js";
export {
  AWS_IMPORT_TYPES,
  AWS_ROTATABLE_KEY_TYPES,
  AWS_KEY_MATERIAL_DESCRIPTION_MAX,
  AWS_KEY_MATERIAL_ID_PATTERN,
  checkKeyMaterialDescription,
  checkKeyMaterialId,
  defaultKeyMaterialDescription,
  awsImportKeyMaterialCommand,
} from "./key-material.js";
export type { AwsImportType, AwsImportCommandInput } from "./key-material.js";
export { defineAwsStyleProvider, planAwsStyle, exportAwsStyle, awsStyleOutputFiles, awsStyleStep } from "./aws-style.js";
export type { AwsStyleRules, AwsStyleAlgorithm, AwsStyleStep, AwsStyleOutput, AwsStyleUsage } from "./aws-style.js";
