/**
 * export() for AWS KMS: wraps the target with the planned algorithm and returns the one artefact
 * AWS takes as "wrapped key material" (binary EncryptedKeyMaterial). Writes nothing.
 */
import type { ExportPlan, ExportResult, TargetKey, WrapEngine } from "@ciop/wrap";
import { exportAwsStyle } from "./aws-style.js";
import { AWS_RULES } from "./rules.js";

/**
 * Produces `<key>-wrapped` (binary EncryptedKeyMaterial) for a plan made by {@link planAws}.
 * @public
 */
export async function exportAws(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  return exportAwsStyle(AWS_RULES, plan, engine, target);
}
