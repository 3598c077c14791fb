/**
 * plan() for IBM Key Protect: validates the whole request (provider, key name, the import token's
 * nonce, algorithm, key type, the import token's RSA-4096 public key) before anything is generated.
 * No side effects.
 */
import { CiopError } from "@ciop/core";
import { checkWrappingStrength } from "@ciop/wrap";
import type { ExportPlan, ExportRequest } from "@ciop/wrap";
import { checkCertificate, checkKeyName, checkKeyType, checkProvider, checkProviderOptions, checkWrappingKeyShape } from "@ciop/provider-kit";
import { parseIbmNonce } from "./nonce.js";
import {
  IBM_KP_ALGORITHMS,
  IBM_KP_DEFAULT_ALGORITHM,
  IBM_KP_DEFAULT_KEY_TYPE,
  IBM_KP_KEY_NAME_LENGTH,
  IBM_KP_KEY_TYPES,
  IBM_KP_PROVIDER_NAME,
  IBM_KP_WRAPPING_KEY_BITS,
} from "./rules.js";

const LABEL = "IBM Key Protect";

/**
 * Options of `ibm-key-protect` (`ExportRequest.providerOptions`).
 * @public
 */
export type IbmKeyProtectExportOptions = {
  /**
   * The import token's nonce (required): the `nonce` member of `GET /api/v2/import_token` (or of
   * `ibmcloud kp import-token show`), standard base64 as given, 8 to 64 bytes decoded.
   */
  readonly nonce: string;
};

const OPTIONS: readonly (keyof IbmKeyProtectExportOptions)[] = ["nonce"];

/**
 * Validates an IBM Key Protect import-token request and returns the plan; `plan.extra.nonce` holds
 * the nonce (base64). Throws a usage CiopError on the first problem: ERR_PROVIDER_UNKNOWN,
 * ERR_KEY_NAME_INVALID (also outside Key Protect's 2-90 characters), ERR_USAGE (unknown option, a
 * missing or malformed nonce), ERR_ALGORITHM_UNSUPPORTED, ERR_KEY_TYPE_UNSUPPORTED,
 * ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE (not RSA-4096), ERR_CERTIFICATE_NOT_VALID.
 * @public
 */
export function planIbmKeyProtect(request: ExportRequest<IbmKeyProtectExportOptions>): ExportPlan {
  const provider = checkProvider(request.provider, [IBM_KP_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  if (keyName.length < IBM_KP_KEY_NAME_LENGTH.min || keyName.length > IBM_KP_KEY_NAME_LENGTH.max) {
    throw new CiopError(
      "ERR_KEY_NAME_INVALID",
      `Key name "${keyName}" is ${keyName.length} characters; IBM Key Protect key names are ${IBM_KP_KEY_NAME_LENGTH.min} to ${IBM_KP_KEY_NAME_LENGTH.max} characters (the name goes into the create-key request).`,
    );
  }
  const options = checkProviderOptions(request.providerOptions, OPTIONS, LABEL);
  const nonce = parseIbmNonce(options.nonce);
  const algorithm = request.algorithm === undefined || request.algorithm === "" ? IBM_KP_DEFAULT_ALGORITHM : request.algorithm;
  if (!(IBM_KP_ALGORITHMS as readonly string[]).includes(algorithm)) {
    const hint =
      algorithm === "RSAES_OAEP_SHA_1"
        ? " RSAES_OAEP_SHA_1 is what Hyper Protect Crypto Services takes; IBM's docs say not to use it for Key Protect root keys."
        : "";
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${LABEL} does not accept wrapping algorithm "${algorithm}".${hint} Accepted: ${IBM_KP_ALGORITHMS.join(", ")}.`,
    );
  }
  const keyType = checkKeyType(request.keyType, IBM_KP_KEY_TYPES, IBM_KP_DEFAULT_KEY_TYPE, `${LABEL} (root keys)`);
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, IBM_KP_WRAPPING_KEY_BITS, `${LABEL} (import token public key)`);
  const warnings = checkCertificate(wrappingKey, request.allowInvalidCertificate);
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...IBM_KP_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: { nonce: Buffer.from(nonce).toString("base64") } };
}
