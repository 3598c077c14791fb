/**
 * Public types of @ciop/hsm. This file is the contract other packages (@ciop/wrap, apps) code
 * against: extend it, but do not break it.
 */

/** Key types ciop can create, named as the seed CLI names them (HMAC-N: generic secret of N bits). */
export type KeyType =
  | "AES-128" | "AES-192" | "AES-256"
  | "HMAC-160" | "HMAC-224" | "HMAC-256" | "HMAC-384" | "HMAC-512"
  | "RSA-2048" | "RSA-3072" | "RSA-4096"
  | "EC-NISTP256" | "EC-NISTP384" | "EC-NISTP521" | "EC-SECP256K1";

export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** Where a PIN comes from. Never argv alone. `value` is for programmatic callers only. */
export type PinSource =
  | { env: string }
  | { file: string }
  | { prompt: (what: string) => Promise<string> }
  | { value: string };

/**
 * The three protection models of the seed CLI mapped onto PKCS#11:
 * - module: the default token, PIN from the stored PIN file (embedded token) or the configured source;
 * - softcard: a token selected by name (label), PIN = the softcard passphrase;
 * - ocs: a token selected by name (label), PIN = the card set PIN.
 */
export type Protection = { kind: "module" } | { kind: "softcard"; name: string } | { kind: "ocs"; name: string };

export interface HsmOptions {
  /** PKCS#11 library path. Default: env CIOP_PKCS11_LIB, else Debian's SoftHSM2 with the embedded token. */
  library?: string;
  /** Token selector: label, serial, or "#<index>" into the list of initialised tokens. Env: CIOP_TOKEN. */
  token?: string;
  protection?: Protection;
  /** PIN source. Default: env CIOP_PIN, CIOP_PIN_FILE, then the embedded token's PIN file. */
  pin?: PinSource;
  /** Where the embedded token lives. Default: $XDG_DATA_HOME/ciop (~/.local/share/ciop). */
  dataDir?: string;
  /** Permit host-side fallbacks on a token that is not a software token. */
  allowHostFallback?: boolean;
  /** Sessions kept open for concurrent work (default 4). */
  sessionPoolSize?: number;
}

export interface TokenInfo {
  libraryPath: string;
  libraryDescription: string;
  manufacturer: string;
  model: string;
  label: string;
  serial: string;
  /** A software token (SoftHSM, NSS softokn...): host-side fallbacks are allowed automatically. */
  isSoftware: boolean;
  /** True when this is ciop's own embedded SoftHSM2 token. */
  embedded: boolean;
}

export interface KeyInfo {
  name: string;
  type: KeyType;
  /** CKA_ID, hex. */
  id: string;
  createdByCiop: boolean;
  enabled: boolean;
  extractable: boolean;
  sensitive: boolean;
}

/** How a wrap was done. `hostFallback` = key material (target or ephemeral) was in host memory. */
export interface WrapOutcome {
  bytes: Uint8Array;
  hostFallback: boolean;
  /** Mechanisms used, in order, e.g. ["CKM_AES_KEY_WRAP_PAD", "CKM_RSA_PKCS_OAEP(SHA-1)"]. */
  mechanisms: string[];
}

export interface Capabilities {
  rsaPkcs1: boolean;
  /** OAEP hashes the token accepts for C_WrapKey (probed; SoftHSM: ["sha1"]). */
  rsaOaepHashes: HashName[];
  /** CKM_RSA_AES_KEY_WRAP (0x1054) and the OAEP hashes it accepts. */
  rsaAesKeyWrapHashes: HashName[];
  /** RFC 5649 mechanism number found by probing (0x210A on SoftHSM/nShield, 0x210B per v3), or null. */
  aesKeyWrapPadMechanism: number | null;
  /** True when the token zero-pads PKCS#8 before KWP (SoftHSM 2.6.1 bug). */
  kwpPadsPrivateKeys: boolean;
  aesGcm: boolean;
  aesGcmKeyWrap: boolean;
  aesEcbPadKeyWrap: boolean;
  digestKey: HashName[];
  asyncCalls: boolean;
}
