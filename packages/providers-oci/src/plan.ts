/**
 * plan() for OCI Vault: validates the whole request (provider, key name, options, algorithm, key
 * type, algorithm x key type, wrapping-key type/size/certificate/strength) before anything is
 * generated. No side effects.
 */
import { CiopError } from "@ciop/core";
import { checkWrappingStrength } from "@ciop/wrap";
import type { ExportPlan, ExportRequest } from "@ciop/wrap";
import {
  checkAlgorithmGiven,
  checkCertificate,
  checkKeyName,
  checkKeyType,
  checkProvider,
  checkProviderOptions,
  checkWrappingKeyShape,
} from "@ciop/provider-kit";
import {
  OCI_ALGORITHMS,
  OCI_ALGORITHM_STEPS,
  OCI_DEFAULT_KEY_TYPE,
  OCI_KEY_TYPES,
  OCI_PROVIDER_NAME,
  OCI_WRAPPING_KEY_BITS,
  type OciAlgorithm,
} from "./rules.js";

const LABEL = "OCI Vault";

/**
 * OCI's import page states both that AES keys of 24 and 32 bytes can be imported and that, to meet
 * PCI compliance, a key stronger than the vault's RSA-4096 wrapping key (that is, an AES key longer
 * than 128 bits) cannot be. The export goes ahead; the operator is told.
 */
function pciWarning(keyType: string): string {
  return (
    `OCI's import documentation lists ${keyType} as importable, but also says that for PCI compliance no key stronger than the ` +
    "vault's RSA-4096 wrapping key (no AES key longer than 128 bits) can be imported. If the vault refuses the import, use AES-128."
  );
}

/**
 * Validates an OCI Vault export request and returns the plan. Throws a usage CiopError
 * (ERR_PROVIDER_UNKNOWN, ERR_KEY_NAME_INVALID, ERR_USAGE for any provider option (OCI takes none)
 * or a missing algorithm, ERR_ALGORITHM_UNSUPPORTED, ERR_KEY_TYPE_UNSUPPORTED,
 * ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE, ERR_CERTIFICATE_NOT_VALID,
 * ERR_WRAPPING_KEY_TOO_WEAK) on the first problem.
 * @public
 */
export function planOci(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, [OCI_PROVIDER_NAME]);
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], LABEL);
  const algorithm = checkAlgorithmGiven(request.algorithm, OCI_ALGORITHMS, LABEL) as OciAlgorithm;
  if (typeof request.keyType === "string" && request.keyType.startsWith("EC-")) {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `${LABEL} does not import elliptic-curve keys (${request.keyType}): OCI documents that ECDSA keys cannot be imported. ` +
        `Accepted: ${OCI_KEY_TYPES.join(", ")}.`,
    );
  }
  const keyType = checkKeyType(request.keyType, OCI_KEY_TYPES, OCI_DEFAULT_KEY_TYPE, LABEL);
  const step = OCI_ALGORITHM_STEPS[algorithm];
  if (keyType.startsWith("RSA-") && step.kind !== "rsa-aes") {
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${algorithm} cannot carry an RSA private key (${keyType}): it does not fit in one OAEP block. OCI Vault imports RSA keys with RSA_OAEP_AES_SHA256.`,
    );
  }
  const wrappingKey = request.wrappingKey;
  checkWrappingKeyShape(wrappingKey, OCI_WRAPPING_KEY_BITS, LABEL);
  const warnings = checkCertificate(wrappingKey, request.allowInvalidCertificate);
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...OCI_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  if (keyType === "AES-192" || keyType === "AES-256") warnings.push(pciWarning(keyType));
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: {} };
}
