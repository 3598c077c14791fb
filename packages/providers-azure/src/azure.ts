/**
 * Azure Key Vault / Managed HSM BYOK: plan(), export() and the module.
 */
import { CiopError } from "@ciop/core";
import {
  checkCertificate,
  checkKeyName,
  checkProvider,
  checkProviderOptions,
  checkTargetType,
  checkWrappingKeyShape,
  defineProvider,
} from "@ciop/provider-kit";
import { checkWrappingStrength, toBase64Url } from "@ciop/wrap";
import type { ExportPlan, ExportRequest, ExportResult, ProviderModule, TargetKey, WrapEngine } from "@ciop/wrap";
import {
  AZURE_ALGORITHMS,
  AZURE_DEFAULT_KEY_TYPE,
  AZURE_IMPORT_ARGS,
  AZURE_KEY_TYPES,
  AZURE_MANAGED_HSM_KEY_TYPES,
  AZURE_PROVIDER_NAME,
  AZURE_VAULT_KEY_TYPES,
  AZURE_WRAPPING_KEY_BITS,
  AZURE_WRAP_ALGORITHM,
  azureByokFileName,
  parseAzureKekId,
} from "./rules.js";
import { VERSION } from "./version.js";

const LABEL = "Microsoft Azure";

/**
 * Options of `microsoft-azure` (`ExportRequest.providerOptions`).
 * @public
 */
export type AzureExportOptions = {
  /**
   * The key-exchange key's identifier with its version (required):
   * `https://<name>.vault.azure.net/keys/<kek>/<version>` or `https://<name>.managedhsm.azure.net/keys/<kek>/<version>`.
   */
  readonly kek: string;
};

const AZURE_OPTIONS: readonly (keyof AzureExportOptions)[] = ["kek"];

/**
 * Validates an Azure request: no wrapping algorithm, a strictly valid key-exchange-key identifier
 * (`providerOptions.kek`),
 * a key type the container accepts (AES only for Managed HSM), an RSA 2048/3072/4096 KEK strong
 * enough for the target. `plan.extra` carries `azureKek`, `containerType` and `container`.
 * @public
 */
export function planAzure(request: ExportRequest<AzureExportOptions>): ExportPlan {
  const provider = checkProvider(request.provider, [AZURE_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  const options = checkProviderOptions(request.providerOptions, AZURE_OPTIONS, LABEL);
  if (request.algorithm !== undefined && request.algorithm !== "") {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${LABEL} takes no wrapping algorithm (got "${request.algorithm}"): the .byok format always uses ${AZURE_WRAP_ALGORITHM} with RSA-OAEP SHA-1. Omit it.`,
    );
  }
  if (options.kek === undefined || options.kek === "") {
    throw new CiopError(
      "ERR_USAGE",
      `${LABEL} needs the key identifier (kid) of the key-exchange key (provider option kek), e.g. https://myvault.vault.azure.net/keys/my-kek/<version>.`,
    );
  }
  const kek = parseAzureKekId(options.kek as string);
  const keyType = request.keyType ?? AZURE_DEFAULT_KEY_TYPE;
  const accepted = kek.containerType === "managedhsm" ? AZURE_MANAGED_HSM_KEY_TYPES : AZURE_VAULT_KEY_TYPES;
  if (!(accepted as readonly string[]).includes(keyType)) {
    const octHint =
      kek.containerType === "vault" && (AZURE_MANAGED_HSM_KEY_TYPES as readonly string[]).includes(keyType)
        ? " AES (oct-HSM) keys can only be imported into a Managed HSM (a https://<name>.managedhsm.azure.net/... KEK)."
        : "";
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `${LABEL} (${kek.containerType === "vault" ? "Key Vault" : "Managed HSM"}) does not import key type "${keyType}".${octHint} Accepted: ${accepted.join(", ")}.`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, AZURE_WRAPPING_KEY_BITS, `${LABEL} (key-exchange key)`);
  const warnings = checkCertificate(wrappingKey, request.allowInvalidCertificate);
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType as (typeof accepted)[number],
      providerMaxBits: Math.max(...AZURE_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return {
    provider,
    keyName,
    keyType: keyType as (typeof accepted)[number],
    algorithm: AZURE_WRAP_ALGORITHM,
    wrappingKey,
    warnings,
    extra: { azureKek: kek.kid, containerType: kek.containerType, container: kek.container },
  };
}

/**
 * Produces `KeyTransferPackage-<key>.byok`: JSON with `schema_version` 1.0.0, header
 * `{kid, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP"}`, the unpadded base64url ciphertext
 * (RSA-OAEP-SHA-1 of an ephemeral AES-256 key ‖ RFC 5649 wrap of the target) and `generator`.
 * @public
 */
export async function exportAzure(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  if (plan.algorithm !== AZURE_WRAP_ALGORITHM) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `Plan algorithm "${plan.algorithm}" is not ${AZURE_WRAP_ALGORITHM}.`);
  }
  checkTargetType(plan, target);
  const kek = parseAzureKekId(plan.extra.azureKek ?? "");
  const result = await engine.rsaAesKeyWrap(plan.wrappingKey, target, "sha1");
  const byok = {
    schema_version: "1.0.0",
    header: { kid: kek.kid, alg: "dir", enc: AZURE_WRAP_ALGORITHM },
    ciphertext: toBase64Url(result.bytes),
    generator: `ciop ${VERSION}`,
  };
  const fileName = azureByokFileName(plan.keyName);
  const args = AZURE_IMPORT_ARGS[plan.keyType]!;
  const where = kek.containerType === "vault" ? `--vault-name ${kek.container}` : `--hsm-name ${kek.container}`;
  const kty = `--kty ${args.kty}${args.curve !== undefined ? ` --curve ${args.curve}` : ""}`;
  return {
    plan,
    artefacts: [
      {
        fileName,
        bytes: new TextEncoder().encode(JSON.stringify(byok)),
        encoding: "json",
        usage:
          `Key transfer package for ${kek.containerType === "vault" ? "Key Vault" : "Managed HSM"} "${kek.container}" ` +
          `(key-exchange key ${kek.keyName}, version ${kek.keyVersion}). Import it as a new HSM key: az keyvault key import ${where} ` +
          `--name <target key name> --byok-file ${fileName} ${kty}, or upload it in the Azure portal (Keys > Generate/Import > Import).`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}

/**
 * Microsoft Azure Key Vault / Managed HSM (`microsoft-azure`): RSA and EC keys (and AES keys for
 * Managed HSM) in a `.byok` key transfer package for the given key-exchange key.
 * @public
 */
export const azureKeyVault: ProviderModule<AzureExportOptions> = defineProvider({
  names: [AZURE_PROVIDER_NAME],
  algorithms: AZURE_ALGORITHMS,
  keyTypes: AZURE_KEY_TYPES,
  defaultKeyType: AZURE_DEFAULT_KEY_TYPE,
  wrappingKeyBits: AZURE_WRAPPING_KEY_BITS,
  plan: planAzure,
  outputFiles: (plan) => [azureByokFileName(plan.keyName)],
  export: exportAzure,
});
