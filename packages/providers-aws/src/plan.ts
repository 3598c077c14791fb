/**
 * plan() for AWS KMS: validates the whole request (provider, key name, algorithm, key type,
 * algorithm x key type, wrapping-key type/size/certificate/strength, plaintext fit) before anything
 * is generated. No side effects.
 */
import { CiopError } from "@ciop/core";
import { checkWrappingStrength } from "@ciop/wrap";
import type { ExportPlan, ExportRequest } from "@ciop/wrap";
import {
  AWS_ALGORITHMS,
  AWS_ALGORITHM_STEPS,
  AWS_DEFAULT_KEY_TYPE,
  AWS_KEY_TYPES,
  AWS_PROVIDER_NAME,
  AWS_WRAPPING_KEY_BITS,
  type AwsAlgorithm,
} from "./rules.js";
import {
  checkAlgorithmGiven,
  checkCertificate,
  checkKeyName,
  checkKeyType,
  checkProvider,
  checkProviderOptions,
  checkWrappingKeyShape,
  oaepCapacity,
  pkcs1Capacity,
  plaintextSize,
} from "@ciop/provider-kit";

const LABEL = "AWS KMS";
const LEGACY_WARNING =
  "RSAES_PKCS1_V1_5 is a legacy wrapping algorithm: AWS KMS has not accepted it for new imports since October 2023. Prefer RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.";

/**
 * Validates an AWS KMS export request and returns the plan. Throws a usage CiopError
 * (ERR_PROVIDER_UNKNOWN, ERR_KEY_NAME_INVALID, ERR_USAGE, ERR_ALGORITHM_UNSUPPORTED,
 * ERR_KEY_TYPE_UNSUPPORTED, ERR_USAGE for a provider option (AWS takes none), ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE,
 * ERR_CERTIFICATE_NOT_VALID, ERR_WRAPPING_KEY_TOO_WEAK) on the first problem.
 * @public
 */
export function planAws(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [AWS_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, AWS_ALGORITHMS, LABEL) as AwsAlgorithm;
  const warnings: string[] = [];
  if (algorithm === "RSAES_PKCS1_V1_5") {
    if (request.allowLegacy !== true) {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${LEGACY_WARNING} To produce it anyway, explicitly allow legacy algorithms.`);
    }
    warnings.push(LEGACY_WARNING);
  }
  const keyType = checkKeyType(request.keyType, AWS_KEY_TYPES, AWS_DEFAULT_KEY_TYPE, LABEL);
  const step = AWS_ALGORITHM_STEPS[algorithm];
  const family = keyType.split("-")[0];
  if (family === "RSA" && step.kind !== "rsa-aes") {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${algorithm} cannot carry an RSA private key (${keyType}); AWS KMS imports RSA keys only with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.`,
    );
  }
  if (family === "EC" && step.kind === "pkcs1") {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `RSAES_PKCS1_V1_5 only wraps symmetric and HMAC keys, not ${keyType}. Accepted for EC keys: RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1.`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, AWS_WRAPPING_KEY_BITS, LABEL);
  warnings.push(...checkCertificate(wrappingKey, request.allowInvalidCertificate));
  if (step.kind !== "rsa-aes") {
    const size = plaintextSize(keyType) ?? Infinity;
    const capacity = step.kind === "oaep" ? oaepCapacity(wrappingKey.bits, step.hash) : pkcs1Capacity(wrappingKey.bits);
    if (size > capacity) {
      throw new CiopError(
        "ERR_WRAPPING_KEY_SIZE",
        `${keyType} key material (up to ${size} bytes) does not fit in one ${algorithm} block of an RSA-${wrappingKey.bits} wrapping key (at most ${capacity} bytes). Use a larger wrapping key or RSA_AES_KEY_WRAP_SHA_256 / RSA_AES_KEY_WRAP_SHA_1.`,
      );
    }
  }
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...AWS_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}
