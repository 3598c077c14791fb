import { EventEmitter } from "node:events";
import { closeSync, openSync } from "node:fs";
import { createDecipheriv, createHash, createHmac, createPublicKey, constants as cryptoConstants, publicEncrypt, randomBytes, timingSafeEqual } from "node:crypto";
import os from "node:os";
import path from "node:path";
import pkcs11js from "pkcs11js";
import { CiopError, zeroize, type CiopErrorCode } from "@ciop/core";
import { derLength, ecPointRaw } from "./der.js";
import { defaultDataDir, embeddedPaths, ensureEmbeddedToken, type EmbeddedTokenPaths } from "./embedded-token.js";
import { HsmError, call, callAsync, isCkr, toHsmError } from "./errors.js";
import { CIOP_ID_PREFIX, HsmKey, HsmPublicKey } from "./hsm-key.js";
import { KEY_SPECS, keySpec, keyTypeFrom, type KeySpec } from "./key-specs.js";
import { acquireLibrary, cleanText, defaultLibraryPath, isSoftHsmLibrary, releaseLibrary, type LoadedLibrary } from "./library.js";
import { withFileLock } from "./lock.js";
import { HASHES, gcmParameter, hostKwpUnwrap, hostKwpWrap, isHashName, kwpName, oaepMechanism, oaepName } from "./mechanisms.js";
import { resolvePin } from "./pin.js";
import { probeCapabilities, probeEcPkcs8KwpExact } from "./probe.js";
import type { Capabilities, GenerateKeyOptions, HashName, HostFallbackEvent, HsmOptions, KeyInfo, KeyType, KeyUsage, TokenInfo, WrapOutcome } from "./types.js";

const P = pkcs11js;
type Handle = Buffer;

/** A low-level mechanism for {@link Hsm.wrapKey}: a pkcs11js mechanism object. @public */
export type WrapMechanism = pkcs11js.Mechanism;

const SOFTWARE_TOKEN_PATTERN = /softhsm|softokn|\bnss\b|mozilla|kryoptic|software/i;
const WRAP_BUFFER = 16384;
/** Host-fallback events kept in memory by default (a long-running server must not grow without bound). */
const DEFAULT_FALLBACK_HISTORY = 100;
const DISABLED: Partial<Record<string, CiopErrorCode>> = { CKR_KEY_FUNCTION_NOT_PERMITTED: "ERR_KEY_DISABLED" };
/** GCM decrypt failures that mean "this ciphertext/tag/AAD/IV is not authentic" (SoftHSM says CKR_GENERAL_ERROR). */
const GCM_AUTH_FAILURES = ["CKR_GENERAL_ERROR", "CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_DATA_INVALID", "CKR_DATA_LEN_RANGE"];
/** Per-process key for the in-memory PIN digests of the login registry (never stored). */
const PIN_DIGEST_KEY = randomBytes(32);

/** Attributes toggled by {@link Hsm.setKeyEnabled}, per family and object class. */
const USAGE: Record<KeySpec["family"], { key: number[]; pub: number[] }> = {
  aes: { key: [P.CKA_ENCRYPT, P.CKA_DECRYPT], pub: [] },
  hmac: { key: [P.CKA_SIGN, P.CKA_VERIFY], pub: [] },
  rsa: { key: [P.CKA_SIGN, P.CKA_DECRYPT], pub: [P.CKA_VERIFY, P.CKA_ENCRYPT] },
  ec: { key: [P.CKA_SIGN], pub: [P.CKA_VERIFY] },
};

/** Why an AES-GCM encryption request is refused before it reaches the token, if it is. */
function gcmEncryptRefusal(iv: Uint8Array, plaintext: Uint8Array): CiopError | undefined {
  if (plaintext.length === 0) return new CiopError("ERR_USAGE", "AES-GCM plaintext must not be empty (PKCS#11 tokens reject it)");
  if (iv.length === 0) return new CiopError("ERR_USAGE", "AES-GCM needs a non-empty IV");
  return undefined;
}

/** A decryption request that cannot be genuine (no IV, nothing beyond the 16-byte tag) fails like a bad tag. */
function gcmDecryptRefusal(iv: Uint8Array, ctAndTag: Uint8Array): HsmError | undefined {
  return ctAndTag.length <= 16 || iv.length === 0 ? new HsmError("ERR_DECRYPTION_FAILED", "decryption failed") : undefined;
}

/** The CKM_AES_GCM mechanism (128-bit tag) and a Buffer view of `data` (no copy). */
function gcmInput(iv: Uint8Array, aad: Uint8Array | undefined, data: Uint8Array): { mech: pkcs11js.Mechanism; data: Buffer } {
  return { mech: { mechanism: P.CKM_AES_GCM, parameter: gcmParameter(iv, aad) }, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}

function ulong(buf: Buffer): number {
  if (buf.length === 8) return Number(buf.readBigUInt64LE(0));
  if (buf.length === 4) return buf.readUInt32LE(0);
  return buf.length > 0 ? buf.readUIntLE(0, Math.min(buf.length, 6)) : 0;
}

function modulusBits(mod: Buffer): number {
  let i = 0;
  while (i < mod.length && mod[i] === 0) i++;
  if (i === mod.length) return 0;
  return (mod.length - i - 1) * 8 + (32 - Math.clz32(mod[i]!));
}

function validateName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > 255 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new CiopError("ERR_KEY_NAME_INVALID", `invalid key name ${JSON.stringify(name)}: use 1-255 bytes of printable UTF-8 (it becomes CKA_LABEL)`);
  }
}

/** New CKA_ID: prefix ‖ 8-byte big-endian creation time (ms) ‖ 8 random bytes (earlier ids sort first). */
function newKeyId(): Buffer {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(Date.now()));
  return Buffer.concat([Buffer.from(CIOP_ID_PREFIX), t, randomBytes(8)]);
}

function isCiopId(id: Buffer): boolean {
  return id.length >= CIOP_ID_PREFIX.length && Buffer.from(CIOP_ID_PREFIX).equals(id.subarray(0, CIOP_ID_PREFIX.length));
}

/**
 * A PKCS#11 token opened by ciop: keys, in-HSM wraps and AES-GCM, with capability probing and a
 * disciplined host-side fallback. Emits `"host-fallback"` ({@link HostFallbackEvent}) whenever key
 * material had to be in host memory.
 *
 * @example
 * ```ts
 * const hsm = await Hsm.open();                       // embedded SoftHSM2 token, created on first use
 * const { key } = await hsm.getOrCreateKey("byok-1", "AES-256");
 * const pub = hsm.importPublicKey(providerSpkiDer);
 * const out = hsm.wrapRsaAes(pub, key, "sha1");      // OAEP(ephemeral) ‖ KWP(key), done in the HSM
 * await hsm.close();
 * ```
 * @public
 */
export class Hsm extends EventEmitter {
  /** The token in use. */
  readonly token: TokenInfo;
  /** Paths of the embedded token, when this is ciop's embedded SoftHSM2 token. */
  readonly embeddedPaths: EmbeddedTokenPaths | undefined;

  private readonly lib: LoadedLibrary;
  private readonly p: pkcs11js.PKCS11;
  private slot: Handle;
  private readonly options: HsmOptions;
  private readonly lockDir: string;
  private readonly poolSize: number;
  private caps!: Capabilities;
  /** Object management and wraps (sync calls). Imported public keys live here. */
  private objSession: Handle;
  /** Encrypt/decrypt/sign/digest (sync calls); replaced when an operation fails. */
  private opSession: Handle;
  private readonly idle: Handle[] = [];
  private poolOpen = 0;
  private readonly waiters: Array<{ resolve: (s: Handle) => void; reject: (err: unknown) => void }> = [];
  /** This instance holds a share of the thread's login to the token (see LoadedLibrary.logins). */
  private loginShare = false;
  /** The user PIN, kept only to log in again after {@link recoverLibrary}; zeroed by close(). */
  private pinBuf: Buffer | undefined;
  /** Every key and imported public key handed out, so a library restart can invalidate their handles. */
  private readonly issuedKeys = new Set<WeakRef<HsmKey>>();
  private readonly issuedPubs = new Set<WeakRef<HsmPublicKey>>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly cache = new Map<string, HsmKey>();
  /**
   * A search of this context found a token key (set by lookups, re-finds and key creation; cleared
   * when this Hsm deletes a key). While set, a token that shows no token object at all is broken,
   * not empty (see {@link confirmAbsent}).
   */
  private sawTokenKeys = false;
  /** Per key type: the token's KWP of its PKCS#8 is exact despite {@link Capabilities.kwpPadsPrivateKeys} (probed once). */
  private readonly pkcs8KwpExact = new Map<KeyType, boolean>();
  /** The most recent host-side fallbacks (at most {@link fallbackHistory}). */
  private readonly fallbacks: HostFallbackEvent[] = [];
  private readonly fallbackHistory: number;
  /** Every host-side fallback since open, also those no longer kept in {@link fallbacks}. */
  private fallbackCount = 0;
  private closed = false;

  private constructor(lib: LoadedLibrary, slot: Handle, token: TokenInfo, options: HsmOptions, embedded: EmbeddedTokenPaths | undefined) {
    super();
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
    this.objSession = this.openSession();
    this.opSession = this.openSession();
  }

