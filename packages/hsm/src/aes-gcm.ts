/**
 * AES-GCM in the token (128-bit tag; output ciphertext ‖ tag): sync on the operation session, async
 * on a pooled session with pkcs11js's *Async calls. This is the XKS proxy's hot path (thousands of
 * calls a second), so it is written out by hand: direct pkcs11js calls, no closures per call, error
 * context strings built only when something fails. A stale key handle is re-found once by CKA_ID.
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { DISABLED, ensureOpen, requireAes, type Handle, type HsmContext } from "./context.js";
import { HsmError, isCkr, toHsmError } from "./errors.js";
import type { HsmKey } from "./hsm-key.js";
import { isStaleHandle, refind, refusedAfterRefind } from "./keys/handles.js";
import { gcmParameter } from "./mechanisms.js";
import { acquireSession, dropSession, releaseSession, resetOpSession, track } from "./sessions.js";

const CKM_AES_GCM = pkcs11js.CKM_AES_GCM;
/** GCM decrypt failures that mean "this ciphertext/tag/AAD/IV is not authentic" (SoftHSM says CKR_GENERAL_ERROR). */
const GCM_AUTH_FAILURES = ["CKR_GENERAL_ERROR", "CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_DATA_INVALID", "CKR_DATA_LEN_RANGE"];

/** Why an AES-GCM encryption request is refused before it reaches the token, if it is. */
function encryptRefusal(iv: Uint8Array, plaintext: Uint8Array): CiopError | undefined {
  if (plaintext.length === 0) return new CiopError("ERR_USAGE", "AES-GCM plaintext must not be empty (PKCS#11 tokens reject it)");
  if (iv.length === 0) return new CiopError("ERR_USAGE", "AES-GCM needs a non-empty IV");
  return undefined;
}

/** A decryption request that cannot be genuine (no IV, nothing beyond the 16-byte tag) fails like a bad tag. */
function decryptRefusal(iv: Uint8Array, ctAndTag: Uint8Array): HsmError | undefined {
  return ctAndTag.length <= 16 || iv.length === 0 ? decryptionFailed() : undefined;
}

function decryptionFailed(): HsmError {
  return new HsmError("ERR_DECRYPTION_FAILED", "decryption failed");
}

/** A Buffer view of `u` (no copy). */
function view(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function mechanism(iv: Uint8Array, aad: Uint8Array | undefined): pkcs11js.Mechanism {
  return { mechanism: CKM_AES_GCM, parameter: gcmParameter(iv, aad) };
}

// ---------------------------------------------------------------- sync, on the operation session

export function encryptAesGcm(ctx: HsmContext, key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Buffer {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = encryptRefusal(iv, plaintext);
  if (refusal) throw refusal;
  const mech = mechanism(iv, aad);
  const pt = view(plaintext);
  try {
    return sealOnOpSession(ctx, key, key.handle, mech, pt);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    try {
      return sealOnOpSession(ctx, key, key.handle, mech, pt);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

function sealOnOpSession(ctx: HsmContext, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, pt: Buffer): Buffer {
  const p = ctx.p;
  try {
    p.C_EncryptInit(ctx.opSession, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_EncryptInit", `using key '${key.name}'`, DISABLED);
  }
  try {
    return p.C_Encrypt(ctx.opSession, pt, Buffer.alloc(pt.length + 16));
  } catch (err) {
    resetOpSession(ctx);
    throw toHsmError(err, "C_Encrypt", `encrypting with '${key.name}'`, DISABLED);
  }
}

export function decryptAesGcm(ctx: HsmContext, key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array | undefined): Buffer {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = decryptRefusal(iv, ctAndTag);
  if (refusal) throw refusal;
  const mech = mechanism(iv, aad);
  const ct = view(ctAndTag);
  try {
    return openOnOpSession(ctx, key, key.handle, mech, ct);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    try {
      return openOnOpSession(ctx, key, key.handle, mech, ct);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

function openOnOpSession(ctx: HsmContext, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, ct: Buffer): Buffer {
  const p = ctx.p;
  try {
    p.C_DecryptInit(ctx.opSession, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_DecryptInit", `using key '${key.name}'`, DISABLED);
  }
  try {
    return p.C_Decrypt(ctx.opSession, ct, Buffer.alloc(ct.length));
  } catch (err) {
    resetOpSession(ctx);
    if (isCkr(err, ...GCM_AUTH_FAILURES)) throw decryptionFailed();
    throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
  }
}

// ---------------------------------------------------------------- async, on a pooled session

export function encryptAesGcmAsync(ctx: HsmContext, key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Promise<Buffer> {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = encryptRefusal(iv, plaintext);
  if (refusal) return Promise.reject(refusal);
  return track(ctx, pooled(ctx, key, mechanism(iv, aad), view(plaintext), true));
}

export function decryptAesGcmAsync(ctx: HsmContext, key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array | undefined): Promise<Buffer> {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = decryptRefusal(iv, ctAndTag);
  if (refusal) return Promise.reject(refusal);
  return track(ctx, pooled(ctx, key, mechanism(iv, aad), view(ctAndTag), false));
}

/** One pooled operation, retried once with a re-found handle when the first one was stale. */
async function pooled(ctx: HsmContext, key: HsmKey, mech: pkcs11js.Mechanism, data: Buffer, encrypt: boolean): Promise<Buffer> {
  try {
    return await runPooled(ctx, key, key.handle, mech, data, encrypt);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    try {
      return await runPooled(ctx, key, key.handle, mech, data, encrypt);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** Init + (async) Encrypt/Decrypt on a pooled session; a failure drops the session (SoftHSM can leave the operation active). */
async function runPooled(ctx: HsmContext, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, data: Buffer, encrypt: boolean): Promise<Buffer> {
  const s = await acquireSession(ctx);
  let ok = false;
  try {
    const out = encrypt ? await sealPooled(ctx, s, key, h, mech, data) : await openPooled(ctx, s, key, h, mech, data);
    ok = true;
    return out;
  } finally {
    if (ok) releaseSession(ctx, s);
    else dropSession(ctx, s);
  }
}

async function sealPooled(ctx: HsmContext, s: Handle, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, pt: Buffer): Promise<Buffer> {
  const p = ctx.p;
  try {
    p.C_EncryptInit(s, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_EncryptInit", `using key '${key.name}'`, DISABLED);
  }
  const out = Buffer.alloc(pt.length + 16);
  try {
    return ctx.caps.asyncCalls ? await p.C_EncryptAsync(s, pt, out) : p.C_Encrypt(s, pt, out);
  } catch (err) {
    throw toHsmError(err, "C_Encrypt", `encrypting with '${key.name}'`, DISABLED);
  }
}

async function openPooled(ctx: HsmContext, s: Handle, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, ct: Buffer): Promise<Buffer> {
  const p = ctx.p;
  try {
    p.C_DecryptInit(s, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_DecryptInit", `using key '${key.name}'`, DISABLED);
  }
  const out = Buffer.alloc(ct.length);
  try {
    // a view of `out` (no second copy of the plaintext left behind)
    return ctx.caps.asyncCalls ? await p.C_DecryptAsync(s, ct, out) : p.C_Decrypt(s, ct, out);
  } catch (err) {
    if (isCkr(err, ...GCM_AUTH_FAILURES)) throw decryptionFailed();
    throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
  }
}
