/**
 * Salesforce BYOK tenant secret: plan(), export() and the module.
 */
import { CiopError } from "@ciop/core";
import {
  checkAlgorithmGiven,
  checkCertificate,
  checkKeyName,
  checkKeyType,
  checkProvider,
  checkProviderOptions,
  checkWrappingKeyShape,
  defineProvider,
  exportStep,
  wrapStep,
} from "@ciop/provider-kit";
import { checkWrappingStrength, toBase64 } from "@ciop/wrap";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule, TargetKey, WrapEngine } from "@ciop/wrap";
import {
  SALESFORCE_ALGORITHMS,
  SALESFORCE_ALGORITHM_STEPS,
  SALESFORCE_DEFAULT_KEY_TYPE,
  SALESFORCE_KEY_TYPES,
  SALESFORCE_PROVIDER_NAME,
  SALESFORCE_WRAPPING_KEY_BITS,
  salesforceHashFileName,
  salesforceWrappedFileName,
  type SalesforceAlgorithm,
} from "./rules.js";

const LABEL = "Salesforce";

/**
 * Validates a Salesforce BYOK request: AES-256 tenant secret, RSA-4096 wrapping key (the BYOK
 * certificate downloaded from Salesforce), one of the accepted algorithms.
 * @public
 */
export function planSalesforce(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [SALESFORCE_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, SALESFORCE_ALGORITHMS, LABEL) as SalesforceAlgorithm;
  const warnings: string[] = [];
  if (algorithm === "RSAES_PKCS1_V1_5") {
    const text = "RSAES_PKCS1_V1_5 is a legacy algorithm that Salesforce does not document for tenant secrets; use RSAES_OAEP_SHA_512 or RSAES_OAEP_SHA_1.";
    if (request.allowLegacy !== true) {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${text} To produce it anyway, explicitly allow legacy algorithms.`);
    }
    warnings.push(text);
  } else if (algorithm === "RSAES_OAEP_SHA_256") {
    warnings.push(
      "Salesforce documents RSA-OAEP with SHA-512 (recommended) or SHA-1 for tenant secrets; RSAES_OAEP_SHA_256 may be refused. Prefer RSAES_OAEP_SHA_512.",
    );
  }
  const keyType = checkKeyType(request.keyType, SALESFORCE_KEY_TYPES, SALESFORCE_DEFAULT_KEY_TYPE, LABEL);
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, SALESFORCE_WRAPPING_KEY_BITS, `${LABEL} (BYOK certificate)`);
  warnings.push(...checkCertificate(wrappingKey, request.allowInvalidCertificate));
  if (wrappingKey.certificate === undefined) {
    warnings.push(
      "The wrapping key is a bare public key; Salesforce wraps with the BYOK certificate (.crt) you download from Setup. Make sure this key came from it.",
    );
  }
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...SALESFORCE_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}

/**
 * Produces `<key>-wrapped` (base64 of the RSA-encrypted secret: the "Encrypted Tenant Secret")
 * and `<key>-hash` (base64 SHA-256 of the secret, computed by the engine: C_DigestKey inside the
 * HSM, the "Hashed Tenant Secret").
 * @public
 */
export async function exportSalesforce(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, SALESFORCE_ALGORITHM_STEPS, LABEL);
  const hash = await engine.digest(target, "sha256");
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const wrappedName = salesforceWrappedFileName(plan.keyName);
  const hashName = salesforceHashFileName(plan.keyName);
  const where = "Setup > Platform Encryption > Key Management > Bring Your Own Key > Upload Tenant Secret (choose the certificate used here)";
  return {
    plan,
    artefacts: [
      {
        fileName: wrappedName,
        bytes: new TextEncoder().encode(toBase64(result.bytes)),
        encoding: "base64",
        usage: `Encrypted Tenant Secret: upload it in ${where}, together with ${hashName}. (API: TenantSecret.SecretValue.)`,
      },
      {
        fileName: hashName,
        bytes: new TextEncoder().encode(toBase64(hash)),
        encoding: "base64",
        usage: `Hashed Tenant Secret (base64 SHA-256 of the secret, computed inside the engine): upload it next to ${wrappedName}. (API: TenantSecret.SecretValueHash.)`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: ["digest(SHA-256)", ...result.steps],
  };
}

/**
 * Salesforce Shield Platform Encryption BYOK (`salesforce`): a 256-bit tenant secret wrapped for
 * the BYOK certificate; writes `<key>-wrapped` and `<key>-hash`.
 * @public
 */
export const salesforceByok: ProviderModule = defineProvider({
  names: [SALESFORCE_PROVIDER_NAME],
  algorithms: SALESFORCE_ALGORITHMS,
  keyTypes: SALESFORCE_KEY_TYPES,
  defaultKeyType: SALESFORCE_DEFAULT_KEY_TYPE,
  wrappingKeyBits: SALESFORCE_WRAPPING_KEY_BITS,
  plan: planSalesforce,
  outputFiles: (plan) => [salesforceWrappedFileName(plan.keyName), salesforceHashFileName(plan.keyName)],
  export: exportSalesforce,
});
