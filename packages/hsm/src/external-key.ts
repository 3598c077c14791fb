/**
 * Operations of an "external key" (a key that wraps and unwraps key material a cloud sends, e.g.
 * Azure Managed HSM's external key manager): the token key does the work, the bytes in and out are
 * the caller's.
 *
 * - AES key wrap (RFC 3394) and key wrap with padding (RFC 5649): the caller's bytes are imported
 *   as a session generic-secret object and wrapped with C_WrapKey under the token key; an unwrap is
 *   C_UnwrapKey into a session object whose value is read and the object destroyed.
 * - RSA-OAEP: C_Encrypt under the key pair's public half, C_Decrypt with the private half. When the
 *   token refuses the OAEP hash (SoftHSM 2.6: SHA-1 only), encryption runs on the host with the
 *   public key (nothing secret of the token is involved) and decryption runs as raw RSA
 *   (CKM_RSA_X_509) in the token with the OAEP decoding on the host: the private key stays in the
 *   token, the encoded message (which holds the plaintext and the OAEP seed) is in host memory. Both
 *   are host-side steps under the host-fallback policy (software token, or allowHostFallback), and
 *   recorded as such.
 */
import { createHash, createPublicKey, constants as cryptoConstants, publicEncrypt, timingSafeEqual } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError, zeroize } from "@ciop/core";
import { ensureOpen, requireAes, requireHash, type Handle, type HsmContext } from "./context.js";
import { DISABLED } from "./context.js";
import { call, isCkr, toHsmError } from "./errors.js";
import type { HsmKey } from "./hsm-key.js";
import { KEY_SPECS } from "./key-specs.js";
import { recordHostFallback } from "./host-fallback.js";
import { publicHandle, setAttrs, withHandle } from "./keys/handles.js";
import { publicKeyOf } from "./keys/public-keys.js";
import { destroyHandle } from "./keys/session-keys.js";
import { HASHES, kwpName, oaepMechanism, oaepName } from "./mechanisms.js";
import type { HashName } from "./types.js";

const P = pkcs11js;
const OUT = 16384;

/** Result of an external-key operation: the bytes, and whether a host-side step was used. */
export interface ExternalKeyOutcome {
  bytes: Buffer;
  hostFallback: boolean;
  /** Mechanisms used, e.g. ["CKM_AES_KEY_WRAP"] or ["CKM_RSA_X_509", "host:OAEP-decode(SHA-256)"]. */
  mechanisms: string[];
}

function kwMechanism(ctx: HsmContext, padded: boolean): { mechanism: number; name: string } {
  if (!padded) return { mechanism: P.CKM_AES_KEY_WRAP, name: "CKM_AES_KEY_WRAP" };
  const kwp = ctx.caps.aesKeyWrapPadMechanism;
  if (kwp === null) {
    throw new CiopError("ERR_MECHANISM_UNSUPPORTED", `token '${ctx.token.label}' has no RFC 5649 key wrap (probed 0x210B and 0x210A)`);
  }
  return { mechanism: kwp, name: kwpName(kwp) };
}

/** Sets CKA_WRAP and CKA_UNWRAP of an AES token key (created without them). */
export function setAesKeyWrapping(ctx: HsmContext, key: HsmKey, on: boolean): void {
  ensureOpen(ctx);
  requireAes(key);
  withHandle(ctx, key, (h) =>
    setAttrs(
      ctx,
      h,
      [
        { type: P.CKA_WRAP, value: on },
        { type: P.CKA_UNWRAP, value: on },
      ],
      `${on ? "allowing" : "refusing"} key wrapping with '${key.name}'`,
    ),
  );
}

/** RFC 3394 (padded=false) or RFC 5649 (padded=true) wrap of `bytes` under the AES token key. */
export function aesWrapBytes(ctx: HsmContext, key: HsmKey, bytes: Uint8Array, padded: boolean): ExternalKeyOutcome {
  ensureOpen(ctx);
  requireAes(key);
  const m = kwMechanism(ctx, padded);
  if (!padded && (bytes.length < 16 || bytes.length % 8 !== 0)) {
    throw new CiopError("ERR_USAGE", `RFC 3394 key wrap needs a multiple of 8 bytes, at least 16 (got ${bytes.length})`);
  }
  if (padded && bytes.length === 0) throw new CiopError("ERR_USAGE", "nothing to wrap");
  if (padded && ctx.caps.kwpPadsSecretKeys && bytes.length % 8 !== 0) {
    throw new CiopError(
      "ERR_MECHANISM_UNSUPPORTED",
      `token '${ctx.token.label}' zero-pads a value whose length is not a multiple of 8 before ${m.name}, so its RFC 5649 output would not be exact for ${bytes.length} bytes`,
    );
  }
  const value = Buffer.from(bytes);
  let obj: Handle | undefined;
  try {
    obj = call(
      "C_CreateObject",
      () =>
        ctx.p.C_CreateObject(ctx.objSession, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: true },
          { type: P.CKA_VALUE, value },
        ]),
      "importing the value to wrap as a session object",
    );
    const target = obj;
    const out = withHandle(ctx, key, (h) =>
      call(
        "C_WrapKey",
        () => ctx.p.C_WrapKey(ctx.objSession, { mechanism: m.mechanism }, h, target, Buffer.alloc(OUT)),
        `wrapping with '${key.name}' (${m.name})`,
        DISABLED,
      ),
    );
    return { bytes: Buffer.from(out), hostFallback: false, mechanisms: [m.name] };
  } finally {
    zeroize(value);
    if (obj !== undefined) destroyHandle(ctx, obj);
  }
}

