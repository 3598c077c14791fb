/**
 * export() for AWS KMS: wraps the target with the planned algorithm and returns the one artefact
 * AWS takes as "wrapped key material" (binary EncryptedKeyMaterial). Writes nothing.
 */
import { CiopError } from "@ciop/core";
import type { ExportPlan, ExportResult, TargetKey, WrapEngine, WrapResult } from "@ciop/wrap";
import { AWS_ALGORITHM_STEPS, AWS_KEY_SPECS, awsWrappedFileName, type AwsAlgorithm } from "./rules.js";

/**
 * Produces `<key>-wrapped` (binary EncryptedKeyMaterial) for a plan made by {@link planAws}.
 * @public
 */
export async function exportAws(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = AWS_ALGORITHM_STEPS[plan.algorithm as AwsAlgorithm];
  if (step === undefined) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `Plan algorithm "${plan.algorithm}" is not an AWS KMS wrapping algorithm.`);
  }
  if (target.type !== plan.keyType) {
    throw new CiopError(
      "ERR_KEY_TYPE_MISMATCH",
      `The key "${target.name}" is ${target.type}, but the plan is for ${plan.keyType}.`,
    );
  }
  let result: WrapResult;
  switch (step.kind) {
    case "oaep":
      result = await engine.rsaOaep(plan.wrappingKey, target, step.hash);
      break;
    case "rsa-aes":
      result = await engine.rsaAesKeyWrap(plan.wrappingKey, target, step.hash);
      break;
    case "pkcs1":
      result = await engine.rsaPkcs1v15(plan.wrappingKey, target);
      break;
  }
  const fileName = awsWrappedFileName(plan.keyName);
  const spec = AWS_KEY_SPECS[plan.keyType] ?? plan.keyType;
  return {
    plan,
    artefacts: [
      {
        fileName,
        bytes: result.bytes,
        encoding: "binary",
        usage:
          `Wrapped key material for an AWS KMS key with key spec ${spec} and origin EXTERNAL, whose wrapping key ` +
          `(RSA_${plan.wrappingKey.bits}) and import token were downloaded for wrapping algorithm ${plan.algorithm}. ` +
          `Console: choose this file as "Wrapped key material" next to the import token. CLI: aws kms import-key-material ` +
          `--key-id <key id> --encrypted-key-material fileb://${fileName} --import-token fileb://<import token file> ` +
          `--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE.`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}
