/**
 * AES-GCM in the token (128-bit tag; output ciphertext ‖ tag): sync on the operation session, async
 * on a pooled session, Init and Encrypt/Decrypt together in a worker thread (offload/; with
 * `gcmWorkers: 0`, the Init here and pkcs11js's *Async call on the threadpool). This is the XKS proxy's hot path (thousands of
 * calls a second), so it is written out by hand: direct pkcs11js calls, no closures per call, error
 * context strings built only when something fails. A stale key handle is re-found once by CKA_ID.
 *
 * Who chooses the IV follows the token's GCM profile (gcm-profile.ts, `ctx.caps.gcm`): with
 * "caller" the caller's IV (or 12 random bytes drawn here) is passed as a view, no copy; with
 * "token-fills-zero" a 12-byte zero buffer is passed and the token writes its IV into it; with
 * "token-appends" an empty IV is passed and the IV is cut off the end of the output. Decryption
 * takes the caller's IV; which CKRs mean "not authentic" is the profile's too.
 */
import { randomFillSync } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { DISABLED, ensureOpen, requireAes, type Handle, type HsmContext } from "./context.js";
import { HsmError, isCkr, toHsmError } from "./errors.js";
import type { GcmIvSource } from "./gcm-profile.js";
import type { HsmKey } from "./hsm-key.js";
import { isStaleHandle, refind, refusedAfterRefind } from "./keys/handles.js";
import { gcmParameter } from "./mechanisms.js";
import { gcmWorkers, type OffloadedCallError } from "./offload/index.js";
import { acquireSession, dropSession, releaseSession, resetOpSession, track } from "./sessions.js";

const CKM_AES_GCM = pkcs11js.CKM_AES_GCM;
/** Without a profile (no GCM found at open): the spec's answers only, so nothing else passes for a bad tag. */
const SPEC_BAD_INPUT: readonly string[] = ["CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_DATA_INVALID", "CKR_DATA_LEN_RANGE"];
const IV_BYTES = 12;
const EMPTY = Buffer.alloc(0);

/** An AES-GCM encryption: ciphertext ‖ tag and the IV it was made under (views, no copies). @public */
export interface GcmSealed {
  ciphertextAndTag: Buffer;
  iv: Buffer;
}

function ivSourceOf(ctx: HsmContext): GcmIvSource {
  return ctx.caps.gcm?.ivSource ?? "caller";
}

/** Why an AES-GCM encryption request is refused before it reaches the token, if it is. */
function encryptRefusal(ctx: HsmContext, iv: Uint8Array | undefined, plaintext: Uint8Array): CiopError | undefined {
  if (plaintext.length === 0) return new CiopError("ERR_USAGE", "AES-GCM plaintext must not be empty (PKCS#11 tokens reject it)");
  if (iv === undefined) return undefined;
  if (ivSourceOf(ctx) !== "caller")
    return new CiopError(
      "ERR_USAGE",
      `this token chooses the AES-GCM IV itself (GCM profile ${ctx.caps.gcm!.name}, IV source ${ctx.caps.gcm!.ivSource}): encrypt without an IV (sealAesGcm) and use the IV it returns`,
    );
  if (iv.length === 0) return new CiopError("ERR_USAGE", "AES-GCM needs a non-empty IV");
  return undefined;
}

const POOL_IVS = 512;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

/** 12 fresh random bytes, drawn 512 IVs at a time (one CSPRNG call per 512 encryptions); each IV is a copy, used once. */
function randomIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafeSlow(IV_BYTES * POOL_IVS));
    ivOffset = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivOffset += IV_BYTES;
  return iv;
}

/** The IV buffer to pass for this token: the caller's (a view), fresh random bytes, a zero buffer to fill, or nothing. */
function ivToPass(source: GcmIvSource, iv: Uint8Array | undefined): Buffer {
  if (source === "token-fills-zero") return Buffer.alloc(IV_BYTES);
  if (source === "token-appends") return EMPTY;
  return iv === undefined ? randomIv() : view(iv);
}

