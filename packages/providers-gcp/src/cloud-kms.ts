/**
 * Google Cloud KMS import jobs: plan(), export() and the module.
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
import { checkWrappingStrength, keyKind } from "@ciop/wrap";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule, TargetKey, WrapEngine } from "@ciop/wrap";
import {
  GCKMS_ALGORITHMS,
  GCKMS_ALGORITHM_STEPS,
  GCKMS_DEFAULT_KEY_TYPE,
  GCKMS_EXAMPLE_ALGORITHMS,
  GCKMS_KEY_TYPES,
  GCKMS_PROVIDER_NAME,
  GCKMS_WRAPPING_KEY_BITS,
  gckmsImportMethod,
  gckmsWrappedFileName,
  type GckmsAlgorithm,
} from "./rules.js";

const LABEL = "Google Cloud KMS";

/**
 * Validates a Cloud KMS import request. `plan.extra.importMethod` is the import job's method
 * (e.g. `RSA_OAEP_3072_SHA256_AES_256`) the wrapping key must come from.
 * @public
 */
export function planCloudKms(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [GCKMS_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, GCKMS_ALGORITHMS, LABEL) as GckmsAlgorithm;
  const keyType = checkKeyType(request.keyType, GCKMS_KEY_TYPES, GCKMS_DEFAULT_KEY_TYPE, LABEL);
  const step = GCKMS_ALGORITHM_STEPS[algorithm];
  if (step.kind === "oaep" && keyKind(keyType) !== "secret") {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${algorithm} (direct RSA-OAEP) only carries symmetric keys (AES-256, HMAC), not ${keyType}. ` +
        `For key pairs use RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (the RSA-AES import methods).`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, GCKMS_WRAPPING_KEY_BITS, LABEL);
  if (step.bits !== undefined && wrappingKey.bits !== step.bits) {
    throw new CiopError(
      "ERR_WRAPPING_KEY_SIZE",
      `Import method ${algorithm} uses an RSA-${step.bits} wrapping key; the key given is RSA-${wrappingKey.bits}. ` +
        `Use the wrapping key of that import job, or ${gckmsImportMethod(algorithm, wrappingKey.bits)} for this key.`,
    );
  }
  const warnings = checkCertificate(wrappingKey, request.allowInvalidCertificate);
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...GCKMS_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return {
    provider,
    keyName,
    keyType,
    algorithm,
    wrappingKey,
    warnings,
    extra: { importMethod: gckmsImportMethod(algorithm, wrappingKey.bits) },
  };
}

/**
 * Produces `<key>-wrapped.bin`: the binary wrapped key for `gcloud kms keys versions import`.
 * @public
 */
export async function exportCloudKms(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, GCKMS_ALGORITHM_STEPS, LABEL);
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const fileName = gckmsWrappedFileName(plan.keyName);
  const importMethod = plan.extra.importMethod ?? gckmsImportMethod(plan.algorithm as GckmsAlgorithm, plan.wrappingKey.bits);
  const example = GCKMS_EXAMPLE_ALGORITHMS[plan.keyType] ?? "<algorithm>";
  return {
    plan,
    artefacts: [
      {
        fileName,
        bytes: result.bytes,
        encoding: "binary",
        usage:
          `Wrapped key for a Cloud KMS import job with import method ${importMethod} (its wrapping key is the one used here). ` +
          `Console: key ring > key > Import key version, pick the import job and upload ${fileName}. CLI: gcloud kms keys versions import ` +
          `--import-job <job> --location <location> --keyring <key ring> --key <key> --algorithm ${example} --wrapped-key-file ${fileName} ` +
          `(any algorithm of the key's purpose that matches ${plan.keyType}).`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}

/**
 * Google Cloud KMS (`google-cloud-key-management`): wraps AES-256, HMAC, RSA and EC keys for an
 * import job (RSA-3072/4096 wrapping key); writes `<key>-wrapped.bin`.
 * @public
 */
export const googleCloudKms: ProviderModule = defineProvider({
  names: [GCKMS_PROVIDER_NAME],
  algorithms: GCKMS_ALGORITHMS,
  keyTypes: GCKMS_KEY_TYPES,
  defaultKeyType: GCKMS_DEFAULT_KEY_TYPE,
  wrappingKeyBits: GCKMS_WRAPPING_KEY_BITS,
  plan: planCloudKms,
  outputFiles: (plan) => [gckmsWrappedFileName(plan.keyName)],
  export: exportCloudKms,
});