/** The inverse of {@link aesWrapBytes}: C_UnwrapKey into a session object, whose value is returned. */
export function aesUnwrapBytes(ctx: HsmContext, key: HsmKey, wrapped: Uint8Array, padded: boolean): ExternalKeyOutcome {
  ensureOpen(ctx);
  requireAes(key);
  const m = kwMechanism(ctx, padded);
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) throw new CiopError("ERR_DECRYPTION_FAILED", "a wrapped key is a multiple of 8 bytes, at least 16");
  let obj: Handle | undefined;
  try {
    try {
      obj = withHandle(ctx, key, (h) =>
        ctx.p.C_UnwrapKey(ctx.objSession, { mechanism: m.mechanism }, h, Buffer.from(wrapped), [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_SENSITIVE, value: false },
          { type: P.CKA_EXTRACTABLE, value: true },
        ]),
      );
    } catch (err) {
      if (isCkr(err, "CKR_WRAPPED_KEY_INVALID", "CKR_WRAPPED_KEY_LEN_RANGE", "CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_GENERAL_ERROR"))
        throw new CiopError("ERR_DECRYPTION_FAILED", `the wrapped key does not unwrap under '${key.name}' (${m.name})`);
      throw toHsmError(err, "C_UnwrapKey", `unwrapping with '${key.name}' (${m.name})`, DISABLED);
    }
    const handle = obj;
    const got = call("C_GetAttributeValue", () => ctx.p.C_GetAttributeValue(ctx.objSession, handle, [{ type: P.CKA_VALUE }]), "reading the unwrapped value");
    const v = got[0]?.value;
    if (!v || v.length === 0) throw new CiopError("ERR_HSM", "the token gave no value for the unwrapped key");
    const out = Buffer.from(v);
    zeroize(v);
    return { bytes: out, hostFallback: false, mechanisms: [m.name] };
  } finally {
    if (obj !== undefined) destroyHandle(ctx, obj);
  }
}