/** The output bytes the token adds to the plaintext: the tag, and the IV when it appends it. */
function overhead(source: GcmIvSource): number {
  return source === "token-appends" ? 16 + IV_BYTES : 16;
}

/** Splits the token's output into ciphertext ‖ tag and the IV (cut off the end when the token appends it). */
function sealed(ctx: HsmContext, source: GcmIvSource, ivPassed: Buffer, out: Buffer, ptLength: number): GcmSealed {
  if (source !== "token-appends") return { ciphertextAndTag: out, iv: ivPassed };
  if (out.length !== ptLength + 16 + IV_BYTES)
    throw new HsmError(
      "ERR_HSM",
      `the token returned ${out.length} bytes for ${ptLength} bytes of plaintext; its GCM profile (${ctx.caps.gcm!.name}) says ciphertext, tag and a 12-byte IV`,
    );
  return { ciphertextAndTag: out.subarray(0, out.length - IV_BYTES), iv: out.subarray(out.length - IV_BYTES) };
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

function badTagCkrs(ctx: HsmContext): readonly string[] {
  return ctx.caps.gcm?.badTagCkrs ?? SPEC_BAD_INPUT;
}

function mechanism(iv: Uint8Array, aad: Uint8Array | undefined): pkcs11js.Mechanism {
  return { mechanism: CKM_AES_GCM, parameter: gcmParameter(iv, aad) };
}

// ---------------------------------------------------------------- sync, on the operation session

/** Encrypts under the IV the token's profile allows: `iv` (caller profile; drawn here when undefined) or the token's own. */
export function sealAesGcm(ctx: HsmContext, key: HsmKey, iv: Uint8Array | undefined, plaintext: Uint8Array, aad: Uint8Array | undefined): GcmSealed {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = encryptRefusal(ctx, iv, plaintext);
  if (refusal) throw refusal;
  const source = ivSourceOf(ctx);
  const ivBuf = ivToPass(source, iv);
  const mech = mechanism(ivBuf, aad);
  const pt = view(plaintext);
  const extra = overhead(source);
  try {
    return sealed(ctx, source, ivBuf, sealOnOpSession(ctx, key, key.handle, mech, pt, extra), pt.length);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    if (source === "token-fills-zero") ivBuf.fill(0); // the failed init may have filled it
    try {
      return sealed(ctx, source, ivBuf, sealOnOpSession(ctx, key, key.handle, mech, pt, extra), pt.length);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** {@link sealAesGcm} with the caller's IV, returning ciphertext ‖ tag (refused on a token that chooses the IV). */
export function encryptAesGcm(ctx: HsmContext, key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Buffer {
  return sealAesGcm(ctx, key, iv ?? EMPTY, plaintext, aad).ciphertextAndTag;
}

function sealOnOpSession(ctx: HsmContext, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, pt: Buffer, extra: number): Buffer {
  const p = ctx.p;
  try {
    p.C_EncryptInit(ctx.opSession, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_EncryptInit", `using key '${key.name}'`, DISABLED);
  }
  try {
    return p.C_Encrypt(ctx.opSession, pt, Buffer.alloc(pt.length + extra));
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
    if (isCkr(err, ...badTagCkrs(ctx))) throw decryptionFailed();
    throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
  }
}

// ---------------------------------------------------------------- async, on a pooled session

export function sealAesGcmAsync(
  ctx: HsmContext,
  key: HsmKey,
  iv: Uint8Array | undefined,
  plaintext: Uint8Array,
  aad: Uint8Array | undefined,
): Promise<GcmSealed> {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = encryptRefusal(ctx, iv, plaintext);
  if (refusal) return Promise.reject(refusal);
  const source = ivSourceOf(ctx);
  const ivBuf = ivToPass(source, iv);
  const pt = view(plaintext);
  return track(
    ctx,
    pooled(ctx, key, mechanism(ivBuf, aad), pt, overhead(source), source === "token-fills-zero" ? ivBuf : undefined).then((out) =>
      sealed(ctx, source, ivBuf, out, pt.length),
    ),
  );
}

export function encryptAesGcmAsync(ctx: HsmContext, key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Promise<Buffer> {
  return sealAesGcmAsync(ctx, key, iv ?? EMPTY, plaintext, aad).then((s) => s.ciphertextAndTag);
}

export function decryptAesGcmAsync(ctx: HsmContext, key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array | undefined): Promise<Buffer> {
  ensureOpen(ctx);
  requireAes(key);
  const refusal = decryptRefusal(iv, ctAndTag);
  if (refusal) return Promise.reject(refusal);
  return track(ctx, pooled(ctx, key, mechanism(iv, aad), view(ctAndTag), 0, undefined));
}

/**
 * One pooled operation (encrypt when `extra` > 0: the output bytes beyond the input), retried once
 * with a re-found handle when the first one was stale; `zeroIv`, if any, is cleared before the retry.
 */
async function pooled(ctx: HsmContext, key: HsmKey, mech: pkcs11js.Mechanism, data: Buffer, extra: number, zeroIv: Buffer | undefined): Promise<Buffer> {
  try {
    return await runPooled(ctx, key, key.handle, mech, data, extra);
  } catch (err) {
    if (!isStaleHandle(key, err)) throw err;
    refind(ctx, key, err);
    zeroIv?.fill(0);
    try {
      return await runPooled(ctx, key, key.handle, mech, data, extra);
    } catch (again) {
      throw refusedAfterRefind(ctx, key, again);
    }
  }
}

/** Init + (async) Encrypt/Decrypt on a pooled session; a failure drops the session (SoftHSM can leave the operation active). */
async function runPooled(ctx: HsmContext, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, data: Buffer, extra: number): Promise<Buffer> {
  const s = await acquireSession(ctx);
  let ok = false;
  try {
    const out = extra > 0 ? await sealPooled(ctx, s, key, h, mech, data, extra) : await openPooled(ctx, s, key, h, mech, data);
    ok = true;
    return out;
  } finally {
    if (ok) releaseSession(ctx, s);
    else dropSession(ctx, s);
  }
}

async function sealPooled(ctx: HsmContext, s: Handle, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, pt: Buffer, extra: number): Promise<Buffer> {
  // Init + Encrypt in a worker thread (offload/): the event loop never waits for the token
  const w = gcmWorkers(ctx);
  if (w) {
    try {
      return await w.run(true, s, mech, h, pt, pt.length + extra);
    } catch (err) {
      const init = (err as OffloadedCallError).fn === "C_EncryptInit";
      throw toHsmError(err, init ? "C_EncryptInit" : "C_Encrypt", init ? `using key '${key.name}'` : `encrypting with '${key.name}'`, DISABLED);
    }
  }
  const p = ctx.p;
  try {
    p.C_EncryptInit(s, mech, h);
  } catch (err) {
    throw toHsmError(err, "C_EncryptInit", `using key '${key.name}'`, DISABLED);
  }
  const out = Buffer.alloc(pt.length + extra);
  try {
    return ctx.caps.asyncCalls ? await p.C_EncryptAsync(s, pt, out) : p.C_Encrypt(s, pt, out);
  } catch (err) {
    throw toHsmError(err, "C_Encrypt", `encrypting with '${key.name}'`, DISABLED);
  }
}

async function openPooled(ctx: HsmContext, s: Handle, key: HsmKey, h: Handle, mech: pkcs11js.Mechanism, ct: Buffer): Promise<Buffer> {
  const w = gcmWorkers(ctx);
  if (w) {
    try {
      // the plaintext comes back in a buffer transferred from the worker (no copy left there)
      return await w.run(false, s, mech, h, ct, ct.length);
    } catch (err) {
      if ((err as OffloadedCallError).fn === "C_DecryptInit") throw toHsmError(err, "C_DecryptInit", `using key '${key.name}'`, DISABLED);
      if (isCkr(err, ...badTagCkrs(ctx))) throw decryptionFailed();
      throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
    }
  }
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
    if (isCkr(err, ...badTagCkrs(ctx))) throw decryptionFailed();
    throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
  }
}
