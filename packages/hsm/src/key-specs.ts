import type { KeyType } from "./types.js";

/** What ciop needs to know to create and recognise each {@link KeyType}. */
export interface KeySpec {
  type: KeyType;
  /** "secret": raw bytes when wrapped; "private": PKCS#8 DER when wrapped. */
  kind: "secret" | "private";
  family: "aes" | "hmac" | "rsa" | "ec";
  /** Secret keys: CKA_VALUE_LEN in bytes. */
  bytes?: number;
  /** RSA: modulus bits. */
  bits?: number;
  /** EC: curve facts. */
  curve?: EcCurve;
}

export interface EcCurve {
  name: "P-256" | "P-384" | "P-521" | "secp256k1";
  /** DER of the named-curve OID, as CKA_EC_PARAMS holds it. */
  params: string;
  /** Bytes per coordinate. */
  size: number;
}

export const EC_CURVES: readonly EcCurve[] = [
  { name: "P-256", params: "06082a8648ce3d030107", size: 32 },
  { name: "P-384", params: "06052b81040022", size: 48 },
  { name: "P-521", params: "06052b81040023", size: 66 },
  { name: "secp256k1", params: "06052b8104000a", size: 32 },
];

const curve = (name: EcCurve["name"]): EcCurve => EC_CURVES.find((c) => c.name === name)!;

export const KEY_SPECS: Readonly<Record<KeyType, KeySpec>> = {
  "AES-128": { type: "AES-128", kind: "secret", family: "aes", bytes: 16 },
  "AES-192": { type: "AES-192", kind: "secret", family: "aes", bytes: 24 },
  "AES-256": { type: "AES-256", kind: "secret", family: "aes", bytes: 32 },
  "HMAC-160": { type: "HMAC-160", kind: "secret", family: "hmac", bytes: 20 },
  "HMAC-224": { type: "HMAC-224", kind: "secret", family: "hmac", bytes: 28 },
  "HMAC-256": { type: "HMAC-256", kind: "secret", family: "hmac", bytes: 32 },
  "HMAC-384": { type: "HMAC-384", kind: "secret", family: "hmac", bytes: 48 },
  "HMAC-512": { type: "HMAC-512", kind: "secret", family: "hmac", bytes: 64 },
  "RSA-2048": { type: "RSA-2048", kind: "private", family: "rsa", bits: 2048 },
  "RSA-3072": { type: "RSA-3072", kind: "private", family: "rsa", bits: 3072 },
  "RSA-4096": { type: "RSA-4096", kind: "private", family: "rsa", bits: 4096 },
  "EC-NISTP256": { type: "EC-NISTP256", kind: "private", family: "ec", curve: curve("P-256") },
  "EC-NISTP384": { type: "EC-NISTP384", kind: "private", family: "ec", curve: curve("P-384") },
  "EC-NISTP521": { type: "EC-NISTP521", kind: "private", family: "ec", curve: curve("P-521") },
  "EC-SECP256K1": { type: "EC-SECP256K1", kind: "private", family: "ec", curve: curve("secp256k1") },
};

/** All key types, in a stable order. @public */
export const KEY_TYPES: readonly KeyType[] = Object.keys(KEY_SPECS) as KeyType[];

export function keySpec(type: string): KeySpec | undefined {
  return Object.hasOwn(KEY_SPECS, type) ? KEY_SPECS[type as KeyType] : undefined;
}

/** Finds the key type for a secret of `family` and `bytes`, an RSA modulus size or a curve. */
export function keyTypeFrom(family: KeySpec["family"], size: number | string): KeyType | undefined {
  for (const s of Object.values(KEY_SPECS)) {
    if (s.family !== family) continue;
    if ((family === "aes" || family === "hmac") && s.bytes === size) return s.type;
    if (family === "rsa" && s.bits === size) return s.type;
    if (family === "ec" && s.curve?.params === size) return s.type;
  }
  return undefined;
}
