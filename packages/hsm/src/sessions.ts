/**
 * Sessions and login: the shared per-thread login to a token, the operation session the sync calls
 * use (replaced after a failed operation, because SoftHSM can leave it active), and the pool of
 * sessions for async work, with the set of in-flight promises close() waits for.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { DISABLED, openSession, type Handle, type HsmContext } from "./context.js";
import { HsmError, isCkr, toHsmError } from "./errors.js";
import { closeGcmWorkers } from "./offload/index.js";

/** Per-process key for the in-memory PIN digests of the login registry (never stored). */
const PIN_DIGEST_KEY = randomBytes(32);

/**
 * Logs in once per token and thread: the first Hsm on a token calls C_Login, later ones share that
 * login but must present the same PIN (compared as keyed digests, in constant time).
 */
export function login(ctx: HsmContext, pin: string): void {
  const slotKey = ctx.slot.toString("hex");
  const digest = createHmac("sha256", PIN_DIGEST_KEY).update(slotKey).update("\0").update(pin).digest();
  const held = ctx.lib.logins.get(slotKey);
  if (held) {
    if (!timingSafeEqual(held.pinDigest, digest)) {
      throw new HsmError(
        "ERR_PIN_INCORRECT",
        `token '${ctx.token.label}' is already logged in by this process with a different PIN; the PIN given now was not accepted`,
        { fn: "C_Login" },
      );
    }
    held.refs++;
    ctx.loginShare = true;
    return;
  }
  try {
    ctx.p.C_Login(ctx.objSession, pkcs11js.CKU_USER, pin);
  } catch (err) {
    // Logged in by someone else in this process (another worker thread, or a raw pkcs11js user):
    // the token does not check the PIN again, and neither can we.
    if (!isCkr(err, "CKR_USER_ALREADY_LOGGED_IN")) throw toHsmError(err, "C_Login", `logging in to token '${ctx.token.label}'`);
  }
  ctx.lib.logins.set(slotKey, { pinDigest: digest, refs: 1 });
  ctx.loginShare = true;
}

export function releaseLogin(ctx: HsmContext): void {
  if (!ctx.loginShare) return;
  ctx.loginShare = false;
  const slotKey = ctx.slot.toString("hex");
  const held = ctx.lib.logins.get(slotKey);
  if (held && --held.refs <= 0) ctx.lib.logins.delete(slotKey);
}

// ---------------------------------------------------------------- the operation session (sync calls)

/** Closes the operation session (it may hold an active operation) and opens a fresh one. */
export function resetOpSession(ctx: HsmContext): void {
  try {
    ctx.p.C_CloseSession(ctx.opSession);
  } catch {
    /* ignore */
  }
  ctx.opSession = openSession(ctx);
}

/** Runs an operation on the op session; any failure drops that session (SoftHSM leaves ops active). */
export function onOpSession<T>(ctx: HsmContext, fn: string, context: string, f: (s: Handle) => T): T {
  try {
    return f(ctx.opSession);
  } catch (err) {
    resetOpSession(ctx);
    throw toHsmError(err, fn, context, DISABLED);
  }
}

// ---------------------------------------------------------------- the pool (async calls)

export async function acquireSession(ctx: HsmContext): Promise<Handle> {
  const s = ctx.idle.pop();
  if (s) return s;
  if (ctx.poolOpen < ctx.poolSize) {
    ctx.poolOpen++;
    return openSession(ctx);
  }
  return new Promise<Handle>((resolve, reject) => ctx.waiters.push({ resolve, reject }));
}

/** Closes a pooled session that may hold an active operation, and hands a fresh one to a waiter. */
export function dropSession(ctx: HsmContext, s: Handle): void {
  try {
    ctx.p.C_CloseSession(s);
  } catch {
    /* ignore */
  }
  ctx.poolOpen--;
  const w = ctx.waiters.shift();
  if (!w) return;
  if (ctx.closed) {
    w.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
    return;
  }
  try {
    ctx.poolOpen++;
    w.resolve(openSession(ctx));
  } catch (err) {
    ctx.poolOpen--;
    w.reject(err);
  }
}

export function releaseSession(ctx: HsmContext, s: Handle): void {
  if (ctx.closed) {
    try {
      ctx.p.C_CloseSession(s);
    } catch {
      /* ignore */
    }
    return;
  }
  const w = ctx.waiters.shift();
  if (w) w.resolve(s);
  else ctx.idle.push(s);
}

/** Registers async work that close() must wait for. */
export function track<T>(ctx: HsmContext, promise: Promise<T>): Promise<T> {
  ctx.inflight.add(promise);
  const done = () => ctx.inflight.delete(promise);
  promise.then(done, done);
  return promise;
}

/** Closes every session of the context and rejects waiters (close() calls it after in-flight work settled). */
export function closeSessions(ctx: HsmContext): void {
  closeGcmWorkers(ctx);
  for (const s of [ctx.opSession, ctx.objSession, ...ctx.idle]) {
    try {
      ctx.p.C_CloseSession(s);
    } catch {
      /* already closed */
    }
  }
  ctx.idle.length = 0;
  for (const w of ctx.waiters.splice(0)) w.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
}
