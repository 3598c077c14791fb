/**
 * The checks every provider's export() makes before it wraps: the plan's algorithm is one of this
 * provider's, and the target key is of the planned type.
 */
import { CiopError } from "@ciop/core";
import type { ExportPlan, TargetKey } from "@ciop/wrap";

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
