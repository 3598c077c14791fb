/**
 * Google Compute Engine customer-supplied encryption keys (CSEK): plan(), export() and the module.
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
  GCE_ACCEPTED_BY_GOOGLE,
  GCE_ALGORITHMS,
  GCE_ALGORITHM_STEPS,
  GCE_DEFAULT_KEY_TYPE,
  GCE_KEY_TYPES,
  GCE_PROVIDER_NAME,
  GCE_WRAPPING_KEY_BITS,
  gceSha256FileName,
  gceWrappedFileName,
  type GceAlgorithm,
} from "./rules.js";

const LABEL = "Google Compute Engine";

/**
 * Validates a Compute Engine (CSEK) request: AES-256 target, RSA-2048 wrapping key (normally
 * Google's `google-cloud-csek-ingress.pem` certificate), one of the seed's algorithms.
 * @public
 */
export function planComputeEngine(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [GCE_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, GCE_ALGORITHMS, LABEL) as GceAlgorithm;
  const warnings: string[] = [];
  if (algorithm === "RSAES_PKCS1_V1_5") {
    const text = `Google Compute Engine does not unwrap RSAES_PKCS1_V1_5; it only accepts ${GCE_ACCEPTED_BY_GOOGLE} (RSA-OAEP, SHA-1).`;
    if (request.allowLegacy !== true) {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${text} Use ${GCE_ACCEPTED_BY_GOOGLE}, or explicitly allow legacy algorithms.`);
    }
    warnings.push(text);
  } else if (algorithm !== GCE_ACCEPTED_BY_GOOGLE) {
    warnings.push(
      `Google Compute Engine only unwraps ${GCE_ACCEPTED_BY_GOOGLE} (RSA-OAEP with SHA-1); a key wrapped with ${algorithm} will be rejected when you create the disk.`,
    );
  }
  const keyType = checkKeyType(request.keyType, GCE_KEY_TYPES, GCE_DEFAULT_KEY_TYPE, LABEL);
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, GCE_WRAPPING_KEY_BITS, LABEL);
  warnings.push(...checkCertificate(wrappingKey, request.allowInvalidCertificate));
  if (wrappingKey.certificate === undefined) {
    warnings.push(
      "The wrapping key is a bare public key; Compute Engine's wrapping key is the certificate google-cloud-csek-ingress.pem. Make sure this key came from it.",
    );
  }
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...GCE_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}

/**
 * Produces `<key>-wrapped` (base64 of the RSA-wrapped key, the `rsaEncryptedKey` value) and
 * `<key>-sha256` (base64 SHA-256 of the raw key, computed by the engine: C_DigestKey in an HSM).
 * @public
 */
export async function exportComputeEngine(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, GCE_ALGORITHM_STEPS, LABEL);
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const sha256 = toBase64(await engine.digest(target, "sha256"));
  const wrappedName = gceWrappedFileName(plan.keyName);
  return {
    plan,
    artefacts: [
      {
        fileName: wrappedName,
        bytes: new TextEncoder().encode(toBase64(result.bytes)),
        encoding: "base64",
        usage:
          `RSA-wrapped customer-supplied encryption key. Console: Disks > Create disk > Encryption > Customer-supplied key, ` +
          `tick "Wrapped key" and paste the contents of ${wrappedName}. API: diskEncryptionKey.rsaEncryptedKey; gcloud --csek-key-file ` +
          `entry {"uri": "<disk URL>", "key": "<contents>", "key-type": "rsa-encrypted"}. Compute Engine should then report sha256 ${sha256}.`,
      },
      {
        fileName: gceSha256FileName(plan.keyName),
        bytes: new TextEncoder().encode(sha256),
        encoding: "base64",
        usage:
          "Expected sha256 of the key (base64 SHA-256 of the raw 256-bit key, computed inside the engine). Nothing to upload: " +
          "compare it with the sha256 Compute Engine shows in the disk's diskEncryptionKey.",
      },
    ],
    hostFallback: result.hostFallback,
    steps: [...result.steps, "digest(SHA-256)"],
  };
}

/**
 * Google Compute Engine CSEK (`google-compute-engine`): wraps a 256-bit AES key for a disk's
 * customer-supplied encryption key; writes `<key>-wrapped` (base64) and `<key>-sha256`.
 * @public
 */
export const googleComputeEngine: ProviderModule = defineProvider({
  names: [GCE_PROVIDER_NAME],
  algorithms: GCE_ALGORITHMS,
  keyTypes: GCE_KEY_TYPES,
  defaultKeyType: GCE_DEFAULT_KEY_TYPE,
  wrappingKeyBits: GCE_WRAPPING_KEY_BITS,
  plan: planComputeEngine,
  outputFiles: (plan) => [gceWrappedFileName(plan.keyName), gceSha256FileName(plan.keyName)],
  export: exportComputeEngine,
});
