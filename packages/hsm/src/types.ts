/**
 * Public types of @ciop/hsm. This file is the contract other packages (@ciop/wrap, apps) code
 * against: extend it, but do not break it.
 */
import type { GcmProfile, GcmProfileOption } from "./gcm-profile.js";

/** Key types ciop can create, named as the seed CLI names them (HMAC-N: generic secret of N bits). */
export type KeyType =
  | "AES-128"
  | "AES-192"
  | "AES-256"
  | "HMAC-160"
  | "HMAC-224"
  | "HMAC-256"
  | "HMAC-384"
  | "HMAC-512"
  | "RSA-2048"
  | "RSA-3072"
  | "RSA-4096"
  | "EC-NISTP256"
  | "EC-NISTP384"
  | "EC-NISTP521"
  | "EC-SECP256K1";

export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** Where a PIN comes from. Never argv alone. `value` is for programmatic callers only. */
export type PinSource = { env: string } | { file: string } | { prompt: (what: string) => Promise<string> } | { value: string };

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
  /**
   * Parameters for the library's C_Initialize (the reserved field of CK_C_INITIALIZE_ARGS), which
   * NSS softokn needs, e.g. `configdir='sql:/path' certPrefix='' keyPrefix='' secmod='secmod.db' flags=noModDB`.
   * Default: env CIOP_PKCS11_PARAMS. Read once per library and process.
   */
  libraryParameters?: string;
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
  /**
   * Worker threads that run the async AES-GCM calls (`encryptAesGcmAsync`/`decryptAesGcmAsync`):
   * each makes the Init and the Encrypt/Decrypt of one call on a pooled session, so the event loop
   * never waits for the token. Default: one per pooled session (`sessionPoolSize`); more cannot run
   * at once. 0: no worker threads (pkcs11js's threadpool call for Encrypt/Decrypt, the Init on the
   * event loop). A whole number from 0 to 256; anything else is refused at open.
   */
  gcmWorkers?: number;
  /** Called for every host-side fallback (also emitted as the "host-fallback" event). Log it to the audit log. */
  onHostFallback?: (event: HostFallbackEvent) => void;
  /**
   * How many host-fallback events {@link Hsm.hostFallbacks} keeps (the most recent; default 100, 0 = none).
   * {@link Hsm.hostFallbackCount} always counts every one.
   */
  hostFallbackHistory?: number;
  /**
   * The token is known to hold token keys (a server reopening a token it used before, see
   * {@link Hsm.tokenHoldsKeys}). A key search that comes back empty while the token shows no
   * token object at all is then an `unavailable` {@link HsmError}, not "no such key". Without it,
   * this holds once a search of this Hsm has found a token key.
   */
  tokenHoldsKeys?: boolean;
  /**
   * How the token does AES-GCM: "auto" (default) finds out at open; "softhsm", "nshield", "luna",
   * "cloudhsm" or an explicit { ivSource, badTagCkr } is checked against the token at open, and
   * open fails naming what differed. See the README, "AES-GCM profiles".
   */
  gcmProfile?: GcmProfileOption;
  /** Directory for the cross-process key-creation locks. Default: <dataDir>/locks for the embedded token, else $TMPDIR/ciop-locks-<uid>. */
  lockDir?: string;
  /**
   * Testing only: treat the token as a hardware token even if it is a software one, so the
   * host-fallback refusal can be exercised against SoftHSM.
   */
  assumeHardwareToken?: boolean;
}

/** Options for {@link Hsm.generateKey}. */
export interface GenerateKeyOptions {
  /** CKA_EXTRACTABLE (default true: BYOK export needs to wrap the key). false for keys that must never leave (XKS). */
  extractable?: boolean;
}

