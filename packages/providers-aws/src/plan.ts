/**
 * plan() for AWS KMS: validates the whole request (provider, key name, algorithm, key type,
 * algorithm x key type, wrapping-key type/size/certificate/strength, plaintext fit) before anything
 * is generated, with the AWS-style rules of rules.ts. No side effects.
 */
import type { ExportPlan, ExportRequest } from "@ciop/wrap";
import { planAwsStyle } from "./aws-style.js";
import { AWS_RULES } from "./rules.js";

/**
 * Validates an AWS KMS export request and returns the plan. Throws a usage CiopError
 * (ERR_PROVIDER_UNKNOWN, ERR_KEY_NAME_INVALID, ERR_USAGE, ERR_ALGORITHM_UNSUPPORTED,
 * ERR_KEY_TYPE_UNSUPPORTED, ERR_USAGE for a provider option (AWS takes none), ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE,
 * ERR_CERTIFICATE_NOT_VALID, ERR_WRAPPING_KEY_TOO_WEAK) on the first problem.
 * @public
 */
export function planAws(request: ExportRequest): ExportPlan {
  return planAwsStyle(AWS_RULES, request);
}
