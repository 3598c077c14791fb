/**
 * The IBM Key Protect provider module.
 */
import { defineProvider } from "@ciop/provider-kit";
import type { ProviderModule } from "@ciop/wrap";
import { exportIbmKeyProtect } from "./export.js";
import { planIbmKeyProtect, type IbmKeyProtectExportOptions } from "./plan.js";
import {
  IBM_KP_ALGORITHMS,
  IBM_KP_DEFAULT_KEY_TYPE,
  IBM_KP_KEY_TYPES,
  IBM_KP_PROVIDER_NAME,
  IBM_KP_WRAPPING_KEY_BITS,
  ibmKeyProtectFileNames,
} from "./rules.js";

/**
 * IBM Key Protect with an import token (`ibm-key-protect`): AES-128/192/256 root keys, the key
 * RSA-OAEP-SHA-256-encrypted under the token's RSA-4096 public key and the token's nonce
 * AES-GCM-encrypted under the key; writes `<key>-payload`, `<key>-encryptedNonce`, `<key>-iv` and
 * `<key>-create-key.json`. The nonce comes in `providerOptions.nonce`.
 *
 * @example
 * ```ts
 * const plan = ibmKeyProtect.plan({ provider: "ibm-key-protect", keyName: "k1", wrappingKey, providerOptions: { nonce: "8zJE9pKVdXVe/nLb" } });
 * const { artefacts } = await ibmKeyProtect.export(plan, engine, target);
 * ```
 * @public
 */
export const ibmKeyProtect: ProviderModule<IbmKeyProtectExportOptions> = defineProvider({
  names: [IBM_KP_PROVIDER_NAME],
  algorithms: IBM_KP_ALGORITHMS,
  keyTypes: IBM_KP_KEY_TYPES,
  defaultKeyType: IBM_KP_DEFAULT_KEY_TYPE,
  wrappingKeyBits: IBM_KP_WRAPPING_KEY_BITS,
  plan: planIbmKeyProtect,
  outputFiles: (plan) => ibmKeyProtectFileNames(plan.keyName),
  export: exportIbmKeyProtect,
});
