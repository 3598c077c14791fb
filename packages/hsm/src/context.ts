/**
 * The state of one open token, shared by the parts of @ciop/hsm (sessions, key objects, wraps,
 * AES-GCM, digests, host fallback), and the argument checks they have in common. The `Hsm` class
 * (hsm.ts) is a facade over it: each part is a set of functions taking this context.
 */
import type { EventEmitter } from "node:events";
import os from "node:os";
import path from "node:path";
import pkcs11js from "pkcs11js";
import { CiopError, type CiopErrorCode } from "@ciop/core";
import type { EmbeddedTokenPaths } from "./embedded-token.js";
import { call } from "./errors.js";
import type { HsmKey, HsmPublicKey } from "./hsm-key.js";
import { KEY_SPECS, keySpec, type KeySpec } from "./key-specs.js";
import type { LoadedLibrary } from "./library.js";
import { isHashName } from "./mechanisms.js";
import type { Capabilities, HashName, HostFallbackEvent, HsmOptions, KeyType, TokenInfo } from "./types.js";

/** A PKCS#11 handle as pkcs11js passes it (8-byte little-endian Buffer). */
export type Handle = Buffer;

/** CKR_KEY_FUNCTION_NOT_PERMITTED at an *Init means the key is disabled. */
export const DISABLED: Partial<Record<string, CiopErrorCode>> = { CKR_KEY_FUNCTION_NOT_PERMITTED: "ERR_KEY_DISABLED" };

/** Host-fallback events kept in memory by default (a long-running server must not grow without bound). */
const DEFAULT_FALLBACK_HISTORY = 100;
const SESSION_FLAGS = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

/** One open token: library, sessions, login share, cached keys and host-fallback record. */
export class HsmContext {
  readonly lib: LoadedLibrary;
  readonly p: pkcs11js.PKCS11;
  slot: Handle;
  readonly token: TokenInfo;
  readonly options: HsmOptions;
  readonly embeddedPaths: EmbeddedTokenPaths | undefined;
  readonly lockDir: string;
  readonly poolSize: number;
  /** Probed once at open (probe.ts). */
  caps!: Capabilities;
  /** Object management and wraps (sync calls). Imported public keys live here. */
  objSession: Handle;
  /** Encrypt/decrypt/sign/digest (sync calls); replaced when an operation fails. */
  opSession: Handle;
  /** The session pool for async work (sessions.ts). */
  readonly idle: Handle[] = [];
  poolOpen = 0;
  readonly waiters: Array<{ resolve: (s: Handle) => void; reject: (err: unknown) => void }> = [];
  /** This context holds a share of the thread's login to the token (see LoadedLibrary.logins). */
  loginShare = false;
  /** The user PIN, kept only to log in again after a library restart; zeroed by close. */
  pinBuf: Buffer | undefined;
  /** Every key and imported public key handed out, so a library restart can invalidate their handles. */
  readonly issuedKeys = new Set<WeakRef<HsmKey>>();
  readonly issuedPubs = new Set<WeakRef<HsmPublicKey>>();
  /** Async work close() waits for. */
  readonly inflight = new Set<Promise<unknown>>();
  /** Key handles by name. */
  readonly cache = new Map<string, HsmKey>();
  /**
   * A search of this context found a token key (set by lookups, re-finds and key creation; cleared
   * when a key is deleted through it). While set, a token that shows no token object at all is
   * broken, not empty (see confirmAbsent in keys/handles.ts).
   */
  sawTokenKeys: boolean;
  /** Per key type: the token's KWP of its PKCS#8 is exact despite `caps.kwpPadsPrivateKeys` (probed once). */
  readonly pkcs8KwpExact = new Map<KeyType, boolean>();
  /** The most recent host-side fallbacks (at most `fallbackHistory`). */
  readonly fallbacks: HostFallbackEvent[] = [];
  readonly fallbackHistory: number;
  /** Every host-side fallback since open, also those no longer kept in `fallbacks`. */
  fallbackCount = 0;
  /** Receives the "host-fallback" events (the Hsm facade). */
  events: EventEmitter | undefined;
  closed = false;

  /** Opens the object and operation sessions; throws (nothing to clean up but the library) if it cannot. */
  constructor(lib: LoadedLibrary, slot: Handle, token: TokenInfo, options: HsmOptions, embedded: EmbeddedTokenPaths | undefined) {
    this.lib = lib;
    this.p = lib.p;
    this.slot = slot;
    this.token = token;
    this.options = options;
    this.embeddedPaths = embedded;
    this.poolSize = Math.max(1, options.sessionPoolSize ?? 4);
    this.fallbackHistory = options.hostFallbackHistory ?? DEFAULT_FALLBACK_HISTORY;
    this.sawTokenKeys = options.tokenHoldsKeys === true;
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    this.lockDir = options.lockDir ?? (embedded ? embedded.lockDir : path.join(os.tmpdir(), `ciop-locks-${uid}`));
    this.objSession = openSession(this);
    this.opSession = openSession(this);
  }
}

/** A new R/W serial session on the context's slot. */
export function openSession(ctx: Pick<HsmContext, "p" | "slot">): Handle {
  return call("C_OpenSession", () => ctx.p.C_OpenSession(ctx.slot, SESSION_FLAGS));
}

// ---------------------------------------------------------------- checks shared by the parts

export function ensureOpen(ctx: HsmContext): void {
  if (ctx.closed) throw new CiopError("ERR_USAGE", "this Hsm has been closed");
}

export function specOf(type: KeyType): KeySpec {
  const s = keySpec(type);
  if (!s) throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `unknown key type '${String(type)}'; supported: ${Object.keys(KEY_SPECS).join(", ")}`);
  return s;
}

export function requireHash(hash: HashName): void {
  if (!isHashName(hash)) throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `unknown hash '${String(hash)}'; supported: sha1, sha256, sha384, sha512`);
}

export function requireAes(key: HsmKey): void {
  if (KEY_SPECS[key.type].family !== "aes") throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is ${key.type}, not an AES key`);
}

export function requireSecret(key: HsmKey, what: string): void {
  if (key.kind !== "secret") {
    throw new CiopError(
      "ERR_KEY_TYPE_UNSUPPORTED",
      `${what} can wrap only secret keys (AES/HMAC), and '${key.name}' is ${key.type}; use wrapRsaAes for key pairs`,
    );
  }
}

export function pubHandle(pub: HsmPublicKey): Handle {
  if (!pub.handle) throw new CiopError("ERR_USAGE", "this public key has been released");
  return pub.handle;
}

/** Host-side fallbacks are allowed: a software token, or `options.allowHostFallback`. */
export function allowsHostFallback(ctx: HsmContext): boolean {
  return ctx.token.isSoftware || ctx.options.allowHostFallback === true;
}