/** One use of a host-side fallback: key material (the target or an ephemeral key) was in host memory. */
export interface HostFallbackEvent {
  /** The Hsm method that fell back, e.g. "wrapRsaAes" or "exportKeyToHost". */
  operation: string;
  /** Key name. */
  key: string;
  /** Why the operation could not stay inside the HSM. */
  reason: string;
  /** What was in host memory. */
  /**
   * What was in host memory: the key itself, an ephemeral key, nothing secret of the token (a
   * public-key operation), or an RSA-OAEP encoded message (raw RSA in the token, decoding on the host).
   */
  material: "target-key" | "ephemeral-key" | "public-key" | "encoded-message";
  /** Token label and serial. */
  token: string;
  /** ISO 8601 time. */
  at: string;
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

/**
 * A key's usage attributes, read one by one from the token (see {@link Hsm.keyUsage}). For a key
 * pair, `decrypt`, `sign` and `unwrap` come from the private key and `encrypt`, `verify` and `wrap`
 * from its public half (false when the public half is missing).
 */
export interface KeyUsage {
  /** CKA_ENCRYPT. */
  encrypt: boolean;
  /** CKA_DECRYPT. */
  decrypt: boolean;
  /** CKA_SIGN. */
  sign: boolean;
  /** CKA_VERIFY. */
  verify: boolean;
  /** CKA_WRAP. */
  wrap: boolean;
  /** CKA_UNWRAP. */
  unwrap: boolean;
}

/** How a wrap was done. `hostFallback` = key material (target or ephemeral) was in host memory. */
export interface WrapOutcome {
  bytes: Uint8Array;
  hostFallback: boolean;
  /** Mechanisms used, in order, e.g. ["CKM_AES_KEY_WRAP_PAD", "CKM_RSA_PKCS_OAEP(SHA-1)"]. */
  mechanisms: string[];
}

/**
 * What CKM_AES_KEY_WRAP_PAD (0x210A) does on a token, told by behaviour: RFC 5649 (SoftHSM 2.6,
 * nShield), PKCS#7 padding then RFC 3394 (the PKCS#11 spec's meaning; NSS softokn), something else,
 * or refused. @public
 */
export type KeyWrapPadSemantics = "rfc5649" | "pkcs7-rfc3394" | "other" | "unavailable";

export interface Capabilities {
  rsaPkcs1: boolean;
  /** OAEP hashes the token accepts for C_WrapKey (probed; SoftHSM: ["sha1"]). */
  rsaOaepHashes: HashName[];
  /** CKM_RSA_AES_KEY_WRAP (0x1054) and the OAEP hashes it accepts. */
  rsaAesKeyWrapHashes: HashName[];
  /**
   * The mechanism number that gives RFC 5649 on this token, found by probing (0x210B, the v3.0
   * CKM_AES_KEY_WRAP_KWP, is tried first; 0x210A on SoftHSM/nShield), or null. Every RFC 5649 wrap
   * of ciop uses this number.
   */
  aesKeyWrapPadMechanism: number | null;
  /**
   * What 0x210A (CKM_AES_KEY_WRAP_PAD) does, told by comparing its output with host-computed
   * RFC 5649 and PKCS#7 + RFC 3394: "rfc5649" on SoftHSM 2.6, "pkcs7-rfc3394" on NSS softokn.
   */
  aesKeyWrapPadSemantics: KeyWrapPadSemantics;
  /** True when the token zero-pads PKCS#8 before KWP (SoftHSM 2.6.1 bug). */
  kwpPadsPrivateKeys: boolean;
  /**
   * True when the token zero-pads secret keys whose length is not a multiple of 8 before KWP
   * (SoftHSM 2.6.1: HMAC-160 and HMAC-224 keys come out with 4 trailing zero bytes).
   */
  kwpPadsSecretKeys: boolean;
  /** AES-GCM encryption and decryption work (a GCM profile was found or confirmed: {@link Capabilities.gcm}). */
  aesGcm: boolean;
  /**
   * How the token does AES-GCM (IV source, bad-tag CKRs), probed or confirmed at open; null when no
   * way works, with the reason in `gcmRefusal`.
   */
  gcm: GcmProfile | null;
  gcmRefusal?: string;
  aesGcmKeyWrap: boolean;
  aesEcbPadKeyWrap: boolean;
  digestKey: HashName[];
  asyncCalls: boolean;
  /**
   * CKM_RSA_AES_KEY_WRAP is in the token's mechanism list. pkcs11js 2.1.7 cannot pass its
   * CK_RSA_AES_KEY_WRAP_PARAMS, so ciop composes it from OAEP + KWP even then.
   */
  rsaAesKeyWrapListed: boolean;
  /** HMAC via C_Sign (CKM_SHA*_HMAC) on generic secrets. */
  hmacHashes: HashName[];
  /** Every mechanism number the token lists (C_GetMechanismList). */
  mechanisms: number[];
}
