/**
 * The checks every provider's export() makes before it wraps (the plan's algorithm is one of this
 * provider's, and the target key is of the planned type), and the wrapping step itself.
 */
import { CiopError } from "@ciop/core";
import type { ExportPlan, HashName, TargetKey, WrapEngine, WrappingKey, WrapResult } from "@ciop/wrap";

/**
 * Returns how this provider carries out `plan.algorithm` (its entry in `steps`), after checking
 * that `target` has the planned key type.
 * @throws CiopError ERR_ALGORITHM_UNSUPPORTED (a plan made for another provider),
 * ERR_KEY_TYPE_MISMATCH (a key of another type).
 * @public
 */
export function exportStep<Step>(plan: ExportPlan, target: TargetKey, steps: Readonly<Record<string, Step>>, label: string): Step {
  const step = Object.hasOwn(steps, plan.algorithm) ? steps[plan.algorithm] : undefined;
  if (step === undefined) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `Plan algorithm "${plan.algorithm}" is not a wrapping algorithm of ${label}.`);
  }
  checkTargetType(plan, target);
  return step;
}

/**
 * Refuses a target key whose type is not the planned one.
 * @throws CiopError ERR_KEY_TYPE_MISMATCH
 * @public
 */
export function checkTargetType(plan: ExportPlan, target: TargetKey): void {
  if (target.type !== plan.keyType) {
    throw new CiopError("ERR_KEY_TYPE_MISMATCH", `The key "${target.name}" is ${target.type}, but the plan is for ${plan.keyType}.`);
  }
}

/**
 * One wrapping step, named the way the providers' rule tables name it: RSA-OAEP of the key
 * (`oaep`), CKM_RSA_AES_KEY_WRAP (`rsa-aes`), PKCS#1 v1.5 (`pkcs1`, legacy), or Alibaba's
 * OAEP + AES-ECB/PKCS#7 layout (`rsa-aes-ecb`). The hash is OAEP's (and MGF1's).
 * @public
 */
export type WrapStep = { readonly kind: "oaep" | "rsa-aes" | "rsa-aes-ecb"; readonly hash: HashName } | { readonly kind: "pkcs1"; readonly hash?: HashName };

/**
 * Runs `step` on the engine: the target wrapped under the provider's wrapping key. What each
 * provider does with the bytes (files, encodings, splitting) stays in the provider.
 * @public
 */
export function wrapStep(engine: WrapEngine, wrappingKey: WrappingKey, target: TargetKey, step: WrapStep): Promise<WrapResult> {
  switch (step.kind) {
    case "oaep":
      return engine.rsaOaep(wrappingKey, target, step.hash);
    case "rsa-aes":
      return engine.rsaAesKeyWrap(wrappingKey, target, step.hash);
    case "rsa-aes-ecb":
      return engine.rsaAesEcb(wrappingKey, target, step.hash);
    case "pkcs1":
      return engine.rsaPkcs1v15(wrappingKey, target);
  }
}
