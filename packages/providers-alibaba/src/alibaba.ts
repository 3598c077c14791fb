/**
 * Alibaba Cloud KMS: plan(), export() and the module.
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
import { checkWrappingStrength, keyTypeStrength, toBase64 } from "@ciop/wrap";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule, TargetKey, WrapEngine } from "@ciop/wrap";
import {
  ALIBABA_ALGORITHMS,
  ALIBABA_ALGORITHM_STEPS,
  ALIBABA_ASYMMETRIC_KEY_TYPES,
  ALIBABA_DEFAULT_KEY_TYPE,
  ALIBABA_KEY_SPECS,
  ALIBABA_KEY_TYPES,
  ALIBABA_PROVIDER_NAME,
  ALIBABA_SYMMETRIC_KEY_TYPES,
  ALIBABA_WRAPPING_KEY_BITS,
  alibabaWrappedFileName,
  type AlibabaAlgorithm,
} from "./rules.js";

const LABEL = "Alibaba Cloud KMS";
const ASYMMETRIC = "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD";

/**
 * Validates an Alibaba Cloud KMS request: symmetric algorithms carry AES-256 only, the asymmetric
 * algorithm carries RSA-2048/3072, EC P-256 and secp256k1 key pairs; the wrapping key is RSA-2048.
 * @public
 */
export function planAlibaba(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [ALIBABA_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, ALIBABA_ALGORITHMS, LABEL) as AlibabaAlgorithm;
  const warnings: string[] = [];
  if (algorithm === "RSAES_PKCS1_V1_5") {
    const text = "RSAES_PKCS1_V1_5 is a legacy padding (open to padding-oracle attacks); prefer RSAES_OAEP_SHA_256.";
    if (request.allowLegacy !== true) {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${text} To produce it anyway, explicitly allow legacy algorithms.`);
    }
    warnings.push(text);
  }
  const keyType = checkKeyType(request.keyType, ALIBABA_KEY_TYPES, ALIBABA_DEFAULT_KEY_TYPE, LABEL);
  const symmetricAlgorithm = algorithm !== ASYMMETRIC;
  const fits = symmetricAlgorithm ? ALIBABA_SYMMETRIC_KEY_TYPES : ALIBABA_ASYMMETRIC_KEY_TYPES;
  if (!fits.includes(keyType)) {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      symmetricAlgorithm
        ? `${algorithm} carries symmetric key material (${ALIBABA_SYMMETRIC_KEY_TYPES.join(", ")}); for ${keyType} use ${ASYMMETRIC}.`
        : `${ASYMMETRIC} carries key pairs (${ALIBABA_ASYMMETRIC_KEY_TYPES.join(", ")}); for ${keyType} use RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1.`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, ALIBABA_WRAPPING_KEY_BITS, LABEL);
  warnings.push(...checkCertificate(wrappingKey, request.allowInvalidCertificate));
  const strengthWarnings = checkWrappingStrength({
    wrappingKey,
    targetType: keyType,
    providerMaxBits: Math.max(...ALIBABA_WRAPPING_KEY_BITS),
    allowWeak: request.allowWeakWrappingKey === true,
  });
  warnings.push(...strengthWarnings);
  if (!symmetricAlgorithm && strengthWarnings.length === 0 && keyTypeStrength(keyType) > wrappingKey.strength) {
    warnings.push(
      `The RSA-${wrappingKey.bits} wrapping key (${wrappingKey.strength}-bit security) is weaker than ${keyType} (${keyTypeStrength(keyType)}-bit); ` +
        "Alibaba issues no larger wrapping key, so the transfer is limited to the wrapping key's strength.",
    );
  }
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}

/**
 * Produces `<key>-wrapped`: the base64 EncryptedKeyMaterial for `ImportKeyMaterial`.
 * @public
 */
export async function exportAlibaba(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, ALIBABA_ALGORITHM_STEPS, LABEL);
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const fileName = alibabaWrappedFileName(plan.keyName);
  const spec = ALIBABA_KEY_SPECS[plan.keyType] ?? plan.keyType;
  return {
    plan,
    artefacts: [
      {
        fileName,
        bytes: new TextEncoder().encode(toBase64(result.bytes)),
        encoding: "base64",
        usage:
          `EncryptedKeyMaterial for a KMS key with key spec ${spec} and key material source External, whose wrapping public key ` +
          `(WrappingKeySpec RSA_2048) and import token were fetched with WrappingAlgorithm ${plan.algorithm}. Console: Import Key Material, ` +
          `paste or upload the contents of ${fileName} with the import token. API/CLI: ImportKeyMaterial --KeyId <key id> ` +
          `--EncryptedKeyMaterial "$(cat ${fileName})" --ImportToken <import token>.`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}

/**
 * Alibaba Cloud KMS (`alibaba`): AES-256 key material (direct RSA encryption) and RSA/EC key
 * pairs (RSA-OAEP + AES-256-ECB) under the RSA-2048 wrapping key; writes `<key>-wrapped` (base64).
 * @public
 */
export const alibabaKms: ProviderModule = defineProvider({
  names: [ALIBABA_PROVIDER_NAME],
  algorithms: ALIBABA_ALGORITHMS,
  keyTypes: ALIBABA_KEY_TYPES,
  defaultKeyType: ALIBABA_DEFAULT_KEY_TYPE,
  wrappingKeyBits: ALIBABA_WRAPPING_KEY_BITS,
  plan: planAlibaba,
  outputFiles: (plan) => [alibabaWrappedFileName(plan.keyName)],
  export: exportAlibaba,
});
