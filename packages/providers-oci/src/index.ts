/**
 * @ciop/providers-oci: OCI Vault BYOK rules and artefacts.
 * @packageDocumentation
 */
export { ociVault } from "./oci.js";
export { planOci } from "./plan.js";
export { exportOci } from "./export.js";
export {
  OCI_PROVIDER_NAME,
  OCI_ALGORITHMS,
  OCI_KEY_TYPES,
  OCI_DEFAULT_KEY_TYPE,
  OCI_WRAPPING_KEY_BITS,
  ociKeyShape,
  ociKeyMaterialFileName,
  ociWrappedImportKeyFileName,
  ociKeyShapeFileName,
  ociOutputFiles,
} from "./rules.js";
export type { OciAlgorithm } from "./rules.js";
