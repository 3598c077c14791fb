/**
 * The `Hsm` facade: the public API of @ciop/hsm. Each method hands over to the part that does the
 * work; the parts share one {@link HsmContext} (context.ts), the state of the open token:
 *
 * | part | file |
 * | --- | --- |
 * | library/context lifecycle (open, close, library restart, token choice) | lifecycle/ |
 * | sessions and login | sessions.ts |
 * | key objects: find, attributes, enable/disable, create/delete, public keys, session keys | keys/ |
 * | wrap primitives | wrap.ts |
 * | AES-GCM (the XKS hot path) | aes-gcm.ts |
 * | digest and HMAC | digest.ts |
 * | capability probe | probe.ts |
 * | host fallback | host-fallback.ts |
 * | external keys (wrap/unwrap of caller bytes) | external-key.ts |
 */
import { EventEmitter } from "node:events";
import { CiopError } from "@ciop/core";
import type pkcs11js from "pkcs11js";
import { decryptAesGcm, decryptAesGcmAsync, encryptAesGcm, encryptAesGcmAsync, sealAesGcm, sealAesGcmAsync, type GcmSealed } from "./aes-gcm.js";
import { allowsHostFallback, ensureOpen, type Handle, type HsmContext } from "./context.js";
import { digestKey, signHmac } from "./digest.js";
import type { EmbeddedTokenPaths } from "./embedded-token.js";
import { aesUnwrapBytes, aesWrapBytes, rsaOaepDecrypt, rsaOaepEncrypt, setAesKeyWrapping, type ExternalKeyOutcome } from "./external-key.js";
import { exportKeyToHost } from "./host-fallback.js";
import type { HsmKey, HsmPublicKey } from "./hsm-key.js";
import { explainRefusal, explainRefusalS, keyInfo, keyInfoS, keyUsage, keyUsageS, listKeys, listKeysS, setKeyEnabled } from "./keys/attributes.js";
import { deleteKey, generateKey, getOrCreateKey } from "./keys/create.js";
import { attrs, lookup, lookupById, lookupS, setAttrs, withHandle } from "./keys/handles.js";
import { importPublicKey, publicKeyOf, releasePublicKey } from "./keys/public-keys.js";
import { destroySessionKey, generateSessionAesKey, sessionCopy } from "./keys/session-keys.js";
import {
  deleteKeyVersionRecords,
  generateKeyVersion,
  keyVersionRecords,
  writeKeyVersionRecord,
  type KeyVersionInit,
  type KeyVersionRecord,
  type KeyVersionRecordInput,
} from "./keys/versions.js";
import { openContext } from "./lifecycle/open.js";
import { gcmWorkers } from "./offload/index.js";
import { runOffloaded } from "./offload/reads.js";
import { closeContext, recoverLibrary } from "./lifecycle/restart.js";
import { wrapAesGcm, wrapKey, wrapRsaAes, wrapRsaOaep, wrapRsaPkcs1 } from "./wrap.js";
import type { Capabilities, GenerateKeyOptions, HashName, HostFallbackEvent, HsmOptions, KeyInfo, KeyType, KeyUsage, TokenInfo, WrapOutcome } from "./types.js";

