/**
 * export() for AWS KMS: wraps the target with the planned algorithm and returns the one artefact
 * AWS takes as "wrapped key material" (binary EncryptedKeyMaterial). Writes nothing.
 */
import { exportStep } from "@ciop/provider-kit";
import type { ExportPlan, ExportResult, TargetKey, WrapEngine, WrapResult } from "@ciop/wrap";
import { AWS_ALGORITHM_STEPS, AWS_KEY_SPECS, awsWrappedFileName } from "./rules.js";

/**
 * Produces `<key>-wrapped` (binary EncryptedKeyMaterial) for a plan made by {@link planAws}.
 * @public
 */
export async function exportAws(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, AWS_ALGORITHM_STEPS, "AWS KMS");
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
