/**
 * @ciop/providers-gcp: Google Compute Engine (CSEK) and Google Cloud KMS BYOK rules and artefacts.
 * @packageDocumentation
 */
export { googleComputeEngine, planComputeEngine, exportComputeEngine } from "./compute-engine.js";
export { googleCloudKms, planCloudKms, exportCloudKms } from "./cloud-kms.js";
export {
  GCE_PROVIDER_NAME,
  GCE_ALGORITHMS,
  GCE_ACCEPTED_BY_GOOGLE,
  GCE_KEY_TYPES,
  GCE_DEFAULT_KEY_TYPE,
  GCE_WRAPPING_KEY_BITS,
  gceWrappedFileName,
  gceSha256FileName,
  GCKMS_PROVIDER_NAME,
  GCKMS_ALGORITHMS,
  GCKMS_KEY_TYPES,
  GCKMS_DEFAULT_KEY_TYPE,
  GCKMS_WRAPPING_KEY_BITS,
  GCKMS_EXAMPLE_ALGORITHMS,
  gckmsImportMethod,
  gckmsWrappedFileName,
} from "./rules.js";
export type { GceAlgorithm, GckmsAlgorithm } from "./rules.js";
