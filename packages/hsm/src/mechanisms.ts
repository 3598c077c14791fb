import { createCipheriv, createDecipheriv } from "node:crypto";
import pkcs11js from "pkcs11js";
import type { HashName } from "./types.js";

const P = pkcs11js;

/** RFC 5649 as SoftHSM and nShield number it (PKCS#11 v2.40 draft name). @public */
export const CKM_AES_KEY_WRAP_PAD = 0x210a;
/** RFC 5649 as PKCS#11 v3.0 numbers it; pkcs11js has no constant. @public */
export const CKM_AES_KEY_WRAP_KWP = 0x210b;
/** PKCS#11 CKM_RSA_AES_KEY_WRAP; pkcs11js has no constant (nor its parameter struct). @public */
export const CKM_RSA_AES_KEY_WRAP = 0x1054;
/** CKZ_DATA_SPECIFIED (missing from pkcs11js). */
export const CKZ_DATA_SPECIFIED = 1;

export interface HashFacts {
  mech: number;
  mgf: number;
  hmac: number;
  label: string;
  mechName: string;
  mgfName: string;
  size: number;
}

export const HASHES: Readonly<Record<HashName, HashFacts>> = {
  sha1: { mech: P.CKM_SHA_1, mgf: P.CKG_MGF1_SHA1, hmac: P.CKM_SHA_1_HMAC, label: "SHA-1", mechName: "CKM_SHA_1", mgfName: "CKG_MGF1_SHA1", size: 20 },
  sha256: {
    mech: P.CKM_SHA256,
    mgf: P.CKG_MGF1_SHA256,
    hmac: P.CKM_SHA256_HMAC,
    label: "SHA-256",
    mechName: "CKM_SHA256",
    mgfName: "CKG_MGF1_SHA256",
    size: 32,
  },
  sha384: {
    mech: P.CKM_SHA384,
    mgf: P.CKG_MGF1_SHA384,
    hmac: P.CKM_SHA384_HMAC,
    label: "SHA-384",
    mechName: "CKM_SHA384",
    mgfName: "CKG_MGF1_SHA384",
    size: 48,
  },
  sha512: {
    mech: P.CKM_SHA512,
    mgf: P.CKG_MGF1_SHA512,
    hmac: P.CKM_SHA512_HMAC,
    label: "SHA-512",
    mechName: "CKM_SHA512",
    mgfName: "CKG_MGF1_SHA512",
    size: 64,
  },
};

export const HASH_NAMES: readonly HashName[] = ["sha1", "sha256", "sha384", "sha512"];

export function isHashName(v: unknown): v is HashName {
  return typeof v === "string" && (HASH_NAMES as readonly string[]).includes(v);
}

/** The pkcs11js mechanism for RSA-OAEP with the same hash for OAEP and MGF1 and an empty label. */
export function oaepMechanism(hash: HashName): pkcs11js.Mechanism {
  const h = HASHES[hash];
  // Every field set: pkcs11js may free a garbage pointer when parameter parsing throws.
  return {
    mechanism: P.CKM_RSA_PKCS_OAEP,
    parameter: { type: P.CK_PARAMS_RSA_OAEP, hashAlg: h.mech, mgf: h.mgf, source: CKZ_DATA_SPECIFIED } as pkcs11js.RsaOAEP,
  };
}

export function oaepName(hash: HashName): string {
  return `CKM_RSA_PKCS_OAEP(${HASHES[hash].label})`;
}

export function kwpName(mech: number): string {
  return mech === CKM_AES_KEY_WRAP_KWP ? "CKM_AES_KEY_WRAP_KWP" : mech === CKM_AES_KEY_WRAP_PAD ? "CKM_AES_KEY_WRAP_PAD" : `0x${mech.toString(16)}`;
}

export function gcmParameter(iv: Uint8Array, aad: Uint8Array | undefined): pkcs11js.GcmParams {
  // views, not copies: pkcs11js points pIv/pAAD into these Buffers (no copy), so a token that
  // writes its IV into pIv (GCM profile "token-fills-zero") writes into `iv`
  const p: pkcs11js.GcmParams = { type: P.CK_PARAMS_GCM, iv: view(iv), ivBits: iv.length * 8, tagBits: 128 } as pkcs11js.GcmParams;
  if (aad && aad.length > 0) (p as { aad?: Buffer }).aad = view(aad);
  return p;
}

function view(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

const KWP_IV = Buffer.from("a65959a6", "hex");

/** RFC 5649 wrap on the host (node:crypto). */
export function hostKwpWrap(kek: Uint8Array, data: Uint8Array): Buffer {
  const c = createCipher(kek);
  return Buffer.concat([c.update(data), c.final()]);
}

/** RFC 5649 unwrap on the host (node:crypto). Throws on an integrity failure. */
export function hostKwpUnwrap(kek: Uint8Array, data: Uint8Array): Buffer {
  const d = createDecipher(kek);
  return Buffer.concat([d.update(data), d.final()]);
}

/** PKCS#7 padding to a multiple of 8, then RFC 3394 with the default IV, on the host (node:crypto). */
export function hostPkcs7KwWrap(kek: Uint8Array, data: Uint8Array): Buffer {
  const n = 8 - (data.length % 8);
  const padded = Buffer.concat([data, Buffer.alloc(n, n)]);
  try {
    const c = createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from("a6a6a6a6a6a6a6a6", "hex"));
    return Buffer.concat([c.update(padded), c.final()]);
  } finally {
    padded.fill(0);
  }
}

function cipherName(kek: Uint8Array): string {
  return `id-aes${kek.length * 8}-wrap-pad`;
}
function createCipher(kek: Uint8Array) {
  return createCipheriv(cipherName(kek), kek, KWP_IV);
}
function createDecipher(kek: Uint8Array) {
  return createDecipheriv(cipherName(kek), kek, KWP_IV);
}