/** A low-level mechanism for {@link Hsm.wrapKey}: a pkcs11js mechanism object. @public */
export type WrapMechanism = pkcs11js.Mechanism;

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

  private readonly ctx: HsmContext;

  private constructor(ctx: HsmContext) {
    super();
    this.ctx = ctx;
    this.token = ctx.token;
    this.embeddedPaths = ctx.embeddedPaths;
    ctx.events = this;
  }

  /**
   * Opens a token. With no options and no environment, uses ciop's embedded SoftHSM2 token
   * (created on first use in `$XDG_DATA_HOME/ciop`). See the README for the full resolution order.
   */
  static async open(options: HsmOptions = {}): Promise<Hsm> {
    return new Hsm(await openContext(options));
  }

  /** What the token really supports (probed once at open). */
  capabilities(): Capabilities {
    const caps = this.ctx.caps;
    return { ...caps, rsaOaepHashes: [...caps.rsaOaepHashes], digestKey: [...caps.digestKey], hmacHashes: [...caps.hmacHashes] };
  }

  /** Host-side fallbacks are allowed: a software token, or `options.allowHostFallback`. */
  allowsHostFallback(): boolean {
    return allowsHostFallback(this.ctx);
  }

  /**
   * A search of this Hsm found a token key (or `options.tokenHoldsKeys` said so), and none was
   * deleted through it since: an empty key search is then checked before it counts as "no such key".
   */
  get tokenHoldsKeys(): boolean {
    return this.ctx.sawTokenKeys;
  }

  /** True once any host-side fallback happened in this Hsm. */
  get hostFallbackUsed(): boolean {
    return this.ctx.fallbackCount > 0;
  }

  /** How many host-side fallbacks happened in this Hsm since it was opened (exact, never capped). */
  get hostFallbackCount(): number {
    return this.ctx.fallbackCount;
  }

  /**
   * The most recent host-side fallbacks, oldest first: at most `options.hostFallbackHistory`
   * (default 100), so a long-running server does not keep every event. For a complete record,
   * log each one from `onHostFallback` or the "host-fallback" event; {@link hostFallbackCount} is the exact total.
   */
  get hostFallbacks(): readonly HostFallbackEvent[] {
    return [...this.ctx.fallbacks];
  }

  // ---------------------------------------------------------------- keys (keys/)

  /** Creates a key; {@link CiopError} ERR_KEY_EXISTS if a key with that name exists. */
  generateKey(name: string, type: KeyType, options: GenerateKeyOptions = {}): Promise<HsmKey> {
    return generateKey(this.ctx, name, type, options);
  }

  /**
   * Returns the key `name`, creating it when missing. An existing key is reused only if ciop created it
   * (ERR_KEY_NOT_CIOP) and it has the requested type (ERR_KEY_TYPE_MISMATCH). Safe across processes:
   * two processes asking at once end up with one key.
   */
  getOrCreateKey(name: string, type: KeyType, options: GenerateKeyOptions = {}): Promise<{ key: HsmKey; created: boolean }> {
    return getOrCreateKey(this.ctx, name, type, options);
  }

  /**
   * The key whose CKA_LABEL is `name` (cached handle), or undefined. Two keys with that label are
   * refused ({@link CiopError} ERR_USAGE, `details.ambiguous`) unless both are ciop's own (a
   * concurrent creation being settled: the earliest CKA_ID is the key); use {@link findKeyById} then.
   */
  findKey(name: string): HsmKey | undefined {
    ensureOpen(this.ctx);
    if (name === "") throw new CiopError("ERR_USAGE", "an empty name does not name a key: a key without a label is found by its CKA_ID (findKeyById)");
    return this.ctx.cache.get(name) ?? lookup(this.ctx, name);
  }

  /**
   * The secret or private key whose CKA_ID is `id` (bytes, or a hex string), looked up on the token
   * now, or undefined. Finds keys made by other tools, including keys without a label (their
   * `name` is then ""). Two keys with that id are refused (ERR_USAGE, `details.ambiguous`).
   */
  findKeyById(id: Uint8Array | string): HsmKey | undefined {
    ensureOpen(this.ctx);
    let bytes: Buffer;
    if (typeof id === "string") {
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(id)) throw new CiopError("ERR_USAGE", `CKA_ID '${id}' is not an even number of hex digits`);
      bytes = Buffer.from(id, "hex");
    } else bytes = Buffer.from(id);
    return lookupById(this.ctx, bytes);
  }

  /** Every secret and private key on the token whose type ciop knows. */
  listKeys(): KeyInfo[] {
    return listKeys(this.ctx);
  }

  /** Facts about one key. */
  keyInfo(key: HsmKey): KeyInfo {
    return keyInfo(this.ctx, key);
  }

  /**
   * The key's usage attributes, each on its own (CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
   * CKA_WRAP, CKA_UNWRAP), read from the token now. Use it to tell an encrypt-only key from a
   * decrypt-only or a disabled one ({@link keyInfo}'s `enabled` only says whether all of the key
   * family's usages are set). For key pairs the public-side usages come from the public half.
   */
  keyUsage(key: HsmKey): KeyUsage {
    return keyUsage(this.ctx, key);
  }

  /** An async GCM call's failure, explained (a refused Init on a disabled key) with the read off the event loop. */
  private async refusal(key: HsmKey, err: unknown): Promise<never> {
    throw await (this.ctx.closed ? err : runOffloaded(this.ctx, explainRefusalS(key, err)).catch(() => err));
  }

  /**
   * {@link findKey} with the token reads in a worker thread on a pooled session (the GCM workers),
   * so the event loop does not wait for a network HSM; a cached handle is returned at once. Same
   * answers and errors as {@link findKey} (ambiguity refusal, an empty search trusted only when
   * confirmed). Without workers the reads run synchronously, as {@link findKey}'s do.
   */
  findKeyAsync(name: string): Promise<HsmKey | undefined> {
    ensureOpen(this.ctx);
    if (name === "")
      return Promise.reject(new CiopError("ERR_USAGE", "an empty name does not name a key: a key without a label is found by its CKA_ID (findKeyById)"));
    const cached = this.ctx.cache.get(name);
    return cached ? Promise.resolve(cached) : runOffloaded(this.ctx, lookupS(this.ctx, name));
  }

  /** {@link keyUsage} with the reads off the event loop (see {@link findKeyAsync}). */
  keyUsageAsync(key: HsmKey): Promise<KeyUsage> {
    ensureOpen(this.ctx);
    return runOffloaded(this.ctx, keyUsageS(this.ctx, key));
  }

  /** {@link keyInfo} with the reads off the event loop (see {@link findKeyAsync}). */
  keyInfoAsync(key: HsmKey): Promise<KeyInfo> {
    ensureOpen(this.ctx);
    return runOffloaded(this.ctx, keyInfoS(this.ctx, key));
  }

  /** {@link listKeys} with the reads off the event loop (see {@link findKeyAsync}). */
  listKeysAsync(): Promise<KeyInfo[]> {
    ensureOpen(this.ctx);
    return runOffloaded(this.ctx, listKeysS(this.ctx));
  }

  /** Destroys the key (and its public half). ERR_KEY_NOT_FOUND when there is none. */
  deleteKey(name: string): void {
    deleteKey(this.ctx, name);
  }

  /**
   * Enables or disables a key in the HSM itself (CKA_ENCRYPT/DECRYPT for AES, CKA_SIGN/VERIFY for
   * HMAC, CKA_SIGN/DECRYPT and the public CKA_VERIFY/ENCRYPT for key pairs). A disabled key is refused
   * by the token (ERR_KEY_DISABLED). Takes effect for other processes at their next operation.
   */
  setKeyEnabled(name: string, enabled: boolean): void {
    setKeyEnabled(this.ctx, name, enabled);
  }

  // ---------------------------------------------------------------- key versions (keys/versions.ts)

  /**
   * Makes version `version` (≥ 2) of key family `name`: a new key labelled `<name>~v<version>` and
   * a record of it on the token (description, creation time, annotations). A token that cannot keep
   * the record (no token data objects, e.g. NSS softokn) is refused with ERR_MECHANISM_UNSUPPORTED
   * before any key is made; ERR_KEY_EXISTS when the label is taken (another process made that
   * version first, or a key not made this way has the label).
   */
  generateKeyVersion(
    name: string,
    version: number,
    type: KeyType,
    init: KeyVersionInit,
    options: GenerateKeyOptions = {},
  ): Promise<{ key: HsmKey; record: KeyVersionRecord }> {
    return generateKeyVersion(this.ctx, name, version, type, init, options);
  }

  /**
   * The records of family `name`'s versions on the token, lowest version first: per version and key
   * (CKA_ID) the newest (none on a token without data objects).
   */
  keyVersionRecords(name: string): KeyVersionRecord[] {
    return keyVersionRecords(this.ctx, name);
  }

  /**
   * Writes (replaces) the record of one key version, under a lock file per version;
   * ERR_MECHANISM_UNSUPPORTED on a token without data objects.
   */
  writeKeyVersionRecord(record: KeyVersionRecordInput): Promise<KeyVersionRecord> {
    return writeKeyVersionRecord(this.ctx, record);
  }

  /** Destroys the records of the key labelled `versionLabel` (after it was deleted); returns how many. */
  deleteKeyVersionRecords(versionLabel: string): Promise<number> {
    return deleteKeyVersionRecords(this.ctx, versionLabel);
  }

  // ---------------------------------------------------------------- public keys (keys/public-keys.ts)

  /** Imports an RSA SubjectPublicKeyInfo (DER) as a session object with CKA_WRAP and CKA_ENCRYPT. */
  importPublicKey(spkiDer: Uint8Array): HsmPublicKey {
    return importPublicKey(this.ctx, spkiDer);
  }

  /** Destroys an imported public key's session object. */
  releasePublicKey(pub: HsmPublicKey): void {
    releasePublicKey(this.ctx, pub);
  }

  /** SubjectPublicKeyInfo (DER) of an RSA or EC key pair. */
  publicKeyOf(key: HsmKey): Uint8Array {
    return publicKeyOf(this.ctx, key);
  }

  // ---------------------------------------------------------------- wraps (wrap.ts)

  /** In-HSM RSA-OAEP (same hash for OAEP and MGF1, empty label) of a secret key. */
  wrapRsaOaep(pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
    return wrapRsaOaep(this.ctx, pub, key, hash);
  }

  /** In-HSM RSA PKCS#1 v1.5 of a secret key (legacy). */
  wrapRsaPkcs1(pub: HsmPublicKey, key: HsmKey): WrapOutcome {
    return wrapRsaPkcs1(this.ctx, pub, key);
  }

  /**
   * CKM_RSA_AES_KEY_WRAP output: OAEP(hash)(ephemeral AES-256) ‖ RFC 5649 KWP(ephemeral, key), where
   * the KWP plaintext is the raw key (secret keys) or the exact PKCS#8 DER (private keys).
   * Composed inside the HSM when the token can; otherwise a host-side fallback (reported in the
   * outcome and as a "host-fallback" event) if {@link allowsHostFallback}, else ERR_HOST_FALLBACK_REFUSED.
   */
  wrapRsaAes(pub: HsmPublicKey, key: HsmKey, hash: HashName): WrapOutcome {
    return wrapRsaAes(this.ctx, pub, key, hash);
  }

  /**
   * AES-GCM key transport in the HSM: C_WrapKey with CKM_AES_GCM (128-bit tag) of `key` under the
   * AES key `kek` (e.g. from {@link generateSessionAesKey}), with `iv` and optional `aad`. Returns
   * ciphertext ‖ tag. Needs `capabilities().aesGcmKeyWrap`; a disabled key is refused (ERR_KEY_DISABLED).
   */
  wrapAesGcm(kek: HsmKey, key: HsmKey, iv: Uint8Array, aad?: Uint8Array): Uint8Array {
    return wrapAesGcm(this.ctx, kek, key, iv, aad);
  }

  /** An extractable, sensitive session AES key (CKA_WRAP, CKA_ENCRYPT) for compositions. Destroy with {@link destroySessionKey}. */
  generateSessionAesKey(bits: 128 | 192 | 256 = 256): HsmKey {
    return generateSessionAesKey(this.ctx, bits);
  }

  /** Destroys a key made by {@link generateSessionAesKey} (or {@link sessionCopy}). */
  destroySessionKey(key: HsmKey): void {
    destroySessionKey(this.ctx, key);
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
    return sessionCopy(this.ctx, key);
  }

  /** Low-level C_WrapKey with any pkcs11js mechanism, for compositions the typed methods do not cover. */
  wrapKey(mechanism: WrapMechanism, wrappingKey: HsmKey | HsmPublicKey, key: HsmKey): Uint8Array {
    return wrapKey(this.ctx, mechanism, wrappingKey, key);
  }

  // ---------------------------------------------------------------- external keys (external-key.ts)

  /** Sets CKA_WRAP and CKA_UNWRAP of an AES token key, so that it can serve {@link aesWrapBytes} / {@link aesUnwrapBytes}. */
  setAesKeyWrapping(key: HsmKey, on: boolean): void {
    setAesKeyWrapping(this.ctx, key, on);
  }

  /**
   * RFC 3394 (`padded` false) or RFC 5649 (`padded` true, with `capabilities().aesKeyWrapPadMechanism`)
   * of caller-supplied bytes under the AES token key, in the token (the bytes are imported as a session
   * object). The caller zeroes its own input.
   */
  aesWrapBytes(key: HsmKey, bytes: Uint8Array, padded: boolean): ExternalKeyOutcome {
    return aesWrapBytes(this.ctx, key, bytes, padded);
  }

  /** The inverse of {@link aesWrapBytes}; ERR_DECRYPTION_FAILED when the input does not unwrap. The caller zeroes the result. */
  aesUnwrapBytes(key: HsmKey, wrapped: Uint8Array, padded: boolean): ExternalKeyOutcome {
    return aesUnwrapBytes(this.ctx, key, wrapped, padded);
  }

  /** RSA-OAEP encryption under an RSA key pair's public half (in the token, else on the host: see external-key.ts). */
  rsaOaepEncrypt(key: HsmKey, hash: HashName, data: Uint8Array): ExternalKeyOutcome {
    return rsaOaepEncrypt(this.ctx, key, hash, data);
  }

  /** RSA-OAEP decryption with the private half in the token (raw RSA + host decoding when the token lacks the hash). The caller zeroes the result. */
  rsaOaepDecrypt(key: HsmKey, hash: HashName, data: Uint8Array): ExternalKeyOutcome {
    return rsaOaepDecrypt(this.ctx, key, hash, data);
  }

  // ---------------------------------------------------------------- host fallback (host-fallback.ts)

  /**
   * THE single choke point for host-side fallback: returns the key's raw bytes (secret keys) or exact
   * PKCS#8 DER (private keys) in host memory. Refused (ERR_HOST_FALLBACK_REFUSED) unless
   * {@link allowsHostFallback}. Every use is recorded and emitted as "host-fallback". The caller must
   * zeroize the returned buffer.
   */
  async exportKeyToHost(key: HsmKey, reason: string): Promise<Buffer> {
    return exportKeyToHost(this.ctx, key, reason);
  }

  // ---------------------------------------------------------------- digest (digest.ts)

  /** C_DigestKey: hash of a secret key's value (a key check value; never the value). */
  digestKey(key: HsmKey, hash: HashName): Uint8Array {
    return digestKey(this.ctx, key, hash);
  }

  /** HMAC of `data` with a generic-secret key (C_Sign with CKM_SHA*_HMAC). */
  signHmac(key: HsmKey, hash: HashName, data: Uint8Array): Uint8Array {
    try {
      return signHmac(this.ctx, key, hash, data);
    } catch (err) {
      throw explainRefusal(this.ctx, key, err);
    }
  }

  // ---------------------------------------------------------------- AES-GCM (aes-gcm.ts)

  /**
   * AES-GCM encryption in the HSM (128-bit tag) under the IV the token's GCM profile allows
   * (`capabilities().gcm`): on a token that takes the caller's IV, `iv` (12 random bytes drawn here
   * when undefined); on one that chooses its own (CloudHSM, nShield, Luna), `iv` must be undefined.
   * Returns ciphertext ‖ tag and the IV used.
   */
  sealAesGcm(key: HsmKey, plaintext: Uint8Array, aad?: Uint8Array, iv?: Uint8Array): GcmSealed {
    try {
      return sealAesGcm(this.ctx, key, iv, plaintext, aad);
    } catch (err) {
      throw explainRefusal(this.ctx, key, err);
    }
  }

  /** {@link sealAesGcm} on a pooled session with pkcs11js's async call (see {@link encryptAesGcmAsync}). */
  sealAesGcmAsync(key: HsmKey, plaintext: Uint8Array, aad?: Uint8Array, iv?: Uint8Array): Promise<GcmSealed> {
    return sealAesGcmAsync(this.ctx, key, iv, plaintext, aad).catch((err: unknown) => this.refusal(key, err));
  }

  /**
   * AES-GCM encryption in the HSM (128-bit tag) under the caller's IV. Returns ciphertext ‖ tag.
   * Refused (ERR_USAGE) on a token that chooses the IV itself: use {@link sealAesGcm} there.
   */
  encryptAesGcm(key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
    try {
      return encryptAesGcm(this.ctx, key, iv, plaintext, aad);
    } catch (err) {
      throw explainRefusal(this.ctx, key, err);
    }
  }

  /** AES-GCM decryption in the HSM. A bad tag, AAD or IV gives ERR_DECRYPTION_FAILED (fixed message). */
  decryptAesGcm(key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad?: Uint8Array): Buffer {
    try {
      return decryptAesGcm(this.ctx, key, iv, ctAndTag, aad);
    } catch (err) {
      throw explainRefusal(this.ctx, key, err);
    }
  }

  /**
   * {@link encryptAesGcm} on a pooled session, the Init and the Encrypt in a worker thread
   * (`gcmWorkers`): the event loop stays free and up to `sessionPoolSize` operations run at once.
   * On a fast local token the thread hop costs more than it saves; use it when the caller must not block.
   */
  encryptAesGcmAsync(key: HsmKey, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Buffer> {
    return encryptAesGcmAsync(this.ctx, key, iv, plaintext, aad).catch((err: unknown) => this.refusal(key, err));
  }

  /** {@link decryptAesGcm} on a pooled session with pkcs11js's async call. */
  decryptAesGcmAsync(key: HsmKey, iv: Uint8Array, ctAndTag: Uint8Array, aad?: Uint8Array): Promise<Buffer> {
    return decryptAesGcmAsync(this.ctx, key, iv, ctAndTag, aad).catch((err: unknown) => this.refusal(key, err));
  }

  /**
   * Starts the worker threads of the async AES-GCM calls now (otherwise the first calls start
   * them) and resolves once they have loaded the module. Does nothing when they are not used.
   */
  async startGcmWorkers(): Promise<void> {
    ensureOpen(this.ctx);
    await gcmWorkers(this.ctx)?.warm();
  }

  // ---------------------------------------------------------------- lifecycle (lifecycle/)

  /** Closes every session and, with the last Hsm of the process, finalises the library. */
  close(): Promise<void> {
    return closeContext(this.ctx);
  }

  // Not API: kept for callers that reached into the class before it was split (apps/xks-proxy's
  // admin/usage.ts sets a single usage through the last three; the library-restart test calls
  // recoverLibrary). Protected rather than private only because nothing in this class calls them.
  /** @internal */
  protected recoverLibrary(): boolean {
    return recoverLibrary(this.ctx);
  }

  /** @internal */
  protected withHandle<T>(key: HsmKey, f: (h: Handle) => T): T {
    return withHandle(this.ctx, key, f);
  }

  /** @internal */
  protected attrs(h: Handle, types: number[], context: string): Map<number, Buffer> {
    return attrs(this.ctx, h, types, context);
  }

  /** @internal */
  protected setAttrs(h: Handle, template: pkcs11js.Template, context: string): void {
    setAttrs(this.ctx, h, template, context);
  }
}