  /**
   * Opens a token. With no options and no environment, uses ciop's embedded SoftHSM2 token
   * (created on first use in `$XDG_DATA_HOME/ciop`). See the README for the full resolution order.
   */
  static async open(options: HsmOptions = {}): Promise<Hsm> {
    const history = options.hostFallbackHistory;
    if (history !== undefined && (!Number.isSafeInteger(history) || history < 0)) {
      throw new CiopError("ERR_CONFIG_INVALID", `hostFallbackHistory must be a whole number of events (0 or more), not ${String(history)}`);
    }
    const libraryPath = options.library ?? process.env.CIOP_PKCS11_LIB ?? defaultLibraryPath();
    const protection = options.protection ?? { kind: "module" as const };
    let selector = protection.kind !== "module" ? protection.name : (options.token ?? process.env.CIOP_TOKEN);
    let embedded: Awaited<ReturnType<typeof ensureEmbeddedToken>> | undefined;
    if (selector === undefined && isSoftHsmLibrary(libraryPath)) {
      const dataDir = options.dataDir ?? defaultDataDir();
      const conf = process.env.SOFTHSM2_CONF;
      if (options.dataDir !== undefined || conf === undefined || conf === embeddedPaths(dataDir).conf) {
        embedded = await ensureEmbeddedToken(libraryPath, dataDir);
        selector = embedded.state.serial;
      }
    }
    let lib = acquireLibrary(libraryPath);
    let held = true;
    let hsm: Hsm | undefined;
    try {
      let selected: { slot: Handle; info: pkcs11js.TokenInfo } | undefined;
      for (let attempt = 1; !selected; attempt++) {
        try {
          selected = selectToken(lib.p, selector);
        } catch (err) {
          // SoftHSM reads its token directory once, at C_Initialize. A token file that another
          // process was rewriting at that moment is skipped, so the token looks absent: when this
          // process is the library's only user, initialise it afresh and look again.
          // SoftHSM also rewrites token.object at every login (PIN counter flags); reading it at that
          // moment gives CKR_GENERAL_ERROR. Both are transient.
          // Only when the token must exist (the embedded one) or no token was readable at all, so a
          // mistyped selector still fails at once.
          const notFound =
            CiopError.isInstance(err) && err.code === "ERR_TOKEN_NOT_FOUND" && (embedded !== undefined || (err as CiopError).details?.tokensSeen === 0);
          const soleUser = lib.initializedByUs && lib.refs === 1;
          const retry = attempt < 4 && isSoftHsmLibrary(libraryPath) && ((notFound && soleUser) || isTransientStoreError(err));
          if (!retry) throw err;
          if (soleUser) {
            releaseLibrary(lib);
            held = false;
          }
          await new Promise((r) => setTimeout(r, 50 * attempt + Math.floor(Math.random() * 50)));
          if (!held) {
            lib = acquireLibrary(libraryPath);
            held = true;
          }
        }
      }
      const { slot, info } = selected;
      const label = cleanText(info.label);
      const moduleInfo = call("C_GetInfo", () => lib.p.C_GetInfo());
      const facts = `${info.manufacturerID} ${info.model} ${moduleInfo.manufacturerID} ${moduleInfo.libraryDescription}`;
      const token: TokenInfo = {
        libraryPath,
        libraryDescription: cleanText(moduleInfo.libraryDescription),
        manufacturer: cleanText(info.manufacturerID),
        model: cleanText(info.model),
        label,
        serial: cleanText(info.serialNumber),
        isSoftware: SOFTWARE_TOKEN_PATTERN.test(facts) && options.assumeHardwareToken !== true,
        embedded: embedded !== undefined,
      };
      const what =
        protection.kind === "softcard"
          ? `passphrase of softcard '${protection.name}'`
          : protection.kind === "ocs"
            ? `PIN of card set '${protection.name}'`
            : `PIN of token '${label}'`;
      const pin = await resolvePin(options.pin, what, embedded?.state.pin);
      if (pin === undefined) {
        // Keep "no <what>:" first and the words "options.pin": citool recognises this message by them.
        throw new CiopError(
          "ERR_PIN_MISSING",
          `no ${what}: set CIOP_PIN to the PIN or CIOP_PIN_FILE to a file holding it, or enter it when a PIN prompt asks; ` +
            `programs calling Hsm.open can give it as options.pin ({ env }, { file }, { prompt } or { value }). A PIN is never taken from the command line alone`,
        );
      }
      hsm = new Hsm(lib, slot, token, options, embedded?.paths);
      for (let attempt = 1; ; attempt++) {
        try {
          hsm.login(pin);
          hsm.pinBuf = Buffer.from(pin, "utf8");
          break;
        } catch (err) {
          if (attempt >= 3 || !isSoftHsmLibrary(libraryPath) || !isTransientStoreError(err)) throw err;
          await new Promise((r) => setTimeout(r, 30 * attempt + Math.floor(Math.random() * 30)));
        }
      }
      hsm.caps = probeCapabilities(lib.p, slot, lib.osLocking && lib.initializedByUs);
      return hsm;
    } catch (err) {
      if (hsm) await hsm.close();
      else if (held) releaseLibrary(lib);
      throw err;
    }
  }

  /** What the token really supports (probed once at open). */
  capabilities(): Capabilities {
    return { ...this.caps, rsaOaepHashes: [...this.caps.rsaOaepHashes], digestKey: [...this.caps.digestKey], hmacHashes: [...this.caps.hmacHashes] };
  }

  /** Host-side fallbacks are allowed: a software token, or `options.allowHostFallback`. */
  allowsHostFallback(): boolean {
    return this.token.isSoftware || this.options.allowHostFallback === true;
  }

  /**
   * A search of this Hsm found a token key (or `options.tokenHoldsKeys` said so), and none was
   * deleted through it since: an empty key search is then checked before it counts as "no such key".
   */
  get tokenHoldsKeys(): boolean {
    return this.sawTokenKeys;
  }

  /** True once any host-side fallback happened in this Hsm. */
  get hostFallbackUsed(): boolean {
    return this.fallbackCount > 0;
  }

  /** How many host-side fallbacks happened in this Hsm since it was opened (exact, never capped). */
  get hostFallbackCount(): number {
    return this.fallbackCount;
  }

  /**
   * The most recent host-side fallbacks, oldest first: at most `options.hostFallbackHistory`
   * (default 100), so a long-running server does not keep every event. For a complete record,
   * log each one from `onHostFallback` or the "host-fallback" event; {@link hostFallbackCount} is the exact total.
   */
  get hostFallbacks(): readonly HostFallbackEvent[] {
    return [...this.fallbacks];
  }

  // ---------------------------------------------------------------- keys

  /** Creates a key; {@link CiopError} ERR_KEY_EXISTS if a key with that name exists. */
  async generateKey(name: string, type: KeyType, options: GenerateKeyOptions = {}): Promise<HsmKey> {
    this.ensureOpen();
    validateName(name);
    const spec = this.spec(type);
    return this.withNameLock(name, async () => {
      if (this.lookup(name)) throw new CiopError("ERR_KEY_EXISTS", `a key named '${name}' already exists on token '${this.token.label}'`);
      const mine = await this.createKey(name, spec, options);
      const winner = this.settleDuplicates(name, mine);
      if (winner !== mine) throw new CiopError("ERR_KEY_EXISTS", `a key named '${name}' was created concurrently by another process`);
      return mine;
    });
  }

  /**
   * Returns the key `name`, creating it when missing. An existing key is reused only if ciop created it
   * (ERR_KEY_NOT_CIOP) and it has the requested type (ERR_KEY_TYPE_MISMATCH). Safe across processes:
   * two processes asking at once end up with one key.
   */
  async getOrCreateKey(name: string, type: KeyType, options: GenerateKeyOptions = {}): Promise<{ key: HsmKey; created: boolean }> {
    this.ensureOpen();
    validateName(name);
    const spec = this.spec(type);
    return this.withNameLock(name, async () => {
      const existing = this.lookup(name);
      if (existing) return { key: this.checkReusable(existing, type), created: false };
      const mine = await this.createKey(name, spec, options);
      const winner = this.settleDuplicates(name, mine);
      return winner === mine ? { key: mine, created: true } : { key: this.checkReusable(winner, type), created: false };
    });
  }

  /** The key named `name` (cached handle), or undefined. */
  findKey(name: string): HsmKey | undefined {
    this.ensureOpen();
    const cached = this.cache.get(name);
    if (cached) return cached;
    return this.lookup(name);
  }

