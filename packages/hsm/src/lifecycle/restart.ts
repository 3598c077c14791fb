/**
 * The end of a context (close: wait for work in flight, close sessions, give up the login share,
 * zero the PIN, finalise with the library's last user) and the library restart that cures SoftHSM's
 * poisoned token state in the middle of a context's life.
 */
import { createPublicKey } from "node:crypto";
import pkcs11js from "pkcs11js";
import { zeroize } from "@ciop/core";
import { openSession, type HsmContext } from "../context.js";
import { call, isCkr } from "../errors.js";
import { createRsaPublicObject } from "../keys/public-keys.js";
import { initializeOptions, isSoftHsmLibrary, releaseLibrary } from "../library.js";
import { closeSessions, releaseLogin } from "../sessions.js";
import { selectToken } from "./select-token.js";

/** Closes every session and, with the last user of the library in this thread, finalises it. */
export async function closeContext(ctx: HsmContext): Promise<void> {
  if (ctx.closed) return;
  await Promise.allSettled([...ctx.inflight]);
  ctx.closed = true;
  closeSessions(ctx);
  ctx.cache.clear();
  releaseLogin(ctx);
  zeroize(ctx.pinBuf);
  ctx.pinBuf = undefined;
  releaseLibrary(ctx.lib);
}

/**
 * Finalises and re-initialises the PKCS#11 library, then reopens sessions and logs in again, when
 * this context is the library's only user in this thread and no pooled session is busy. Handles of
 * keys handed out before are set to an invalid handle, so their next use re-finds them by CKA_ID (a
 * stale number could otherwise name another object); imported public keys are imported again.
 * Session keys (ephemeral) are gone. Returns false when it could not run.
 */
export function recoverLibrary(ctx: HsmContext): boolean {
  const lib = ctx.lib;
  if (ctx.closed || !ctx.pinBuf || !isSoftHsmLibrary(ctx.token.libraryPath) || !lib.initializedByUs || lib.refs !== 1 || lib.logins.size > 1) return false;
  if (ctx.poolOpen - ctx.idle.length !== 0 || ctx.waiters.length > 0) return false;
  const p = ctx.p;
  const oldSlotKey = ctx.slot.toString("hex");
  try {
    p.C_Finalize();
  } catch {
    /* continue: initialise afresh */
  }
  ctx.idle.length = 0;
  ctx.poolOpen = 0;
  call("C_Initialize", () => p.C_Initialize(initializeOptions(lib.parameters)), "restarting the library");
  ctx.slot = selectToken(p, ctx.token.serial).slot;
  ctx.objSession = openSession(ctx);
  ctx.opSession = openSession(ctx);
  const pin = ctx.pinBuf.toString("utf8");
  try {
    call("C_Login", () => p.C_Login(ctx.objSession, pkcs11js.CKU_USER, pin), `logging in to token '${ctx.token.label}' again`);
  } catch (err) {
    // some tokens (CloudHSM) report a login held by another process or client as this one's
    if (!isCkr(err, "CKR_USER_ALREADY_LOGGED_IN")) throw err;
  }
  const held = lib.logins.get(oldSlotKey);
  if (held) {
    lib.logins.delete(oldSlotKey);
    lib.logins.set(ctx.slot.toString("hex"), held);
  }
  for (const ref of ctx.issuedKeys) {
    const k = ref.deref();
    if (!k) {
      ctx.issuedKeys.delete(ref);
      continue;
    }
    k.handle = Buffer.alloc(8); // CK_INVALID_HANDLE
    k.publicHandle = undefined;
  }
  for (const ref of ctx.issuedPubs) {
    const pub = ref.deref();
    if (!pub) {
      ctx.issuedPubs.delete(ref);
      continue;
    }
    if (!pub.handle) continue;
    const jwk = createPublicKey({ key: Buffer.from(pub.spki), format: "der", type: "spki" }).export({ format: "jwk" }) as { n: string; e: string };
    pub.handle = createRsaPublicObject(ctx, Buffer.from(jwk.n, "base64url"), Buffer.from(jwk.e, "base64url"));
  }
  ctx.cache.clear();
  return true;
}
