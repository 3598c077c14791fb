/**
 * @ciop/providers-azure: Azure Key Vault and Managed HSM BYOK rules and artefacts.
 * @packageDocumentation
 */
export { azureKeyVault, planAzure, exportAzure } from "./azure.js";
export type { AzureExportOptions } from "./azure.js";
export {
  AZURE_PROVIDER_NAME,
  AZURE_ALGORITHMS,
  AZURE_WRAP_ALGORITHM,
  AZURE_KEY_TYPES,
  AZURE_VAULT_KEY_TYPES,
  AZURE_MANAGED_HSM_KEY_TYPES,
  AZURE_DEFAULT_KEY_TYPE,
  AZURE_WRAPPING_KEY_BITS,
  AZURE_IMPORT_ARGS,
  parseAzureKekId,
  azureByokFileName,
} from "./rules.js";
export type { AzureKekId } from "./rules.js";