  /** Every secret and private key on the token whose type ciop knows. */
  listKeys(): KeyInfo[] {
    this.ensureOpen();
    const out: KeyInfo[] = [];
    for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
      for (const h of this.find([{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_TOKEN, value: true }])) {
        const key = this.describe(h, klass);
        if (key) out.push(this.keyInfo(key));
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Facts about one key. */
  keyInfo(key: HsmKey): KeyInfo {
    const spec = KEY_SPECS[key.type];
    const usage = USAGE[spec.family].key;
    const attrs = this.withHandle(key, (h) => this.attrs(h, [...usage, P.CKA_EXTRACTABLE, P.CKA_SENSITIVE], "reading key attributes"));
    return {
      name: key.name,
      type: key.type,
      id: key.id,
      createdByCiop: key.createdByCiop,
      enabled: usage.every((t) => attrs.get(t)?.[0] === 1),
      extractable: attrs.get(P.CKA_EXTRACTABLE)?.[0] === 1,
      sensitive: attrs.get(P.CKA_SENSITIVE)?.[0] === 1,
    };
  }

  /**
   * The key's usage attributes, each on its own (CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
   * CKA_WRAP, CKA_UNWRAP), read from the token now. Use it to tell an encrypt-only key from a
   * decrypt-only or a disabled one ({@link keyInfo}'s `enabled` only says whether all of the key
   * family's usages are set). For key pairs the public-side usages come from the public half.
   */
  keyUsage(key: HsmKey): KeyUsage {
    this.ensureOpen();
    const on = (m: Map<number, Buffer>, t: number) => m.get(t)?.[0] === 1;
    const ctx = `reading the usage of key '${key.name}'`;
    if (key.kind === "secret") {
      const a = this.withHandle(key, (h) => this.attrs(h, [P.CKA_ENCRYPT, P.CKA_DECRYPT, P.CKA_SIGN, P.CKA_VERIFY, P.CKA_WRAP, P.CKA_UNWRAP], ctx));
      return {
        encrypt: on(a, P.CKA_ENCRYPT),
        decrypt: on(a, P.CKA_DECRYPT),
        sign: on(a, P.CKA_SIGN),
        verify: on(a, P.CKA_VERIFY),
        wrap: on(a, P.CKA_WRAP),
        unwrap: on(a, P.CKA_UNWRAP),
      };
    }
    const priv = this.withHandle(key, (h) => this.attrs(h, [P.CKA_DECRYPT, P.CKA_SIGN, P.CKA_UNWRAP], ctx));
    const pubHandle = this.publicHandle(key);
    const pub = pubHandle ? this.attrs(pubHandle, [P.CKA_ENCRYPT, P.CKA_VERIFY, P.CKA_WRAP], ctx) : new Map<number, Buffer>();
    return {
      encrypt: on(pub, P.CKA_ENCRYPT),
      decrypt: on(priv, P.CKA_DECRYPT),
      sign: on(priv, P.CKA_SIGN),
      verify: on(pub, P.CKA_VERIFY),
      wrap: on(pub, P.CKA_WRAP),
      unwrap: on(priv, P.CKA_UNWRAP),
    };
  }

  /** Destroys the key (and its public half). ERR_KEY_NOT_FOUND when there is none. */
  deleteKey(name: string): void {
    this.ensureOpen();
    const key = this.lookup(name);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${this.token.label}'`);
    this.destroyById(name, Buffer.from(key.id, "hex"));
    this.cache.delete(name);
    // that may have been the last token object: an empty token is believable again
    this.sawTokenKeys = false;
  }

  /**
   * Enables or disables a key in the HSM itself (CKA_ENCRYPT/DECRYPT for AES, CKA_SIGN/VERIFY for
   * HMAC, CKA_SIGN/DECRYPT and the public CKA_VERIFY/ENCRYPT for key pairs). A disabled key is refused
   * by the token (ERR_KEY_DISABLED). Takes effect for other processes at their next operation.
   */
  setKeyEnabled(name: string, enabled: boolean): void {
    this.ensureOpen();
    const key = this.lookup(name);
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}' on token '${this.token.label}'`);
    const usage = USAGE[KEY_SPECS[key.type].family];
    this.withHandle(key, (h) => this.setAttrs(h, usage.key.map((type) => ({ type, value: enabled })), `${enabled ? "enabling" : "disabling"} key '${name}'`));
    if (usage.pub.length > 0) {
      const pub = this.publicHandle(key);
      if (pub) this.setAttrs(pub, usage.pub.map((type) => ({ type, value: enabled })), `${enabled ? "enabling" : "disabling"} the public key of '${name}'`);
    }
  }

  // ---------------------------------------------------------------- public keys

  /** Imports an RSA SubjectPublicKeyInfo (DER) as a session object with CKA_WRAP and CKA_ENCRYPT. */
  importPublicKey(spkiDer: Uint8Array): HsmPublicKey {
    this.ensureOpen();
    let jwk: { kty?: string; n?: string; e?: string };
    try {
      const k = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
      jwk = k.export({ format: "jwk" }) as typeof jwk;
    } catch (err) {
      throw new CiopError("ERR_WRAPPING_KEY_INVALID", "the wrapping key is not a valid DER SubjectPublicKeyInfo", { cause: err });
    }
    if (jwk.kty !== "RSA" || !jwk.n || !jwk.e) {
      throw new CiopError("ERR_WRAPPING_KEY_INVALID", `the wrapping key is ${jwk.kty ?? "unknown"}, but only RSA public keys can wrap in the HSM`);
    }
    const n = Buffer.from(jwk.n, "base64url");
    const handle = this.createRsaPublicObject(n, Buffer.from(jwk.e!, "base64url"));
    return this.issue(this.issuedPubs, new HsmPublicKey(modulusBits(n), Uint8Array.from(spkiDer), handle));
  }

  private createRsaPublicObject(n: Buffer, e: Buffer): Handle {
    return call(
      "C_CreateObject",
      () =>
        this.p.C_CreateObject(this.objSession, [
          { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: false },
          { type: P.CKA_MODULUS, value: n },
          { type: P.CKA_PUBLIC_EXPONENT, value: e },
          { type: P.CKA_WRAP, value: true },
          { type: P.CKA_ENCRYPT, value: true },
          { type: P.CKA_VERIFY, value: false },
          { type: P.CKA_LABEL, value: "ciop-wrapping-key" },
        ]),
      "importing the wrapping key",
    );
  }

  /** Destroys an imported public key's session object. */
  releasePublicKey(pub: HsmPublicKey): void {
    if (!pub.handle || this.closed) return;
    const h = pub.handle;
    pub.handle = undefined;
    try {
      this.p.C_DestroyObject(this.objSession, h);
    } catch {
      /* session objects also vanish with the session */
    }
  }

  /** SubjectPublicKeyInfo (DER) of an RSA or EC key pair. */
  publicKeyOf(key: HsmKey): Uint8Array {
    this.ensureOpen();
    const spec = KEY_SPECS[key.type];
    if (spec.family === "rsa") {
      const src = this.publicHandle(key) ?? key.handle;
      const a = this.attrs(src, [P.CKA_MODULUS, P.CKA_PUBLIC_EXPONENT], "reading the RSA public key");
      const jwk = { kty: "RSA", n: a.get(P.CKA_MODULUS)!.toString("base64url"), e: a.get(P.CKA_PUBLIC_EXPONENT)!.toString("base64url") };
      return new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
    }
    if (spec.family === "ec") {
      const pub = this.publicHandle(key);
      if (!pub) throw new CiopError("ERR_KEY_NOT_FOUND", `the public half of EC key '${key.name}' is missing from the token (no CKO_PUBLIC_KEY with its CKA_ID)`);
      const a = this.attrs(pub, [P.CKA_EC_POINT], "reading the EC public key");
      const c = spec.curve!;
      const point = ecPointRaw(a.get(P.CKA_EC_POINT)!, c.size);
      if (point.length !== 1 + 2 * c.size || point[0] !== 0x04) throw new HsmError("ERR_HSM", `unexpected CKA_EC_POINT encoding for '${key.name}'`);
      const jwk = {
        kty: "EC",
        crv: c.name,
        x: Buffer.from(point.subarray(1, 1 + c.size)).toString("base64url"),
        y: Buffer.from(point.subarray(1 + c.size)).toString("base64url"),
      };
      return new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
    }
    throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is a ${key.type} secret key and has no public key`);
  }

  // ---------------------------------------------------------------- wraps

  /** In-HSM RSA-OAEP (same hash for OAEP and MGF1, empty label) of a secret key. */
  wrapRsaOaep(pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
    this.ensureOpen();
    this.requireSecret(key, "RSA-OAEP");
    this.requireEnabled(key, "wrapping");
    this.requireHash(hash);
    if (!this.caps.rsaOaepHashes.includes(hash)) throw this.oaepUnsupported(hash, "wrapRsaOaep");
    const bytes = this.wrapUnder(oaepMechanism(hash), this.pubHandle(pub), key, `wrapping '${key.name}' with ${oaepName(hash)}`, hash);
    return { bytes, hostFallback: false, mechanisms: [oaepName(hash)] };
  }

  /** In-HSM RSA PKCS#1 v1.5 of a secret key (legacy). */
  wrapRsaPkcs1(pub: HsmPublicKey, key: HsmKey): WrapOutcome {
    this.ensureOpen();
    this.requireSecret(key, "RSA PKCS#1 v1.5");
    this.requireEnabled(key, "wrapping");
    if (!this.caps.rsaPkcs1) {
      throw new CiopError("ERR_MECHANISM_UNSUPPORTED", `token '${this.token.label}' refuses C_WrapKey with CKM_RSA_PKCS; alternatives: wrapRsaOaep (${this.caps.rsaOaepHashes.join(", ") || "none"}) or wrapRsaAes`);
    }
    const bytes = this.wrapUnder({ mechanism: P.CKM_RSA_PKCS }, this.pubHandle(pub), key, `wrapping '${key.name}' with CKM_RSA_PKCS`);
    return { bytes, hostFallback: false, mechanisms: ["CKM_RSA_PKCS"] };
  }

  /**
   * CKM_RSA_AES_KEY_WRAP output: OAEP(hash)(ephemeral AES-256) ‖ RFC 5649 KWP(ephemeral, key), where
   * the KWP plaintext is the raw key (secret keys) or the exact PKCS#8 DER (private keys).
   * Composed inside the HSM when the token can; otherwise a host-side fallback (reported in the
   * outcome and as a "host-fallback" event) if {@link allowsHostFallback}, else ERR_HOST_FALLBACK_REFUSED.
   */
  wrapRsaAes(pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
    this.ensureOpen();
    this.requireHash(hash);
    const pubHandle = this.pubHandle(pub);
    this.requireEnabled(key, "wrapping");
    const kwp = this.caps.aesKeyWrapPadMechanism;
    const oaepInHsm = this.caps.rsaOaepHashes.includes(hash);
    const kwpExact = kwp !== null && !this.kwpWouldPad(key);

    // 1. All inside the HSM.
    if (kwpExact && oaepInHsm) {
      const eph = this.generateSessionAesKey(256);
      try {
        const wrappedKey = this.wrapUnder({ mechanism: kwp }, eph.handle, key, `wrapping '${key.name}' with ${kwpName(kwp)}`);
        const wrappedEph = this.wrapUnder(oaepMechanism(hash), pubHandle, eph, `wrapping the ephemeral key with ${oaepName(hash)}`, hash);
        return { bytes: concat(wrappedEph, wrappedKey), hostFallback: false, mechanisms: ["CKM_AES_KEY_GEN(session)", kwpName(kwp), oaepName(hash)] };
      } finally {
        this.destroySessionKey(eph);
      }
    }

    const why = kwp === null
      ? "the token has no working RFC 5649 key wrap (CKM_AES_KEY_WRAP_KWP 0x210B / CKM_AES_KEY_WRAP_PAD 0x210A)"
      : !kwpExact
        ? `the token zero-pads ${key.kind === "private" ? "PKCS#8" : `a ${KEY_SPECS[key.type].bytes}-byte key`} to a multiple of 8 before ${kwpName(kwp)}, so the unwrapped key would carry trailing zeros`
        : `the token refuses CKM_RSA_PKCS_OAEP with ${HASHES[hash].label} (it accepts: ${this.caps.rsaOaepHashes.join(", ") || "none"})`;

    // 2. Target stays in the HSM; only the ephemeral key is made and OAEP-encrypted on the host.
    if (kwpExact) {
      this.hostFallback("wrapRsaAes", key, `CKM_RSA_AES_KEY_WRAP with ${HASHES[hash].label}: ${why}`, "ephemeral-key", this.aesAlternatives(hash, key));
      const ephValue = randomBytes(32);
      let eph: Handle | undefined;
      try {
        eph = this.createSessionAes(ephValue, { wrap: true });
        const wrappedKey = this.wrapUnder({ mechanism: kwp! }, eph, key, `wrapping '${key.name}' with ${kwpName(kwp!)}`);
        const wrappedEph = hostOaep(pub.spki, hash, ephValue);
        return { bytes: concat(wrappedEph, wrappedKey), hostFallback: true, mechanisms: [kwpName(kwp!), `host:RSA-OAEP(${HASHES[hash].label})`] };
      } finally {
        zeroize(ephValue);
        if (eph) this.destroyHandle(eph);
      }
    }

    // 3. The target key itself has to come out (exact PKCS#8, or no KWP in the token).
    this.hostFallback("wrapRsaAes", key, `CKM_RSA_AES_KEY_WRAP with ${HASHES[hash].label}: ${why}`, "target-key", this.aesAlternatives(hash, key));
    const material = this.extractToHost(key);
    const ephValue = randomBytes(32);
    try {
      const wrappedKey = hostKwpWrap(ephValue, material);
      const wrappedEph = hostOaep(pub.spki, hash, ephValue);
      return { bytes: concat(wrappedEph, wrappedKey), hostFallback: true, mechanisms: [`${kwp === null ? "CKM_AES_KEY_WRAP" : kwpName(kwp)}(export)`, "host:AES-KWP", `host:RSA-OAEP(${HASHES[hash].label})`] };
    } finally {
      zeroize(material, ephValue);
    }
  }

  /** An extractable, sensitive session AES key (CKA_WRAP, CKA_ENCRYPT) for compositions. Destroy with {@link destroySessionKey}. */
  generateSessionAesKey(bits: 128 | 192 | 256 = 256): HsmKey {
    this.ensureOpen();
    const handle = call(
      "C_GenerateKey",
      () =>
        this.p.C_GenerateKey(this.objSession, { mechanism: P.CKM_AES_KEY_GEN }, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_VALUE_LEN, value: bits / 8 },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: true },
          { type: P.CKA_WRAP, value: true },
          { type: P.CKA_ENCRYPT, value: true },
          { type: P.CKA_DECRYPT, value: true },
        ]),
      "generating an ephemeral AES key",
    );
    return this.issue(this.issuedKeys, new HsmKey({ name: "ciop-ephemeral", type: `AES-${bits}` as KeyType, kind: "secret", id: "", createdByCiop: true, ephemeral: true, handle }));
  }

  /** Destroys a key made by {@link generateSessionAesKey}. */
  destroySessionKey(key: HsmKey): void {
    if (!key.ephemeral) throw new CiopError("ERR_USAGE", `destroySessionKey only destroys ephemeral session keys; use deleteKey('${key.name}')`);
    this.destroyHandle(key.handle);
  }

  /**
   * A session-object copy of a token AES key (C_CopyObject with CKA_TOKEN false): the same value
   * and attributes, still inside the HSM, still sensitive and non-extractable when the original is.
   * Software tokens such as SoftHSM re-read a token object's file on every use and not a session
   * object's, so a hot path that re-checks the original's state itself (as the XKS proxy does, on a
   * short TTL) can run on the copy at about twice the rate. The copy does not follow later changes
   * of the original (disable, delete): the caller must drop it when the original changes. Destroy
   * it with {@link destroySessionKey}; it also disappears with the PKCS#11 context.
   */
  sessionCopy(key: HsmKey): HsmKey {
    this.ensureOpen();
    this.requireAes(key);
    if (key.ephemeral) throw new CiopError("ERR_USAGE", "sessionCopy copies token keys; this key is already a session key");
    const handle = this.withHandle(key, (h) =>
      call("C_CopyObject", () => this.p.C_CopyObject(this.objSession, h, [{ type: P.CKA_TOKEN, value: false }]), `making a session copy of '${key.name}'`),
    );
    return this.issue(this.issuedKeys, new HsmKey({ name: key.name, type: key.type, kind: key.kind, id: key.id, createdByCiop: key.createdByCiop, ephemeral: true, handle }));
  }

  /** Low-level C_WrapKey for compositions in @ciop/wrap. */
  wrapKey(mechanism: WrapMechanism, wrappingKey: HsmKey | HsmPublicKey, key: HsmKey): Uint8Array {
    this.ensureOpen();
    const wh = wrappingKey instanceof HsmPublicKey ? this.pubHandle(wrappingKey) : wrappingKey.handle;
    this.requireEnabled(key, "wrapping");
    return this.wrapUnder(mechanism, wh, key, `wrapping '${key.name}' with mechanism 0x${mechanism.mechanism.toString(16)}`);
  }

  /**
   * THE single choke point for host-side fallback: returns the key's raw bytes (secret keys) or exact
   * PKCS#8 DER (private keys) in host memory. Refused (ERR_HOST_FALLBACK_REFUSED) unless
   * {@link allowsHostFallback}. Every use is recorded and emitted as "host-fallback". The caller must
   * zeroize the returned buffer.
   */
  async exportKeyToHost(key: HsmKey, reason: string): Promise<Buffer> {
    this.ensureOpen();
    this.requireEnabled(key, "exporting");
    this.hostFallback("exportKeyToHost", key, reason, "target-key", ["keep the operation inside the HSM (see capabilities())"]);
    return this.extractToHost(key);
  }

  /** C_DigestKey: hash of a secret key's value (a key check value; never the value). */
  digestKey(key: HsmKey, hash: HashName): Uint8Array {
    this.ensureOpen();
    this.requireHash(hash);
    return this.withHandle(key, (h) =>
      this.onOpSession("C_DigestKey", `digesting '${key.name}'`, (s) => {
        this.p.C_DigestInit(s, { mechanism: HASHES[hash].mech });
        this.p.C_DigestKey(s, h);
        return new Uint8Array(this.p.C_DigestFinal(s, Buffer.alloc(64)));
      }),
    );
  }

  /** HMAC of `data` with a generic-secret key (C_Sign with CKM_SHA*_HMAC). */
  signHmac(key: HsmKey, hash: HashName, data: Uint8Array): Uint8Array {
    this.ensureOpen();
    this.requireHash(hash);
    if (KEY_SPECS[key.type].family !== "hmac") throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is ${key.type}, not an HMAC key`);
    return this.withHandle(key, (h) => {
      call("C_SignInit", () => this.p.C_SignInit(this.opSession, { mechanism: HASHES[hash].hmac }, h), `using key '${key.name}'`, DISABLED);
      return this.onOpSession("C_Sign", `HMAC with '${key.name}'`, (s) => new Uint8Array(this.p.C_Sign(s, Buffer.from(data), Buffer.alloc(64))));
    });
  }

