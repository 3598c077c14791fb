/**
 * @ciop/providers-vault-transit: HashiCorp Vault and OpenBao transit key import rules and artefacts.
 * @packageDocumentation
 */
export { vaultTransit } from "./vault-transit.js";
export { planVaultTransit } from "./plan.js";
export { exportVaultTransit } from "./export.js";
export type { VaultTransitImportParams } from "./export.js";
export {
  VAULT_TRANSIT_PROVIDER_NAME,
  OPENBAO_PROVIDER_NAME,
  VAULT_TRANSIT_PROVIDER_NAMES,
  VAULT_TRANSIT_ALGORITHMS,
  VAULT_TRANSIT_DEFAULT_ALGORITHM,
  VAULT_TRANSIT_REFUSED_ALGORITHMS,
  VAULT_TRANSIT_TYPES,
  VAULT_TRANSIT_KEY_TYPES,
  VAULT_TRANSIT_DEFAULT_KEY_TYPE,
  VAULT_TRANSIT_WRAPPING_KEY_BITS,
  vaultTransitCiphertextFileName,
  vaultTransitParamsFileName,
} from "./rules.js";
export type { VaultTransitAlgorithm } from "./rules.js";