function rsaBytes(key: HsmKey): number {
  const spec = KEY_SPECS[key.type];
  if (spec.family !== "rsa" || key.kind !== "private") throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is ${key.type}, not an RSA key pair`);
  return spec.bits! / 8;
}

/** RSA-OAEP encryption (same hash for OAEP and MGF1, empty label) under the key pair's public half. */
export function rsaOaepEncrypt(ctx: HsmContext, key: HsmKey, hash: HashName, data: Uint8Array): ExternalKeyOutcome {
  ensureOpen(ctx);
  requireHash(hash);
  const k = rsaBytes(key);
  if (data.length === 0 || data.length > k - 2 * HASHES[hash].size - 2) {
    throw new CiopError(
      "ERR_USAGE",
      `RSA-OAEP with ${HASHES[hash].label} takes 1 to ${k - 2 * HASHES[hash].size - 2} bytes under a ${k * 8}-bit key (got ${data.length})`,
    );
  }
  if (ctx.caps.rsaOaepHashes.includes(hash)) {
    const pub = publicHandle(ctx, key);
    if (pub === undefined) throw new CiopError("ERR_KEY_NOT_FOUND", `the public half of '${key.name}' is not on the token`);
    const out = call(
      "C_Encrypt",
      () => {
        ctx.p.C_EncryptInit(ctx.objSession, oaepMechanism(hash), pub);
        return ctx.p.C_Encrypt(ctx.objSession, Buffer.from(data), Buffer.alloc(k));
      },
      `encrypting with the public half of '${key.name}' (${oaepName(hash)})`,
      DISABLED,
    );
    return { bytes: Buffer.from(out), hostFallback: false, mechanisms: [oaepName(hash)] };
  }
  recordHostFallback(
    ctx,
    "rsaOaepEncrypt",
    key,
    `the token refuses CKM_RSA_PKCS_OAEP with ${HASHES[hash].label}: the public-key operation runs on the host with the public key`,
    "public-key",
    ["use an OAEP hash the token accepts", "use a token whose PKCS#11 library implements OAEP with this hash"],
  );
  const spki = publicKeyOf(ctx, key);
  const pk = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  const out = publicEncrypt({ key: pk, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  return { bytes: out, hostFallback: true, mechanisms: [`host:RSA-OAEP(${HASHES[hash].label})`] };
}

/** RSA-OAEP decryption with the private half in the token (see the file comment for the fallback). */
export function rsaOaepDecrypt(ctx: HsmContext, key: HsmKey, hash: HashName, data: Uint8Array): ExternalKeyOutcome {
  ensureOpen(ctx);
  requireHash(hash);
  const k = rsaBytes(key);
  if (data.length !== k) throw new CiopError("ERR_DECRYPTION_FAILED", `an RSA-OAEP ciphertext under a ${k * 8}-bit key is ${k} bytes (got ${data.length})`);
  if (ctx.caps.rsaOaepHashes.includes(hash)) {
    let out: Buffer;
    try {
      out = withHandle(ctx, key, (h) => {
        ctx.p.C_DecryptInit(ctx.objSession, oaepMechanism(hash), h);
        return ctx.p.C_Decrypt(ctx.objSession, Buffer.from(data), Buffer.alloc(k));
      });
    } catch (err) {
      if (isCkr(err, "CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_GENERAL_ERROR", "CKR_DATA_INVALID"))
        throw new CiopError("ERR_DECRYPTION_FAILED", `the ciphertext does not decrypt under '${key.name}' (${oaepName(hash)})`);
      throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}' (${oaepName(hash)})`, DISABLED);
    }
    const copy = Buffer.from(out);
    zeroize(out);
    return { bytes: copy, hostFallback: false, mechanisms: [oaepName(hash)] };
  }
  recordHostFallback(
    ctx,
    "rsaOaepDecrypt",
    key,
    `the token refuses CKM_RSA_PKCS_OAEP with ${HASHES[hash].label}: raw RSA (CKM_RSA_X_509) in the token, OAEP decoding on the host`,
    "encoded-message",
    ["use an OAEP hash the token accepts", "use a token whose PKCS#11 library implements OAEP with this hash"],
  );
  let em: Buffer | undefined;
  try {
    const raw = call(
      "C_Decrypt",
      () =>
        withHandle(ctx, key, (h) => {
          ctx.p.C_DecryptInit(ctx.objSession, { mechanism: P.CKM_RSA_X_509 }, h);
          return ctx.p.C_Decrypt(ctx.objSession, Buffer.from(data), Buffer.alloc(k));
        }),
      `raw RSA with '${key.name}'`,
      DISABLED,
    );
    em = Buffer.alloc(k);
    raw.copy(em, k - raw.length);
    zeroize(raw);
    const m = oaepDecode(em, hash);
    if (m === undefined) throw new CiopError("ERR_DECRYPTION_FAILED", `the ciphertext does not decrypt under '${key.name}' (RSA-OAEP ${HASHES[hash].label})`);
    return { bytes: m, hostFallback: true, mechanisms: ["CKM_RSA_X_509", `host:OAEP-decode(${HASHES[hash].label})`] };
  } finally {
    zeroize(em);
  }
}

function mgf1(seed: Buffer, len: number, hash: HashName): Buffer {
  const out = Buffer.alloc(len);
  const c = Buffer.alloc(4);
  for (let i = 0, off = 0; off < len; i++) {
    c.writeUInt32BE(i);
    const d = createHash(hash).update(seed).update(c).digest();
    d.copy(out, off, 0, Math.min(d.length, len - off));
    off += d.length;
  }
  return out;
}

/**
 * EME-OAEP decoding (RFC 8017 7.1.2, empty label). Every check is made and folded into one flag
 * before the answer, and every failure is the same undefined, so the caller cannot tell them apart.
 */
export function oaepDecode(em: Buffer, hash: HashName): Buffer | undefined {
  const hLen = HASHES[hash].size;
  const k = em.length;
  if (k < 2 * hLen + 2) return undefined;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seedMask = mgf1(maskedDb, hLen, hash);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1(seed, k - hLen - 1, hash);
  const db = Buffer.alloc(k - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;
  const lHash = createHash(hash).digest();
  let good = timingSafeEqual(db.subarray(0, hLen), lHash) ? 1 : 0;
  good &= em[0] === 0 ? 1 : 0;
  // find the 0x01 after the zero padding without leaving the loop early
  let index = 0;
  let looking = 1;
  let bad = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const isOne = b === 1 ? 1 : 0;
    const isZero = b === 0 ? 1 : 0;
    index = looking & isOne ? i : index;
    bad |= looking & (isOne | isZero ? 0 : 1);
    looking &= isOne ? 0 : 1;
  }
  good &= (bad | looking) === 0 ? 1 : 0;
  const out = good === 1 ? Buffer.from(db.subarray(index + 1)) : undefined;
  zeroize(seed, db, seedMask, dbMask);
  return out;
}