  /** AES-GCM encryption in the HSM (128-bit tag). Returns ciphertext ‖ tag. */
  encryptAesGcm(key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
    this.ensureOpen();
    this.requireAes(key);
    const refusal = gcmEncryptRefusal(iv, plaintext);
    if (refusal) throw refusal;
    const { mech, data: pt } = gcmInput(iv, aad, plaintext);
    return this.withHandle(key, (h) => {
      call("C_EncryptInit", () => this.p.C_EncryptInit(this.opSession, mech, h), `using key '${key.name}'`, DISABLED);
      return this.onOpSession("C_Encrypt", `encrypting with '${key.name}'`, (s) => this.p.C_Encrypt(s, pt, Buffer.alloc(pt.length + 16)));
    });
  }

  /** AES-GCM decryption in the HSM. A bad tag, AAD or IV gives ERR_DECRYPTION_FAILED (fixed message). */
  decryptAesGcm(key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad?: Uint8Array): Buffer {
    this.ensureOpen();
    this.requireAes(key);
    const refusal = gcmDecryptRefusal(iv, ctAndTag);
    if (refusal) throw refusal;
    const { mech, data: ct } = gcmInput(iv, aad, ctAndTag);
    return this.withHandle(key, (h) => {
      call("C_DecryptInit", () => this.p.C_DecryptInit(this.opSession, mech, h), `using key '${key.name}'`, DISABLED);
      try {
        return this.p.C_Decrypt(this.opSession, ct, Buffer.alloc(ct.length));
      } catch (err) {
        this.resetOpSession();
        if (isCkr(err, ...GCM_AUTH_FAILURES)) {
          throw new HsmError("ERR_DECRYPTION_FAILED", "decryption failed");
        }
        throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
      }
    });
  }

