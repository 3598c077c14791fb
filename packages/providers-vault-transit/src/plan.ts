/**
 * plan() for Vault / OpenBao transit: validates the whole request (provider name, key name, no
 * provider options, hash_function, key type, RSA-4096 wrapping key, certificate validity, strength)
 * before anything is generated. No side effects.
 */
import { CiopError } from "@ciop/core";
import { checkCertificate, checkKeyName, checkProvider, checkProviderOptions, checkWrappingKeyShape } from "@ciop/provider-kit";
import { checkWrappingStrength } from "@ciop/wrap";
import type { ExportPlan, ExportRequest, KeyType } from "@ciop/wrap";
import {
  TRANSIT_KEY_NAME,
  VAULT_TRANSIT_ALGORITHMS,
  VAULT_TRANSIT_DEFAULT_ALGORITHM,
  VAULT_TRANSIT_DEFAULT_KEY_TYPE,
  VAULT_TRANSIT_KEY_TYPES,
  VAULT_TRANSIT_KEY_TYPE_GAPS,
  VAULT_TRANSIT_PROVIDER_NAMES,
  VAULT_TRANSIT_REFUSED_ALGORITHMS,
  VAULT_TRANSIT_TYPES,
  VAULT_TRANSIT_WRAPPING_KEY_BITS,
  transitProduct,
  type VaultTransitAlgorithm,
} from "./rules.js";

/**
 * Validates a transit import request and returns the plan. The algorithm is the transit
 * `hash_function` (`SHA256` when none is given, as transit defaults); `plan.extra` carries
 * `transitType` and `hashFunction`. Throws a usage CiopError on the first problem:
 * ERR_PROVIDER_UNKNOWN, ERR_KEY_NAME_INVALID, ERR_USAGE (a provider option: transit takes none; an
 * empty algorithm), ERR_ALGORITHM_UNSUPPORTED (unknown hash_function, or SHA224),
 * ERR_KEY_TYPE_UNSUPPORTED, ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE (not RSA-4096),
 * ERR_CERTIFICATE_NOT_VALID, ERR_WRAPPING_KEY_TOO_WEAK.
 * @public
 */
export function planVaultTransit(request: ExportRequest): ExportPlan {
  const provider = checkProvider(request.provider, VAULT_TRANSIT_PROVIDER_NAMES);
  const label = `${transitProduct(provider)} transit`;
  const keyName = checkKeyName(request.keyName);
  checkProviderOptions(request.providerOptions, [], label);
  const algorithm = checkHashFunction(request.algorithm, label);
  const keyType = checkTransitKeyType(request.keyType, label);
  const wrappingKey = request.wrappingKey;
  if (wrappingKey.type === "RSA" && !VAULT_TRANSIT_WRAPPING_KEY_BITS.includes(wrappingKey.bits)) {
    throw new CiopError(
      "ERR_WRAPPING_KEY_SIZE",
      `${label} does not use a ${wrappingKey.bits}-bit RSA wrapping key: its wrapping key (read transit/wrapping_key) is always RSA-4096, and the import splits the ciphertext after exactly 512 bytes. Accepted sizes: 4096 bits.`,
    );
  }
  checkWrappingKeyShape(wrappingKey, VAULT_TRANSIT_WRAPPING_KEY_BITS, label);
  const warnings = checkCertificate(wrappingKey, request.allowInvalidCertificate);
  warnings.push(
    ...checkWrappingStrength({
      wrappingKey,
      targetType: keyType,
      providerMaxBits: Math.max(...VAULT_TRANSIT_WRAPPING_KEY_BITS),
      allowWeak: request.allowWeakWrappingKey === true,
    }),
  );
  if (!TRANSIT_KEY_NAME.test(keyName)) {
    warnings.push(`"${keyName}" is not a valid transit key name (transit names start and end with a letter, digit or _); import it under another name.`);
  }
  const transitType = VAULT_TRANSIT_TYPES[keyType]!;
  return { provider, keyName, keyType, algorithm, wrappingKey, warnings, extra: { transitType, hashFunction: algorithm } };
}

/** The hash_function: transit's default when none is given, otherwise exactly one of the accepted names. */
function checkHashFunction(algorithm: string | undefined, label: string): VaultTransitAlgorithm {
  if (algorithm === undefined) return VAULT_TRANSIT_DEFAULT_ALGORITHM;
  const accepted = VAULT_TRANSIT_ALGORITHMS.join(", ");
  if (algorithm === "") {
    throw new CiopError(
      "ERR_USAGE",
      `${label}: the wrapping algorithm (the transit hash_function) is empty. Accepted: ${accepted} (default ${VAULT_TRANSIT_DEFAULT_ALGORITHM}).`,
    );
  }
  if ((VAULT_TRANSIT_ALGORITHMS as readonly string[]).includes(algorithm)) return algorithm as VaultTransitAlgorithm;
  const normalized = algorithm.toUpperCase().replace(/[-_]/g, "");
  const refused = Object.hasOwn(VAULT_TRANSIT_REFUSED_ALGORITHMS, normalized) ? VAULT_TRANSIT_REFUSED_ALGORITHMS[normalized] : undefined;
  if (refused !== undefined) {
    throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `${label}: hash_function "${algorithm}" is refused: ${refused}. Accepted: ${accepted}.`);
  }
  if ((VAULT_TRANSIT_ALGORITHMS as readonly string[]).includes(normalized)) {
    // Vault upper-cases hash_function itself, so "sha256" would work there; ciop takes one spelling
    // per algorithm (the one its printed commands use), as it does for every provider.
    throw new CiopError(
      "ERR_ALGORITHM_UNSUPPORTED",
      `${label}: write the wrapping algorithm (hash_function) "${algorithm}" as ${normalized}, the spelling ciop takes and prints in the transit commands. Accepted: ${accepted} (default ${VAULT_TRANSIT_DEFAULT_ALGORITHM}).`,
    );
  }
  throw new CiopError(
    "ERR_ALGORITHM_UNSUPPORTED",
    `${label} does not accept wrapping algorithm (hash_function) "${algorithm}". Accepted: ${accepted} (default ${VAULT_TRANSIT_DEFAULT_ALGORITHM}).`,
  );
}

/** The key type: ciop's default (AES-256) when none is given, otherwise one transit imports. */
function checkTransitKeyType(keyType: string | undefined, label: string): KeyType {
  const type = keyType ?? VAULT_TRANSIT_DEFAULT_KEY_TYPE;
  if ((VAULT_TRANSIT_KEY_TYPES as readonly string[]).includes(type)) return type as KeyType;
  const gap = Object.hasOwn(VAULT_TRANSIT_KEY_TYPE_GAPS, type) ? VAULT_TRANSIT_KEY_TYPE_GAPS[type as KeyType] : undefined;
  throw new CiopError(
    "ERR_KEY_TYPE_UNSUPPORTED",
    `${label} does not import key type "${type}"${gap !== undefined ? `: ${gap}` : ""}. Accepted: ${VAULT_TRANSIT_KEY_TYPES.join(", ")}.`,
  );
}
