/**
 * export() for Vault / OpenBao transit: wraps the target with RSA-OAEP (the planned hash) of an
 * ephemeral AES-256 key followed by the RFC 5649 wrap of the target, and returns the base64
 * `ciphertext` and a JSON file with the import parameters. Writes nothing.
 */
import { CiopError } from "@ciop/core";
import { exportStep } from "@ciop/provider-kit";
import { toBase64 } from "@ciop/wrap";
import type { ExportPlan, ExportResult, TargetKey, WrapEngine } from "@ciop/wrap";
import { TRANSIT_KEY_NAME, VAULT_TRANSIT_HASHES, transitCli, transitProduct, vaultTransitCiphertextFileName, vaultTransitParamsFileName } from "./rules.js";

/** The RSA-OAEP block transit splits off the front of the ciphertext (RSA-4096). */
const ENCRYPTED_AES_KEY_BYTES = 512;

/** What `<key>-transit-import.json` holds. @public */
export interface VaultTransitImportParams {
  /** "HashiCorp Vault" or "OpenBao". */
  product: string;
  /** The transit `type` to import as, e.g. "aes256-gcm96". */
  type: string;
  /** The transit `hash_function`, e.g. "SHA256". */
  hash_function: string;
  /** The file holding the base64 `ciphertext`. */
  ciphertext_file: string;
  /** SHA-256 (hex) of the wrapping key's SubjectPublicKeyInfo: the mount whose transit/wrapping_key this is. */
  wrapping_key_sha256: string;
  /** Command that creates a new transit key from the ciphertext. */
  import: string;
  /** Command that adds the material as a new version of an existing imported key. */
  import_version: string;
}

/**
 * Produces `<key>-wrapped` (the base64 `ciphertext` value, one line, no newline) and
 * `<key>-transit-import.json` ({@link VaultTransitImportParams}) for a plan made by
 * {@link planVaultTransit}.
 * @public
 */
export async function exportVaultTransit(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const product = transitProduct(plan.provider);
  const hash = exportStep(plan, target, VAULT_TRANSIT_HASHES, `${product} transit`);
  const result = await engine.rsaAesKeyWrap(plan.wrappingKey, target, hash);
  if (result.bytes.length <= ENCRYPTED_AES_KEY_BYTES + 8) {
    throw new CiopError(
      "ERR_INTERNAL",
      `The RSA-AES wrap produced ${result.bytes.length} bytes; transit needs 512 bytes of RSA-OAEP followed by the RFC 5649 wrap.`,
    );
  }
  const ciphertextFile = vaultTransitCiphertextFileName(plan.keyName);
  const paramsFile = vaultTransitParamsFileName(plan.keyName);
  const type = plan.extra.transitType!;
  const hashFunction = plan.extra.hashFunction!;
  const cli = transitCli(plan.provider);
  const name = TRANSIT_KEY_NAME.test(plan.keyName) ? plan.keyName : "<name>";
  const importCommand = `${cli} write transit/keys/${name}/import ciphertext=@${ciphertextFile} hash_function=${hashFunction} type=${type}`;
  const versionCommand = `${cli} write transit/keys/${name}/import_version ciphertext=@${ciphertextFile} hash_function=${hashFunction}`;
  const params: VaultTransitImportParams = {
    product,
    type,
    hash_function: hashFunction,
    ciphertext_file: ciphertextFile,
    wrapping_key_sha256: plan.wrappingKey.sha256,
    import: importCommand,
    import_version: versionCommand,
  };
  const mount = "(replace transit/ with the mount path of your transit engine)";
  return {
    plan,
    artefacts: [
      {
        fileName: ciphertextFile,
        bytes: new TextEncoder().encode(toBase64(result.bytes)),
        encoding: "base64",
        usage:
          `The ${product} transit import ciphertext (base64: 512 bytes of RSA-OAEP-${hashFunction} of an ephemeral AES-256 key, ` +
          `then the RFC 5649 wrap of the ${plan.keyType} key), for the mount whose transit/wrapping_key this was wrapped under. ` +
          `New key: ${importCommand} ${mount}. New version of an imported key: ${versionCommand}. ` +
          `HTTP API: POST /v1/transit/keys/${name}/import with {"ciphertext": <contents of ${ciphertextFile}>, "hash_function": "${hashFunction}", "type": "${type}"}.`,
      },
      {
        fileName: paramsFile,
        bytes: new TextEncoder().encode(`${JSON.stringify(params, null, 2)}\n`),
        encoding: "json",
        usage: `Import parameters for ${ciphertextFile}: transit type ${type}, hash_function ${hashFunction}, and the ${cli} commands that take it. Nothing to upload.`,
      },
    ],
    hostFallback: result.hostFallback,
    steps: result.steps,
  };
}