  /**
   * {@link encryptAesGcm} on a pooled session with pkcs11js's async call (libuv threadpool): the
   * event loop stays free and up to `sessionPoolSize` operations run at once. For 32-byte messages
   * the threadpool hop costs more than it saves (see bench/hsm); use it when the caller must not block.
   */
  encryptAesGcmAsync(key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Buffer> {
    this.ensureOpen();
    this.requireAes(key);
    const refusal = gcmEncryptRefusal(iv, plaintext);
    if (refusal) return Promise.reject(refusal);
    const { mech, data: pt } = gcmInput(iv, aad, plaintext);
    return this.track(
      this.withHandleAsync(key, (h) =>
        this.onPooledSession(async (s) => {
          call("C_EncryptInit", () => this.p.C_EncryptInit(s, mech, h), `using key '${key.name}'`, DISABLED);
          const out = Buffer.alloc(pt.length + 16);
          const res = this.caps.asyncCalls
            ? await callAsync("C_Encrypt", () => this.p.C_EncryptAsync(s, pt, out), `encrypting with '${key.name}'`, DISABLED)
            : call("C_Encrypt", () => this.p.C_Encrypt(s, pt, out), `encrypting with '${key.name}'`, DISABLED);
          return res;
        }),
      ),
    );
  }

  /** {@link decryptAesGcm} on a pooled session with pkcs11js's async call. */
  decryptAesGcmAsync(key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad?: Uint8Array): Promise<Buffer> {
    this.ensureOpen();
    this.requireAes(key);
    const refusal = gcmDecryptRefusal(iv, ctAndTag);
    if (refusal) return Promise.reject(refusal);
    const { mech, data: ct } = gcmInput(iv, aad, ctAndTag);
    return this.track(
      this.withHandleAsync(key, (h) =>
        this.onPooledSession(async (s) => {
          call("C_DecryptInit", () => this.p.C_DecryptInit(s, mech, h), `using key '${key.name}'`, DISABLED);
          const out = Buffer.alloc(ct.length);
          try {
            // a view of `out` (no second copy of the plaintext left behind)
            return this.caps.asyncCalls ? await this.p.C_DecryptAsync(s, ct, out) : this.p.C_Decrypt(s, ct, out);
          } catch (err) {
            if (isCkr(err, ...GCM_AUTH_FAILURES)) throw new HsmError("ERR_DECRYPTION_FAILED", "decryption failed");
            throw toHsmError(err, "C_Decrypt", `decrypting with '${key.name}'`);
          }
        }),
      ),
    );
  }

  /** Closes every session and, with the last Hsm of the process, finalises the library. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    this.closed = true;
    for (const s of [this.opSession, this.objSession, ...this.idle]) {
      try {
        this.p.C_CloseSession(s);
      } catch {
        /* already closed */
      }
    }
    this.idle.length = 0;
    for (const w of this.waiters.splice(0)) w.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
    this.cache.clear();
    this.releaseLogin();
    zeroize(this.pinBuf);
    this.pinBuf = undefined;
    releaseLibrary(this.lib);
  }

  // ================================================================ internals

  private ensureOpen(): void {
    if (this.closed) throw new CiopError("ERR_USAGE", "this Hsm has been closed");
  }

  private spec(type: KeyType): KeySpec {
    const s = keySpec(type);
    if (!s) throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `unknown key type '${String(type)}'; supported: ${Object.keys(KEY_SPECS).join(", ")}`);
    return s;
  }

  /** The token's KWP would add zero bytes to this key's plaintext (SoftHSM 2.6.1). */
  private kwpWouldPad(key: HsmKey): boolean {
    if (key.kind === "private") return this.caps.kwpPadsPrivateKeys && !this.pkcs8WrapsExactly(key.type);
    return this.caps.kwpPadsSecretKeys && (KEY_SPECS[key.type].bytes ?? 0) % 8 !== 0;
  }

  /**
   * A token that zero-pads PKCS#8 before KWP adds nothing when the length is already a multiple of
   * 8. For EC keys that length is fixed per curve (the scalar is encoded at full size), so it is
   * probed once per curve on a throw-away session key pair (SoftHSM 2.6.1: exact for P-384 and
   * secp256k1). RSA PKCS#8 length varies from key to key, so key pairs other than EC keep the host path.
   */
  private pkcs8WrapsExactly(type: KeyType): boolean {
    const known = this.pkcs8KwpExact.get(type);
    if (known !== undefined) return known;
    const spec = KEY_SPECS[type];
    const kwp = this.caps.aesKeyWrapPadMechanism;
    const exact = spec.family === "ec" && kwp !== null && probeEcPkcs8KwpExact(this.p, this.objSession, kwp, Buffer.from(spec.curve!.params, "hex"), spec.curve!.size);
    this.pkcs8KwpExact.set(type, exact);
    return exact;
  }

  private requireHash(hash: HashName): void {
    if (!isHashName(hash)) throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `unknown hash '${String(hash)}'; supported: sha1, sha256, sha384, sha512`);
  }

  private requireSecret(key: HsmKey, what: string): void {
    if (key.kind !== "secret") {
      throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `${what} can wrap only secret keys (AES/HMAC), and '${key.name}' is ${key.type}; use wrapRsaAes for key pairs`);
    }
  }

  /**
   * Wrapping is governed by CKA_EXTRACTABLE, which a token only lets you clear for good, so the HSM
   * cannot refuse to wrap a disabled key; ciop refuses it here instead (one attribute read).
   */
  private requireEnabled(key: HsmKey, what: string): void {
    if (key.ephemeral) return;
    if (!this.keyInfo(key).enabled) {
      throw new CiopError("ERR_KEY_DISABLED", `key '${key.name}' is disabled; ${what} it is refused until it is enabled again`);
    }
  }

  private requireAes(key: HsmKey): void {
    if (KEY_SPECS[key.type].family !== "aes") throw new CiopError("ERR_KEY_TYPE_MISMATCH", `'${key.name}' is ${key.type}, not an AES key`);
  }

  private pubHandle(pub: HsmPublicKey): Handle {
    if (!pub.handle) throw new CiopError("ERR_USAGE", "this public key has been released");
    return pub.handle;
  }

  private openSession(): Handle {
    return call("C_OpenSession", () => this.p.C_OpenSession(this.slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION));
  }

  /**
   * Logs in once per token and thread: the first Hsm on a token calls C_Login, later ones share that
   * login but must present the same PIN (compared as keyed digests, in constant time).
   */
  private login(pin: string): void {
    const slotKey = this.slot.toString("hex");
    const digest = createHmac("sha256", PIN_DIGEST_KEY).update(slotKey).update("\0").update(pin).digest();
    const held = this.lib.logins.get(slotKey);
    if (held) {
      if (!timingSafeEqual(held.pinDigest, digest)) {
        throw new HsmError(
          "ERR_PIN_INCORRECT",
          `token '${this.token.label}' is already logged in by this process with a different PIN; the PIN given now was not accepted`,
          { fn: "C_Login" },
        );
      }
      held.refs++;
      this.loginShare = true;
      return;
    }
    try {
      this.p.C_Login(this.objSession, P.CKU_USER, pin);
    } catch (err) {
      // Logged in by someone else in this process (another worker thread, or a raw pkcs11js user):
      // the token does not check the PIN again, and neither can we.
      if (!isCkr(err, "CKR_USER_ALREADY_LOGGED_IN")) throw toHsmError(err, "C_Login", `logging in to token '${this.token.label}'`);
    }
    this.lib.logins.set(slotKey, { pinDigest: digest, refs: 1 });
    this.loginShare = true;
  }

  private releaseLogin(): void {
    if (!this.loginShare) return;
    this.loginShare = false;
    const slotKey = this.slot.toString("hex");
    const held = this.lib.logins.get(slotKey);
    if (held && --held.refs <= 0) this.lib.logins.delete(slotKey);
  }

  private async acquireSession(): Promise<Handle> {
    const s = this.idle.pop();
    if (s) return s;
    if (this.poolOpen < this.poolSize) {
      this.poolOpen++;
      return this.openSession();
    }
    return new Promise<Handle>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Closes a pooled session that may hold an active operation, and hands a fresh one to a waiter. */
  private dropSession(s: Handle): void {
    try {
      this.p.C_CloseSession(s);
    } catch {
      /* ignore */
    }
    this.poolOpen--;
    const w = this.waiters.shift();
    if (!w) return;
    if (this.closed) {
      w.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
      return;
    }
    try {
      this.poolOpen++;
      w.resolve(this.openSession());
    } catch (err) {
      this.poolOpen--;
      w.reject(err);
    }
  }

  /** Runs `f` on a pooled session; a failure drops the session (SoftHSM can leave an operation active). */
  private async onPooledSession<T>(f: (s: Handle) => Promise<T>): Promise<T> {
    const s = await this.acquireSession();
    let ok = false;
    try {
      const r = await f(s);
      ok = true;
      return r;
    } finally {
      if (ok) this.releaseSession(s);
      else this.dropSession(s);
    }
  }

  private releaseSession(s: Handle): void {
    if (this.closed) {
      try {
        this.p.C_CloseSession(s);
      } catch {
        /* ignore */
      }
      return;
    }
    const w = this.waiters.shift();
    if (w) w.resolve(s);
    else this.idle.push(s);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    const done = () => this.inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  private resetOpSession(): void {
    try {
      this.p.C_CloseSession(this.opSession);
    } catch {
      /* ignore */
    }
    this.opSession = this.openSession();
  }

  /** Runs an operation on the op session; any failure drops that session (SoftHSM leaves ops active). */
  private onOpSession<T>(fn: string, context: string, f: (s: Handle) => T): T {
    try {
      return f(this.opSession);
    } catch (err) {
      this.resetOpSession();
      throw toHsmError(err, fn, context, DISABLED);
    }
  }

  /** Runs `f` with the key's handle; on a stale handle, re-finds the key by CKA_ID once and retries. */
  private withHandle<T>(key: HsmKey, f: (h: Handle) => T): T {
    try {
      return f(key.handle);
    } catch (err) {
      if (key.ephemeral || !isCkr(err, "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID")) throw err;
      this.refind(key, err);
      try {
        return f(key.handle);
      } catch (again) {
        throw this.refusedAfterRefind(key, again);
      }
    }
  }

  /** Async flavour of {@link withHandle}. */
  private async withHandleAsync<T>(key: HsmKey, f: (h: Handle) => Promise<T>): Promise<T> {
    try {
      return await f(key.handle);
    } catch (err) {
      if (key.ephemeral || !isCkr(err, "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID")) throw err;
      this.refind(key, err);
      try {
        return await f(key.handle);
      } catch (again) {
        throw this.refusedAfterRefind(key, again);
      }
    }
  }

  /** A key the search has just found whose fresh handle is refused as well: the token is misbehaving, the key is there. */
  private refusedAfterRefind(key: HsmKey, err: unknown): unknown {
    if (!isCkr(err, "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID")) return err;
    const e = toHsmError(err, "C_FindObjects");
    return new HsmError("ERR_HSM", `key '${key.name}' was found on token '${this.token.label}' but the token refused its handle again (${e.ckr}); retry later`, {
      cause: err,
      ckr: e.ckr,
      ckrCode: e.ckrCode,
      fn: e.fn,
      unavailable: true,
    });
  }

  /**
   * Called before an empty search result becomes "no such key": checks that the answer can be
   * trusted, else throws an {@link HsmError} with `unavailable` set. An empty result is not
   * trusted when this process has no file descriptor left (a library that cannot open its files
   * may answer "nothing found": SoftHSM's file store does), when the login session no longer
   * answers, or when the token, which showed keys to this context before, now shows no token
   * object at all (SoftHSM keeps answering that way after it once failed to read its files).
   */
  private confirmAbsent(what: string): void {
    try {
      closeSync(openSync("/dev/null", "r"));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EMFILE" || code === "ENFILE") {
        throw new HsmError("ERR_HSM", `cannot tell whether ${what} exists on token '${this.token.label}': this process has no file descriptor left (${code}); retry later`, {
          cause: err,
          unavailable: true,
        });
      }
    }
    const unavailable = (err: unknown): HsmError => {
      const e = toHsmError(err, "C_GetSessionInfo");
      return new HsmError("ERR_HSM", `cannot tell whether ${what} exists on token '${this.token.label}': ${e.message}`, { cause: err, ckr: e.ckr, ckrCode: e.ckrCode, fn: e.fn, unavailable: true });
    };
    try {
      this.p.C_GetSessionInfo(this.objSession);
    } catch (err) {
      throw unavailable(err);
    }
    if (!this.sawTokenKeys) return;
    let any: Handle[];
    try {
      any = this.find([{ type: P.CKA_TOKEN, value: true }], 1);
    } catch (err) {
      throw unavailable(err);
    }
    if (any.length === 0) {
      throw new HsmError("ERR_HSM", `cannot tell whether ${what} exists on token '${this.token.label}': the token, which showed keys before, now shows no object at all; retry later`, {
        unavailable: true,
      });
    }
  }

  /** Re-finds a token key by CKA_ID after its handle went stale (updates `key.handle`). */
  private refind(key: HsmKey, cause: unknown): void {
    const klass = key.kind === "secret" ? P.CKO_SECRET_KEY : P.CKO_PRIVATE_KEY;
    const template = [{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_ID, value: Buffer.from(key.id, "hex") }, { type: P.CKA_TOKEN, value: true }];
    // SoftHSM rewrites an object file in place, so a search that races another process's attribute
    // write can miss the object once: look twice before calling the key gone.
    let found = this.find(template);
    if (found.length === 0) found = this.find(template);
    if (found.length === 0) {
      this.confirmAbsent(`key '${key.name}'`);
      this.cache.delete(key.name);
      throw new CiopError("ERR_KEY_NOT_FOUND", `key '${key.name}' no longer exists on token '${this.token.label}'`, { cause });
    }
    this.sawTokenKeys = true;
    key.handle = found[0]!;
    key.publicHandle = undefined;
  }

  /** Handles of the objects matching `template` (at most `max`). */
  private find(template: pkcs11js.Template, max = Infinity): Handle[] {
    const s = this.objSession;
    return call("C_FindObjects", () => {
      this.p.C_FindObjectsInit(s, template);
      try {
        const out: Handle[] = [];
        for (;;) {
          const want = Math.min(64, max - out.length);
          const batch = this.p.C_FindObjects(s, want);
          out.push(...batch);
          if (batch.length < want || out.length >= max) return out;
        }
      } finally {
        this.p.C_FindObjectsFinal(s);
      }
    });
  }

  private attrs(h: Handle, types: number[], context: string): Map<number, Buffer> {
    const res = call("C_GetAttributeValue", () => this.p.C_GetAttributeValue(this.objSession, h, types.map((type) => ({ type }))), context);
    return new Map(res.map((a) => [a.type, a.value]));
  }

  private setAttrs(h: Handle, template: pkcs11js.Template, context: string): void {
    call("C_SetAttributeValue", () => this.p.C_SetAttributeValue(this.objSession, h, template), context);
  }

  /** Fresh lookup of `name` on the token (updates the cache). */
  private lookup(name: string): HsmKey | undefined {
    const keys: HsmKey[] = [];
    for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
      for (const h of this.find([{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_LABEL, value: name }, { type: P.CKA_TOKEN, value: true }])) {
        const k = this.describe(h, klass, true);
        if (k) keys.push(k);
      }
    }
    if (keys.length === 0) {
      this.confirmAbsent(`key '${name}'`);
      this.cache.delete(name);
      return undefined;
    }
    this.sawTokenKeys = true;
    keys.sort((a, b) => Number(b.createdByCiop) - Number(a.createdByCiop) || a.id.localeCompare(b.id));
    const key = keys[0]!;
    this.cache.set(name, key);
    return key;
  }

  /** Builds an HsmKey from an object; undefined for types ciop does not handle (throws if `strict`). */
  private describe(h: Handle, klass: number, strict = false): HsmKey | undefined {
    // a secret key's length comes in the same read; a private key's size attribute depends on its type
    const secret = klass === P.CKO_SECRET_KEY;
    const a = this.attrs(h, secret ? [P.CKA_KEY_TYPE, P.CKA_ID, P.CKA_LABEL, P.CKA_VALUE_LEN] : [P.CKA_KEY_TYPE, P.CKA_ID, P.CKA_LABEL], "reading key attributes");
    const keyType = ulong(a.get(P.CKA_KEY_TYPE)!);
    const id = a.get(P.CKA_ID) ?? Buffer.alloc(0);
    const name = (a.get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString("utf8");
    let type: KeyType | undefined;
    if (secret) {
      const len = ulong(a.get(P.CKA_VALUE_LEN)!);
      if (keyType === P.CKK_AES) type = keyTypeFrom("aes", len);
      else if (keyType === P.CKK_GENERIC_SECRET || [P.CKK_SHA_1_HMAC, P.CKK_SHA256_HMAC, P.CKK_SHA384_HMAC, P.CKK_SHA512_HMAC, P.CKK_SHA224_HMAC].includes(keyType)) {
        type = keyTypeFrom("hmac", len);
      }
    } else if (keyType === P.CKK_RSA) {
      type = keyTypeFrom("rsa", modulusBits(this.attrs(h, [P.CKA_MODULUS], "reading CKA_MODULUS").get(P.CKA_MODULUS)!));
    } else if (keyType === P.CKK_EC) {
      type = keyTypeFrom("ec", this.attrs(h, [P.CKA_EC_PARAMS], "reading CKA_EC_PARAMS").get(P.CKA_EC_PARAMS)!.toString("hex"));
    }
    if (!type) {
      if (strict) throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `key '${name}' exists on the token but its type (CKK 0x${keyType.toString(16)}) is not one ciop handles`);
      return undefined;
    }
    return this.issue(this.issuedKeys, new HsmKey({ name, type, kind: KEY_SPECS[type].kind, id: id.toString("hex"), createdByCiop: isCiopId(id), handle: h }));
  }

  private publicHandle(key: HsmKey): Handle | undefined {
    if (key.kind !== "private") return undefined;
    if (key.publicHandle) return key.publicHandle;
    const found = this.find([{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }, { type: P.CKA_ID, value: Buffer.from(key.id, "hex") }]);
    key.publicHandle = found[0];
    return key.publicHandle;
  }

  private checkReusable(key: HsmKey, type: KeyType): HsmKey {
    if (!key.createdByCiop) {
      throw new CiopError("ERR_KEY_NOT_CIOP", `a key named '${key.name}' exists on token '${this.token.label}' but ciop did not create it (its CKA_ID lacks the ciop marker); choose another name`);
    }
    if (key.type !== type) {
      throw new CiopError("ERR_KEY_TYPE_MISMATCH", `key '${key.name}' exists as ${key.type}, not ${type}`);
    }
    return key;
  }

  private lockPathFor(name: string): string {
    const h = createHash("sha256").update(`${this.token.libraryPath}\0${this.token.serial}\0${name}`).digest("hex").slice(0, 40);
    return path.join(this.lockDir, `key-${h}.lock`);
  }

  private withNameLock<T>(name: string, f: () => Promise<T>): Promise<T> {
    return this.track(withFileLock(this.lockPathFor(name), f));
  }

  /**
   * Creates the token objects of a new key. SoftHSM's file store occasionally fails an object write
   * (CKR_GENERAL_ERROR) while other processes write to the same token; such an attempt is cleaned up
   * (its CKA_ID is unique) and retried, up to three attempts.
   */
  private async createKey(name: string, spec: KeySpec, options: GenerateKeyOptions): Promise<HsmKey> {
    for (let attempt = 1; ; attempt++) {
      const id = newKeyId();
      try {
        return await this.createKeyOnce(name, spec, options, id);
      } catch (err) {
        if (attempt >= 3 || this.closed || !isCkr(err, "CKR_GENERAL_ERROR", "CKR_OBJECT_HANDLE_INVALID", "CKR_DEVICE_ERROR")) throw err;
        try {
          this.destroyById(name, id);
        } catch {
          /* nothing was left behind */
        }
        // SoftHSM marks the whole token invalid, for the rest of the process, when it indexes the token
        // while another process is rewriting token.object (every login does); from then on every
        // object creation fails with CKR_GENERAL_ERROR. Only a fresh C_Initialize clears that.
        if (isCkr(err, "CKR_GENERAL_ERROR")) this.recoverLibrary();
        await new Promise((r) => setTimeout(r, 25 * attempt + Math.floor(Math.random() * 50)));
      }
    }
  }

  /** Remembers an issued key/public key (weakly) so {@link recoverLibrary} can fix its handle. */
  private issue<T extends object>(set: Set<WeakRef<T>>, obj: T): T {
    if (set.size > 4096) for (const r of set) if (!r.deref()) set.delete(r);
    set.add(new WeakRef(obj));
    return obj;
  }

  /**
   * Finalises and re-initialises the PKCS#11 library, then reopens sessions and logs in again, when
   * this Hsm is the library's only user in this thread and no pooled session is busy. Handles of keys
   * handed out before are set to an invalid handle, so their next use re-finds them by CKA_ID (a
   * stale number could otherwise name another object); imported public keys are imported again.
   * Session keys (ephemeral) are gone. Returns false when it could not run.
   */
  private recoverLibrary(): boolean {
    const lib = this.lib;
    if (this.closed || !this.pinBuf || !isSoftHsmLibrary(this.token.libraryPath) || !lib.initializedByUs || lib.refs !== 1 || lib.logins.size > 1) return false;
    if (this.poolOpen - this.idle.length !== 0 || this.waiters.length > 0) return false;
    const oldSlotKey = this.slot.toString("hex");
    try {
      this.p.C_Finalize();
    } catch {
      /* continue: initialise afresh */
    }
    this.idle.length = 0;
    this.poolOpen = 0;
    call("C_Initialize", () => this.p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK }), "restarting the library");
    this.slot = selectToken(this.p, this.token.serial).slot;
    this.objSession = this.openSession();
    this.opSession = this.openSession();
    const pin = this.pinBuf.toString("utf8");
    call("C_Login", () => this.p.C_Login(this.objSession, P.CKU_USER, pin), `logging in to token '${this.token.label}' again`);
    const held = lib.logins.get(oldSlotKey);
    if (held) {
      lib.logins.delete(oldSlotKey);
      lib.logins.set(this.slot.toString("hex"), held);
    }
    for (const ref of this.issuedKeys) {
      const k = ref.deref();
      if (!k) {
        this.issuedKeys.delete(ref);
        continue;
      }
      k.handle = Buffer.alloc(8); // CK_INVALID_HANDLE
      k.publicHandle = undefined;
    }
    for (const ref of this.issuedPubs) {
      const pub = ref.deref();
      if (!pub) {
        this.issuedPubs.delete(ref);
        continue;
      }
      if (!pub.handle) continue;
      const jwk = createPublicKey({ key: Buffer.from(pub.spki), format: "der", type: "spki" }).export({ format: "jwk" }) as { n: string; e: string };
      pub.handle = this.createRsaPublicObject(Buffer.from(jwk.n, "base64url"), Buffer.from(jwk.e, "base64url"));
    }
    this.cache.clear();
    return true;
  }

  private async createKeyOnce(name: string, spec: KeySpec, options: GenerateKeyOptions, id: Buffer): Promise<HsmKey> {
    const extractable = options.extractable ?? true;
    const common: pkcs11js.Template = [
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_LABEL, value: name },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_MODIFIABLE, value: true },
    ];
    const secretAttrs: pkcs11js.Template = [
      ...common,
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: extractable },
    ];
    const session = await this.acquireSession();
    try {
      const ctx = `generating ${spec.type} key '${name}'`;
      if (spec.family === "aes" || spec.family === "hmac") {
        const aes = spec.family === "aes";
        const handle = await callAsync(
          "C_GenerateKey",
          () =>
            this.generateKeyCall(session, { mechanism: aes ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN }, [
              { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
              { type: P.CKA_KEY_TYPE, value: aes ? P.CKK_AES : P.CKK_GENERIC_SECRET },
              { type: P.CKA_VALUE_LEN, value: spec.bytes! },
              ...secretAttrs,
              ...USAGE[spec.family].key.map((type) => ({ type, value: true })),
              { type: P.CKA_WRAP, value: false },
              { type: P.CKA_UNWRAP, value: false },
              { type: P.CKA_DERIVE, value: false },
            ]),
          ctx,
        );
        const key = this.issue(this.issuedKeys, new HsmKey({ name, type: spec.type, kind: "secret", id: id.toString("hex"), createdByCiop: true, handle }));
        this.cache.set(name, key);
        this.sawTokenKeys = true;
        return key;
      }
      const rsa = spec.family === "rsa";
      const pubTemplate: pkcs11js.Template = [
        { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
        { type: P.CKA_KEY_TYPE, value: rsa ? P.CKK_RSA : P.CKK_EC },
        ...common,
        { type: P.CKA_PRIVATE, value: false },
        ...(rsa
          ? [
              { type: P.CKA_MODULUS_BITS, value: spec.bits! },
              { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
            ]
          : [{ type: P.CKA_EC_PARAMS, value: Buffer.from(spec.curve!.params, "hex") }]),
        ...USAGE[spec.family].pub.map((type) => ({ type, value: true })),
        { type: P.CKA_WRAP, value: false },
      ];
      const privTemplate: pkcs11js.Template = [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: rsa ? P.CKK_RSA : P.CKK_EC },
        ...secretAttrs,
        ...USAGE[spec.family].key.map((type) => ({ type, value: true })),
        { type: P.CKA_UNWRAP, value: false },
        { type: P.CKA_DERIVE, value: false },
      ];
      const pair = await callAsync(
        "C_GenerateKeyPair",
        () => this.generateKeyPairCall(session, { mechanism: rsa ? P.CKM_RSA_PKCS_KEY_PAIR_GEN : P.CKM_EC_KEY_PAIR_GEN }, pubTemplate, privTemplate),
        ctx,
      );
      const key = this.issue(
        this.issuedKeys,
        new HsmKey({ name, type: spec.type, kind: "private", id: id.toString("hex"), createdByCiop: true, handle: pair.privateKey, publicHandle: pair.publicKey }),
      );
      this.cache.set(name, key);
      this.sawTokenKeys = true;
      return key;
    } finally {
      this.releaseSession(session);
    }
  }

  /**
   * Key generation off the event loop (pkcs11js async = libuv threadpool) when the library was
   * initialised with OS locking; otherwise the sync call (async without locking corrupts SoftHSM).
   */
  private generateKeyCall(s: Handle, m: pkcs11js.Mechanism, t: pkcs11js.Template): Promise<Handle> {
    return this.caps.asyncCalls ? this.p.C_GenerateKeyAsync(s, m, t) : Promise.resolve().then(() => this.p.C_GenerateKey(s, m, t));
  }

  private generateKeyPairCall(s: Handle, m: pkcs11js.Mechanism, pub: pkcs11js.Template, priv: pkcs11js.Template): Promise<pkcs11js.KeyPair> {
    return this.caps.asyncCalls ? this.p.C_GenerateKeyPairAsync(s, m, pub, priv) : Promise.resolve().then(() => this.p.C_GenerateKeyPair(s, m, pub, priv));
  }

  /**
   * Second guard after the lock: if two ciop keys now carry `name` (e.g. processes on two machines
   * sharing a token), the earliest CKA_ID wins and the later creator destroys its own key.
   */
  private settleDuplicates(name: string, mine: HsmKey): HsmKey {
    const all: HsmKey[] = [];
    for (const klass of [P.CKO_SECRET_KEY, P.CKO_PRIVATE_KEY]) {
      for (const h of this.find([{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_LABEL, value: name }, { type: P.CKA_TOKEN, value: true }])) {
        const k = this.describe(h, klass);
        if (k?.createdByCiop) all.push(k);
      }
    }
    if (all.length <= 1) return mine;
    all.sort((a, b) => a.id.localeCompare(b.id));
    const winner = all[0]!;
    if (winner.id === mine.id) return mine;
    this.destroyById(name, Buffer.from(mine.id, "hex"));
    this.cache.set(name, winner);
    return winner;
  }

  private destroyById(name: string, id: Buffer): void {
    for (const h of this.find([{ type: P.CKA_ID, value: id }, { type: P.CKA_LABEL, value: name }])) {
      call("C_DestroyObject", () => this.p.C_DestroyObject(this.objSession, h), `deleting key '${name}'`);
    }
  }

  private destroyHandle(h: Handle): void {
    try {
      this.p.C_DestroyObject(this.objSession, h);
    } catch {
      /* session objects also vanish with the session */
    }
  }

  private createSessionAes(value: Buffer, usage: { wrap?: boolean; unwrap?: boolean }): Handle {
    return call(
      "C_CreateObject",
      () =>
        this.p.C_CreateObject(this.objSession, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: false },
          { type: P.CKA_VALUE, value: value },
          { type: P.CKA_WRAP, value: usage.wrap ?? false },
          { type: P.CKA_UNWRAP, value: usage.unwrap ?? false },
        ]),
      "importing an ephemeral key-encryption key",
    );
  }

  private wrapUnder(mechanism: pkcs11js.Mechanism, wrappingHandle: Handle, key: HsmKey, context: string, oaepHash?: HashName): Uint8Array {
    try {
      return this.withHandle(key, (h) => new Uint8Array(this.p.C_WrapKey(this.objSession, mechanism, wrappingHandle, h, Buffer.alloc(WRAP_BUFFER))));
    } catch (err) {
      if (oaepHash && isCkr(err, "CKR_ARGUMENTS_BAD", "CKR_MECHANISM_INVALID", "CKR_MECHANISM_PARAM_INVALID")) throw this.oaepUnsupported(oaepHash, "wrapRsaOaep", err);
      throw toHsmError(err, "C_WrapKey", context);
    }
  }

  private oaepUnsupported(hash: HashName, op: string, cause?: unknown): CiopError {
    const h = HASHES[hash];
    const ok = this.caps.rsaOaepHashes;
    const alternatives = [
      ok.length > 0 ? `OAEP with ${ok.join("/")} (in the HSM)` : undefined,
      `wrapRsaAes with ${ok[0] ?? "sha1"} if the provider accepts RSA-AES key wrap`,
      this.allowsHostFallback()
        ? "a host-side wrap through exportKeyToHost (allowed: software token)"
        : "a host-side wrap through exportKeyToHost (needs allowHostFallback / --allow-host-fallback)",
    ].filter(Boolean);
    return new CiopError(
      "ERR_MECHANISM_UNSUPPORTED",
      `${op}: token '${this.token.label}' (${this.token.manufacturer} ${this.token.model}) refuses C_WrapKey with CKM_RSA_PKCS_OAEP ` +
        `(hashAlg=${h.mechName}, mgf=${h.mgfName}, source=CKZ_DATA_SPECIFIED, no label); it accepts OAEP with: ${ok.join(", ") || "none"}. ` +
        `Alternatives: ${alternatives.join("; ")}`,
      { cause, details: { mechanism: "CKM_RSA_PKCS_OAEP", hash, supportedHashes: ok } },
    );
  }

  private aesAlternatives(hash: HashName, key: HsmKey): string[] {
    const out: string[] = [];
    if (!this.caps.rsaOaepHashes.includes(hash) && this.caps.rsaOaepHashes.length > 0) out.push(`use OAEP ${this.caps.rsaOaepHashes.join("/")} (fully in the HSM${this.kwpWouldPad(key) ? ", but not for this key" : ""})`);
    out.push("use an HSM whose PKCS#11 library implements CKM_RSA_AES_KEY_WRAP / exact RFC 5649 for PKCS#8");
    out.push("pass allowHostFallback (--allow-host-fallback) to accept the host-side step");
    return out;
  }

  /** Checks the fallback discipline, records the event and notifies listeners. */
  private hostFallback(operation: string, key: HsmKey, reason: string, material: HostFallbackEvent["material"], alternatives: string[]): void {
    if (!this.allowsHostFallback()) {
      throw new CiopError(
        "ERR_HOST_FALLBACK_REFUSED",
        `${operation} of '${key.name}' would need a host-side step (${material === "target-key" ? "the key itself" : "an ephemeral wrapping key"} in host memory) because ${reason}. ` +
          `That is refused for hardware token '${this.token.label}'. Alternatives: ${alternatives.join("; ")}`,
        { details: { operation, key: key.name, material } },
      );
    }
    const event: HostFallbackEvent = { operation, key: key.name, reason, material, token: `${this.token.label} (${this.token.serial})`, at: new Date().toISOString() };
    this.fallbackCount++;
    if (this.fallbackHistory > 0) {
      this.fallbacks.push(event);
      if (this.fallbacks.length > this.fallbackHistory) this.fallbacks.splice(0, this.fallbacks.length - this.fallbackHistory);
    }
    this.options.onHostFallback?.(event);
    this.emit("host-fallback", event);
  }

  /** Gets a key's value out under an ephemeral KEK (KWP, else KW) and unwraps it on the host. */
  private extractToHost(key: HsmKey): Buffer {
    const kekValue = randomBytes(32);
    let kek: Handle | undefined;
    let unwrapped: Buffer | undefined;
    try {
      kek = this.createSessionAes(kekValue, { wrap: true });
      const kwp = this.caps.aesKeyWrapPadMechanism;
      const mech = kwp ?? P.CKM_AES_KEY_WRAP;
      const wrapped = this.wrapUnder({ mechanism: mech }, kek, key, `exporting '${key.name}' under an ephemeral key`);
      if (kwp !== null) {
        unwrapped = hostKwpUnwrap(kekValue, wrapped);
      } else {
        const d = createDecipheriv("id-aes256-wrap", kekValue, Buffer.from("a6a6a6a6a6a6a6a6", "hex"));
        unwrapped = Buffer.concat([d.update(wrapped), d.final()]);
      }
      if (key.kind === "secret") {
        const bytes = KEY_SPECS[key.type].bytes!;
        const out = Buffer.from(unwrapped.subarray(0, bytes));
        return out;
      }
      const len = derLength(unwrapped);
      if (len === undefined || len > unwrapped.length || unwrapped[0] !== 0x30) throw new HsmError("ERR_HSM", `the token exported '${key.name}' in a form that is not PKCS#8 DER`);
      return Buffer.from(unwrapped.subarray(0, len));
    } finally {
      zeroize(kekValue, unwrapped);
      if (kek) this.destroyHandle(kek);
    }
  }
}

