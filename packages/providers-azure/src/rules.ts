/**
 * Azure Key Vault (Premium) and Managed HSM BYOK rules, with the seed CLI's spellings.
 */
import { CiopError } from "@ciop/core";
import type { KeyType } from "@ciop/wrap";

/** Provider name as the seed CLI spells it. @public */
export const AZURE_PROVIDER_NAME = "microsoft-azure";

/** Azure takes no wrapping-algorithm argument: the `.byok` format fixes CKM_RSA_AES_KEY_WRAP with SHA-1. @public */
export const AZURE_ALGORITHMS: readonly string[] = [];

/** The one construction Azure imports (recorded as the plan's algorithm). @public */
export const AZURE_WRAP_ALGORITHM = "CKM_RSA_AES_KEY_WRAP";

/** Key types a Key Vault (Premium) imports. @public */
export const AZURE_VAULT_KEY_TYPES: readonly KeyType[] = ["RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384", "EC-NISTP521", "EC-SECP256K1"];

/** Key types a Managed HSM imports: the vault's plus AES (`oct-HSM`) keys. @public */
export const AZURE_MANAGED_HSM_KEY_TYPES: readonly KeyType[] = [...AZURE_VAULT_KEY_TYPES, "AES-128", "AES-192", "AES-256"];

/** Every key type this module handles (AES only for Managed HSM key-exchange keys). @public */
export const AZURE_KEY_TYPES: readonly KeyType[] = AZURE_MANAGED_HSM_KEY_TYPES;

/** The seed's default target for Azure. @public */
export const AZURE_DEFAULT_KEY_TYPE: KeyType = "RSA-2048";

/** Key-exchange keys are RSA-HSM 2048, 3072 or 4096. @public */
export const AZURE_WRAPPING_KEY_BITS: readonly number[] = [2048, 3072, 4096];

/** `az keyvault key import` arguments for each target type. @public */
export const AZURE_IMPORT_ARGS: Readonly<Record<string, { kty: string; curve?: string }>> = {
  "RSA-2048": { kty: "RSA-HSM" },
  "RSA-3072": { kty: "RSA-HSM" },
  "RSA-4096": { kty: "RSA-HSM" },
  "EC-NISTP256": { kty: "EC-HSM", curve: "P-256" },
  "EC-NISTP384": { kty: "EC-HSM", curve: "P-384" },
  "EC-NISTP521": { kty: "EC-HSM", curve: "P-521" },
  "EC-SECP256K1": { kty: "EC-HSM", curve: "P-256K" },
  "AES-128": { kty: "oct-HSM" },
  "AES-192": { kty: "oct-HSM" },
  "AES-256": { kty: "oct-HSM" },
};

/** A parsed key-exchange-key identifier. @public */
export interface AzureKekId {
  kid: string;
  /** Vault or Managed HSM name (the first host label). */
  container: string;
  containerType: "vault" | "managedhsm";
  keyName: string;
  keyVersion: string;
}

const CONTAINER = "[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){1,22}[A-Za-z0-9]";
const KID = new RegExp(`^https://(${CONTAINER})\\.(vault|managedhsm)\\.azure\\.net/keys/([A-Za-z0-9-]{1,127})/([A-Za-z0-9]{1,64})$`);

/**
 * Parses and strictly validates an Azure key-exchange-key identifier:
 * `https://<name>.vault.azure.net/keys/<key>/<version>` or
 * `https://<name>.managedhsm.azure.net/keys/<key>/<version>`: https only, a 3-24 character
 * vault/HSM name, no port, user info, query, fragment or trailing slash, a non-empty key name
 * (letters, digits, hyphens) and a non-empty version (letters and digits).
 * @throws CiopError ERR_KID_INVALID
 * @public
 */
export function parseAzureKekId(kid: string): AzureKekId {
  const m = typeof kid === "string" ? KID.exec(kid) : null;
  if (m === null) {
    throw new CiopError(
      "ERR_KID_INVALID",
      `Invalid Azure key-exchange-key identifier ${JSON.stringify(kid)}. Expected the KEK's full kid with its version: ` +
        "https://<vault-name>.vault.azure.net/keys/<key-name>/<key-version> or " +
        "https://<hsm-name>.managedhsm.azure.net/keys/<key-name>/<key-version> (no query, fragment, port or trailing slash).",
    );
  }
  return {
    kid,
    container: m[1]!,
    containerType: m[2]!.toLowerCase() as "vault" | "managedhsm",
    keyName: m[3]!,
    keyVersion: m[4]!,
  };
}

/** The seed's output: `KeyTransferPackage-<key>.byok`. @public */
export function azureByokFileName(keyName: string): string {
  return `KeyTransferPackage-${keyName}.byok`;
}
