/**
 * The AWS KMS provider module.
 */
import type { ProviderModule } from "@ciop/wrap";
import { defineAwsStyleProvider } from "./aws-style.js";
import { AWS_RULES } from "./rules.js";

/**
 * AWS KMS BYOK (`aws`): imports AES-256 (SYMMETRIC_DEFAULT), HMAC, RSA and EC key material with
 * the wrapping key and import token from `GetParametersForImport`; writes `<key>-wrapped`.
 *
 * @example
 * ```ts
 * const plan = awsKms.plan({ provider: "aws", keyName: "k1", wrappingKey, algorithm: "RSAES_OAEP_SHA_256" });
 * const { artefacts } = await awsKms.export(plan, engine, target);
 * ```
 * @public
 */
export const awsKms: ProviderModule = defineAwsStyleProvider(AWS_RULES);