function hostOaep(spki: Uint8Array, hash: HashName, data: Uint8Array): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  return new Uint8Array(publicEncrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** CKR_GENERAL_ERROR from a read of SoftHSM's token files while another process rewrote them. */
function isTransientStoreError(err: unknown): boolean {
  return err instanceof HsmError && err.ckr === "CKR_GENERAL_ERROR" && ["C_GetSlotList", "C_GetTokenInfo", "C_Login", "C_OpenSession"].includes(err.fn ?? "");
}

function selectToken(p: pkcs11js.PKCS11, selector: string | undefined): { slot: Handle; info: pkcs11js.TokenInfo } {
  const slots = call("C_GetSlotList", () => p.C_GetSlotList(true));
  const tokens = slots
    .map((slot) => ({ slot, info: call("C_GetTokenInfo", () => p.C_GetTokenInfo(slot)) }))
    .filter((t) => (t.info.flags & P.CKF_TOKEN_INITIALIZED) !== 0);
  const seen = () => (tokens.length ? tokens.map((t, i) => `#${i} '${cleanText(t.info.label)}' (serial ${cleanText(t.info.serialNumber)})`).join(", ") : "none");
  if (selector === undefined) {
    if (tokens.length === 1) return tokens[0]!;
    throw new CiopError("ERR_TOKEN_NOT_FOUND", `${tokens.length} initialised tokens and no token selected: set CIOP_TOKEN / options.token to a label, serial or #index. Tokens seen: ${seen()}`, {
      details: { tokensSeen: tokens.length },
    });
  }
  const idx = /^#(\d+)$/.exec(selector);
  if (idx) {
    const t = tokens[Number(idx[1])];
    if (t) return t;
  } else {
    const bySerial = tokens.filter((t) => cleanText(t.info.serialNumber) === selector);
    if (bySerial.length === 1) return bySerial[0]!;
    const byLabel = tokens.filter((t) => cleanText(t.info.label) === selector);
    if (byLabel.length === 1) return byLabel[0]!;
    if (byLabel.length > 1) {
      throw new CiopError("ERR_CONFIG_INVALID", `${byLabel.length} tokens are labelled '${selector}': select one by serial. Tokens seen: ${seen()}`);
    }
  }
  throw new CiopError("ERR_TOKEN_NOT_FOUND", `no token matches '${selector}' (by label, serial or #index). Tokens seen: ${seen()}`, {
    details: { tokensSeen: tokens.length },
  });
}

