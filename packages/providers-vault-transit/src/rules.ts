/**
 * HashiCorp Vault / OpenBao transit import rules: the provider names, the wrapping "algorithms"
 * (the transit `hash_function` names), the importable key types with their transit `type`, and the
 * wrapping-key size. Sources are listed in this package's README.
 */
import type { HashName, KeyType } from "@ciop/wrap";

/** Provider name for HashiCorp Vault's transit secrets engine. @public */
export const VAULT_TRANSIT_PROVIDER_NAME = "vault-transit";

/** Provider name for OpenBao's transit secrets engine (same import format as Vault's). @public */
export const OPENBAO_PROVIDER_NAME = "openbao";

/** Both names, in the order the module answers to them. @public */
export const VAULT_TRANSIT_PROVIDER_NAMES: readonly string[] = [VAULT_TRANSIT_PROVIDER_NAME, OPENBAO_PROVIDER_NAME];

/**
 * The wrapping algorithms, named exactly as transit's `hash_function` parameter spells them. Each
 * one is the same construction: RSA-OAEP (this hash for OAEP and MGF1, empty label) of a fresh
 * AES-256 key, followed by the RFC 5649 key wrap (with padding) of the target under that AES key.
 * Transit also accepts `SHA224`; ciop refuses it (see {@link VAULT_TRANSIT_REFUSED_ALGORITHMS}).
 * @public
 */
export const VAULT_TRANSIT_ALGORITHMS = ["SHA256", "SHA1", "SHA384", "SHA512"] as const;

/** @public */
export type VaultTransitAlgorithm = (typeof VAULT_TRANSIT_ALGORITHMS)[number];

/** What ciop uses when no algorithm is given: transit's own default `hash_function`. @public */
export const VAULT_TRANSIT_DEFAULT_ALGORITHM: VaultTransitAlgorithm = "SHA256";

/** The engine hash behind each `hash_function` name. @internal */
export const VAULT_TRANSIT_HASHES: Readonly<Record<VaultTransitAlgorithm, HashName>> = {
  SHA256: "sha256",
  SHA1: "sha1",
  SHA384: "sha384",
  SHA512: "sha512",
};

/**
 * `hash_function` values transit accepts but ciop does not produce, with the reason.
 * @public
 */
export const VAULT_TRANSIT_REFUSED_ALGORITHMS: Readonly<Record<string, string>> = {
  SHA224:
    "transit accepts hash_function SHA224, but ciop's wrapping engines (the PKCS#11 layer and the software engine) do RSA-OAEP with SHA-1, SHA-256, SHA-384 and SHA-512 only",
};

/**
 * Key types transit imports, and the transit `type` each one is imported as.
 * - AES keys: `aes128-gcm96`, `aes256-gcm96` (raw key bytes inside the wrap).
 * - HMAC keys: `hmac` (raw key bytes; transit takes 32 to 512 bytes, so HMAC-256/384/512 only).
 * - RSA and EC key pairs: `rsa-2048/3072/4096`, `ecdsa-p256/p384/p521` (PKCS#8 DER inside the wrap).
 * @public
 */
export const VAULT_TRANSIT_TYPES: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-256": "aes256-gcm96",
  "AES-128": "aes128-gcm96",
  "HMAC-256": "hmac",
  "HMAC-384": "hmac",
  "HMAC-512": "hmac",
  "RSA-2048": "rsa-2048",
  "RSA-3072": "rsa-3072",
  "RSA-4096": "rsa-4096",
  "EC-NISTP256": "ecdsa-p256",
  "EC-NISTP384": "ecdsa-p384",
  "EC-NISTP521": "ecdsa-p521",
};

/** The ciop key types transit imports (the keys of {@link VAULT_TRANSIT_TYPES}). @public */
export const VAULT_TRANSIT_KEY_TYPES: readonly KeyType[] = Object.keys(VAULT_TRANSIT_TYPES) as KeyType[];

/** Transit's default import type is `aes256-gcm96`; ciop's default target is the matching AES-256 key. @public */
export const VAULT_TRANSIT_DEFAULT_KEY_TYPE: KeyType = "AES-256";

/** Why transit cannot take the other ciop key types (used in the refusal message). @internal */
export const VAULT_TRANSIT_KEY_TYPE_GAPS: Readonly<Partial<Record<KeyType, string>>> = {
  "AES-192": "transit has no 192-bit AES key type (aes128-gcm96 and aes256-gcm96 only)",
  "HMAC-160": "transit's hmac type takes keys of 32 to 512 bytes, and HMAC-160 is 20 bytes",
  "HMAC-224": "transit's hmac type takes keys of 32 to 512 bytes, and HMAC-224 is 28 bytes",
  "EC-SECP256K1": "transit has no secp256k1 key type (ecdsa-p256, ecdsa-p384 and ecdsa-p521 only)",
};

/**
 * Transit's wrapping key (`transit/wrapping_key`) is always RSA-4096, and the import endpoints
 * split the ciphertext after a fixed 512 bytes, so no other size can work.
 * @public
 */
export const VAULT_TRANSIT_WRAPPING_KEY_BITS: readonly number[] = [4096];

/** The CLI of each product (`vault` or `bao`). @internal */
export function transitCli(provider: string): "vault" | "bao" {
  return provider === OPENBAO_PROVIDER_NAME ? "bao" : "vault";
}

/** The product name for messages. @internal */
export function transitProduct(provider: string): string {
  return provider === OPENBAO_PROVIDER_NAME ? "OpenBao" : "HashiCorp Vault";
}

/** Name of the file holding the base64 `ciphertext` value. @public */
export function vaultTransitCiphertextFileName(keyName: string): string {
  return `${keyName}-wrapped`;
}

/** Name of the JSON file with the import parameters (`type`, `hash_function`, the command). @public */
export function vaultTransitParamsFileName(keyName: string): string {
  return `${keyName}-transit-import.json`;
}

/**
 * Transit key names must match the secrets engine's generic name pattern: word characters, and
 * `-` `.` inside (not at either end). A ciop key name that ends in `-` or `.` is not one.
 * @internal
 */
export const TRANSIT_KEY_NAME = /^\w(?:[\w.-]*\w)?$/;
