/**
 * The Vault / OpenBao transit provider module.
 */
import { defineProvider } from "@ciop/provider-kit";
import type { ProviderModule } from "@ciop/wrap";
import { exportVaultTransit } from "./export.js";
import { planVaultTransit } from "./plan.js";
import {
  VAULT_TRANSIT_ALGORITHMS,
  VAULT_TRANSIT_DEFAULT_KEY_TYPE,
  VAULT_TRANSIT_KEY_TYPES,
  VAULT_TRANSIT_PROVIDER_NAMES,
  VAULT_TRANSIT_WRAPPING_KEY_BITS,
  vaultTransitCiphertextFileName,
  vaultTransitParamsFileName,
} from "./rules.js";

/**
 * HashiCorp Vault and OpenBao transit BYOK (`vault-transit`, `openbao`): imports AES-128/256,
 * HMAC-256/384/512, RSA and EC P-256/P-384/P-521 keys under the mount's RSA-4096
 * `transit/wrapping_key`; the algorithm is the transit `hash_function` (default `SHA256`). Writes
 * `<key>-wrapped` (base64 ciphertext) and `<key>-transit-import.json`.
 *
 * @example
 * ```ts
 * const plan = vaultTransit.plan({ provider: "vault-transit", keyName: "k1", wrappingKey, algorithm: "SHA256" });
 * const { artefacts } = await vaultTransit.export(plan, engine, target);
 * ```
 * @public
 */
export const vaultTransit: ProviderModule = defineProvider({
  names: VAULT_TRANSIT_PROVIDER_NAMES,
  algorithms: VAULT_TRANSIT_ALGORITHMS,
  keyTypes: VAULT_TRANSIT_KEY_TYPES,
  defaultKeyType: VAULT_TRANSIT_DEFAULT_KEY_TYPE,
  wrappingKeyBits: VAULT_TRANSIT_WRAPPING_KEY_BITS,
  plan: planVaultTransit,
  outputFiles: (plan) => [vaultTransitCiphertextFileName(plan.keyName), vaultTransitParamsFileName(plan.keyName)],
  export: exportVaultTransit,
});
