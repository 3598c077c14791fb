/**
 * The OCI Vault provider module.
 */
import { defineProvider } from "@ciop/provider-kit";
import type { ProviderModule } from "@ciop/wrap";
import { exportOci } from "./export.js";
import { planOci } from "./plan.js";
import { OCI_ALGORITHMS, OCI_DEFAULT_KEY_TYPE, OCI_KEY_TYPES, OCI_PROVIDER_NAME, OCI_WRAPPING_KEY_BITS, ociOutputFiles } from "./rules.js";

/**
 * OCI Vault BYOK (`oci`): imports AES-128/192/256 and RSA-2048/3072/4096 key material wrapped
 * under the vault's RSA-4096 wrapping key; writes `<key>.keymaterial.b64`,
 * `<key>.wrapped-import-key.json` and `<key>.key-shape.json` for `oci kms management key import`.
 *
 * @example
 * ```ts
 * const plan = ociVault.plan({ provider: "oci", keyName: "k1", wrappingKey, algorithm: "RSA_OAEP_AES_SHA256" });
 * const { artefacts } = await ociVault.export(plan, engine, target);
 * ```
 * @public
 */
export const ociVault: ProviderModule = defineProvider({
  names: [OCI_PROVIDER_NAME],
  algorithms: OCI_ALGORITHMS,
  keyTypes: OCI_KEY_TYPES,
  defaultKeyType: OCI_DEFAULT_KEY_TYPE,
  wrappingKeyBits: OCI_WRAPPING_KEY_BITS,
  plan: planOci,
  outputFiles: (plan) => ociOutputFiles(plan.keyName),
  export: exportOci,
});
