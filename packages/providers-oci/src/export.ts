/**
 * export() for OCI Vault: wraps the target with the planned algorithm and returns the base64
 * `keyMaterial`, the `--wrapped-import-key` JSON and the `--key-shape` JSON. Writes nothing.
 */
import { exportStep, wrapStep } from "@ciop/provider-kit";
import { toBase64 } from "@ciop/wrap";
import type { ExportPlan, ExportResult, TargetKey, WrapEngine } from "@ciop/wrap";
import { OCI_ALGORITHM_STEPS, ociKeyMaterialFileName, ociKeyShape, ociKeyShapeFileName, ociWrappedImportKeyFileName } from "./rules.js";

/**
 * Produces, for a plan made by {@link planOci}: `<key>.keymaterial.b64` (base64 of the wrapped
 * key material, one line, no newline), `<key>.wrapped-import-key.json`
 * (`{"keyMaterial","wrappingAlgorithm"}`) and `<key>.key-shape.json` (`{"algorithm","length"}`,
 * length in bytes).
 * @public
 */
export async function exportOci(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, OCI_ALGORITHM_STEPS, "OCI Vault");
  const result = await wrapStep(engine, plan.wrappingKey, target, step);
  const keyMaterial = toBase64(result.bytes);
  const shape = ociKeyShape(plan.keyType);
  const materialFile = ociKeyMaterialFileName(plan.keyName);
  const importFile = ociWrappedImportKeyFileName(plan.keyName);
  const shapeFile = ociKeyShapeFileName(plan.keyName);
  const encoder = new TextEncoder();
  const keyImport =
    `oci kms management key import --compartment-id <compartment OCID> --display-name ${plan.keyName} ` +
    `--key-shape file://${shapeFile} --wrapped-import-key file://${importFile} --protection-mode HSM ` +
    `--endpoint <vault management endpoint>`;
  const versionImport = `oci kms management key-version import --key-id <key OCID> --wrapped-import-key file://${importFile} --endpoint <vault management endpoint>`;
  return {
    plan,
    artefacts: [
      {
        fileName: materialFile,
        bytes: encoder.encode(keyMaterial),
        encoding: "base64",
        usage:
          `Wrapped key material (${plan.algorithm}, under the vault's RSA-${plan.wrappingKey.bits} wrapping key) in base64: ` +
          `the wrappedImportKey.keyMaterial value of the ImportKey / ImportKeyVersion API; the same value is in ${importFile}.`,
      },
      {
        fileName: importFile,
        bytes: encoder.encode(JSON.stringify({ keyMaterial, wrappingAlgorithm: plan.algorithm })),
        encoding: "json",
        usage:
          `--wrapped-import-key for the OCI CLI, run from the directory that holds the files. New key: ${keyImport} ` +
          `(or --protection-mode SOFTWARE). New version of an existing imported key: ${versionImport}.`,
      },
      {
        fileName: shapeFile,
        bytes: encoder.encode(JSON.stringify(shape)),
        encoding: "json",
        usage: `--key-shape for oci kms management key import (${shape.algorithm}, ${shape.length} bytes); key-version import takes no key shape.`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}
