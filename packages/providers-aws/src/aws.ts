/**
 * The AWS KMS provider module.
 */
import { defineProvider } from "@ciop/provider-kit";
import type { ProviderModule } from "@ciop/wrap";
import { exportAws } from "./export.js";
import { planAws } from "./plan.js";
import { AWS_ALGORITHMS, AWS_DEFAULT_KEY_TYPE, AWS_KEY_TYPES, AWS_PROVIDER_NAME, AWS_WRAPPING_KEY_BITS, awsWrappedFileName } from "./rules.js";

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
export const awsKms: ProviderModule = defineProvider({
  names: [AWS_PROVIDER_NAME],
  algorithms: AWS_ALGORITHMS,
  keyTypes: AWS_KEY_TYPES,
  defaultKeyType: AWS_DEFAULT_KEY_TYPE,
  wrappingKeyBits: AWS_WRAPPING_KEY_BITS,
  plan: planAws,
  outputFiles: (plan) => [awsWrappedFileName(plan.keyName)],
  export: exportAws,
});
