/**
 * The proxy's key manager over @ciop/hsm: AES-GCM on pooled PKCS#11 sessions in @ciop/hsm's worker
 * threads (`[hsm] workers`; the event loop never waits for the HSM) or, for a local software
 * token, synchronous calls; cached key handles; a short-TTL key-state cache (enable/disable lives in
 * the key's own attributes; in async call mode read in the worker threads and, once a key has been
 * seen, in the background while the stale state answers) that also keeps a session-object copy of each usable key for the GCM
 * calls on software tokens; a per-call timeout (→ 503 DependencyTimeoutException) and a PKCS#11
 * context reset after device errors and after calls the token or the process could not answer
 * (an `unavailable` HsmError, e.g. a key search that came back empty with no descriptor left).
 */
import { CiopError } from "@ciop/core";
import { Hsm, HsmError, type GcmSealed, type HsmKey, type HsmOptions, type KeyInfo, type KeyUsage } from "@ciop/hsm";
import { DependencyTimeoutException, InternalException, MAX_KEY_VERSION, type XksCrypto, type XksKeyDescription } from "@ciop/xks";
import type { HsmConfig } from "./config/index.js";
import { serverHsmOptions } from "./hsm-options.js";
import { EndOfTurn } from "./http/end-of-turn.js";
import { parseVersionLabel, versionLabel } from "./key-versions.js";

/** How often the version index is rebuilt from a scan of every key's label, at most. */
const FULL_SCAN_MS = 60_000;

/** PKCS#11 return values after which the context is re-initialised. */
const FATAL_CKR = new Set([
  "CKR_DEVICE_ERROR",
  "CKR_DEVICE_REMOVED",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_USER_NOT_LOGGED_IN",
]);

export interface HsmBackendHooks {
  /** HSM call latency (seconds) and outcome, for metrics. */
  observe?(operation: string, seconds: number, outcome: "ok" | "error" | "timeout"): void;
  /** Operational events (context reset...), for the log. Never secrets. */
  event?(record: Record<string, unknown>): void;
  /**
   * The end-of-turn schedule synchronous calls are queued in ("hsm" step): the server's, shared
   * with its fast path. Default: one of the backend's own.
   */
  turns?: EndOfTurn;
}

interface KeyState {
  at: number;
  desc: XksKeyDescription | undefined;
  key: HsmKey | undefined;
  /** Session-object copy the GCM calls run on (when copies are on and the key is usable). */
  copy?: HsmKey | undefined;
}

const STALE_HANDLE = new Set(["CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID"]);

export class HsmBackend implements XksCrypto {
  private current: Hsm;
  private reopening: Promise<void> | undefined;
  private readonly states = new Map<string, KeyState>();
  /** Async call mode: the key-state reads running off the event loop now, one per key. */
  private readonly refreshing = new Map<string, Promise<KeyState>>();
  /** Async call mode: the version-index scan or family probes running now. */
  private scanning: Promise<void> | undefined;
  private readonly probing = new Map<string, Promise<void>>();
  /** Bumped when cached state is dropped: a read begun before does not store its answer. */
  private epoch = 0;
  /** Rotated key families: family name → its versions ≥ 2 on the token, read once per key-state TTL. */
  private versionIndex: { scannedAt: number; families: Map<string, Family> } | undefined;
  private closed = false;
  private copyFailureLogged = false;
  /** How many context resets happened (metrics/tests). */
  resets = 0;
  private readonly turns: EndOfTurn;

  private constructor(
    hsm: Hsm,
    private readonly options: HsmOptions,
    private cfg: HsmConfig,
    private readonly hooks: HsmBackendHooks,
  ) {
    this.current = hsm;
    this.turns = hooks.turns ?? new EndOfTurn();
  }

  /**
   * Opens the configured token. `extra` adds @ciop/hsm options the config file does not offer
   * (tests use `assumeHardwareToken` to see the host-fallback switch act on SoftHSM).
   */
  static async open(cfg: HsmConfig, hooks: HsmBackendHooks = {}, extra: Partial<HsmOptions> = {}): Promise<HsmBackend> {
    const options = serverHsmOptions(cfg, extra);
    const hsm = await Hsm.open(options);
    // Every XKS encrypt and decrypt is AES-GCM inside the token: a token (or a client library in
    // front of it) that does not carry it cannot serve a single request, so refuse to start rather
    // than answer every request 500.
    if (!hsm.capabilities().aesGcm) {
      const t = hsm.token;
      await hsm.close().catch(() => undefined);
      throw new CiopError(
        "ERR_MECHANISM_UNSUPPORTED",
        `the token '${t.label}' (${t.libraryDescription}) does not offer AES-GCM (CKM_AES_GCM, 0x1087) in encrypt/decrypt, which every XKS request runs inside the HSM: ` +
          "use a token, or a client library in front of it, that carries CKM_AES_GCM (p11-kit's RPC client in Debian 12 does not)",
      );
    }
    const backend = new HsmBackend(hsm, options, cfg, hooks);
    // the GCM worker threads start now, not under the first requests (whose timeout they could eat)
    if (!backend.syncCalls) await hsm.startGcmWorkers();
    // `workers` is checked against call_mode in the file, but "auto" becomes sync only once the
    // token turns out to be a software one: then the setting has no effect, and says so
    else if (cfg.workers !== undefined)
      hooks.event?.({
        msg: "setting-not-enforced",
        setting: `[hsm] workers = ${cfg.workers}: call_mode "${cfg.callMode}" runs AES-GCM on the event loop on this software token (set call_mode = "async" to use worker threads)`,
      });
    return backend;
  }

  /** The live Hsm (replaced after a context reset). */
  get hsm(): Hsm {
    return this.current;
  }

  /** Timeout and key-state TTL can change on reload; library/token/pool need a restart. */
  updateConfig(cfg: HsmConfig): void {
    const copiesBefore = this.copiesOn;
    this.cfg = { ...this.cfg, timeoutMs: cfg.timeoutMs, keyStateTtlMs: cfg.keyStateTtlMs, callMode: cfg.callMode, sessionKeyCopies: cfg.sessionKeyCopies };
    if (copiesBefore !== this.copiesOn) this.invalidate();
  }

  /** Keys currently served from a session copy (metrics/tests). */
  get sessionCopies(): number {
    let n = 0;
    for (const st of this.states.values()) if (st.copy) n++;
    return n;
  }

  /** The session copy a key's GCM calls run on now, if there is one (diagnostics, tests). */
  sessionCopyOf(keyId: string): HsmKey | undefined {
    return this.states.get(keyId)?.copy;
  }

  /** GCM runs on the event loop (`call_mode` sync, or auto on a software token). */
  get syncCalls(): boolean {
    return this.cfg.callMode === "sync" || (this.cfg.callMode === "auto" && this.current.token.isSoftware);
  }

  /** GCM runs on session-object copies of the keys (`session_key_copies`, auto = software token). */
  get copiesOn(): boolean {
    const c = this.cfg.sessionKeyCopies;
    return c === true || (c === "auto" && this.current.token.isSoftware);
  }

  get timeoutMs(): number {
    return this.cfg.timeoutMs;
  }

  /**
   * XksCrypto.refreshKey: Encrypt found the version it took as current disabled on the token. The
   * family's state is forgotten (the key and each version label, with their session copies) and the
   * version index is read again; other keys keep their state and copies.
   */
  refreshKey(keyId: string): void {
    const versions = this.versionIndex?.families.get(keyId)?.versions ?? [];
    for (const label of [keyId, ...versions.map((v) => this.labelOf(keyId, v))]) this.invalidate(label);
    this.versionIndex = undefined;
  }

  /** Forgets cached key state (after an admin change in this process). */
  invalidate(keyId?: string): void {
    this.epoch++;
    this.versionIndex = undefined;
    if (keyId === undefined) {
      for (const st of this.states.values()) this.dropCopy(st);
      this.states.clear();
    } else {
      const st = this.states.get(keyId);
      if (st) this.dropCopy(st);
      this.states.delete(keyId);
    }
  }

  private dropCopy(st: KeyState): void {
    const copy = st.copy;
    st.copy = undefined;
    if (!copy) return;
    const hsm = this.current;
    const destroy = (): void => {
      try {
        hsm.destroySessionKey(copy);
      } catch {
        // already gone with its session or context
      }
    };
    // Synchronous calls cannot be using it now; an async call on the threadpool may be, so the
    // copy outlives the longest call the timeout lets a caller wait for.
    if (this.syncCalls) destroy();
    else setTimeout(destroy, Math.max(1000, 2 * this.cfg.timeoutMs)).unref();
  }

  /** Runs `fn` with the per-call timeout; on expiry rejects with DependencyTimeoutException. */
  async withTimeout<T>(operation: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.reopening) await this.bounded(operation, this.reopening);
    if (this.closed) throw new InternalException("the proxy is shutting down");
    const start = process.hrtime.bigint();
    let outcome: "ok" | "error" | "timeout" = "ok";
    try {
      return await this.bounded(operation, Promise.resolve().then(fn));
    } catch (err) {
      outcome = err instanceof DependencyTimeoutException ? "timeout" : "error";
      this.checkFatal(err);
      throw err;
    } finally {
      this.hooks.observe?.(operation, Number(process.hrtime.bigint() - start) / 1e9, outcome);
    }
  }

  /**
   * `call_mode = "sync"`: queues `fn` (a synchronous PKCS#11 call) for the end of this event-loop
   * turn, where the turn's calls run back to back on the event loop ({@link EndOfTurn}). A timer
   * cannot interrupt a synchronous call, so no per-call timer is armed (it could never fire before
   * the call returned); during a context reset or shutdown it falls back to {@link withTimeout},
   * which waits for the reset within the timeout.
   */
  private onLoop<T>(operation: string, fn: () => T): Promise<T> {
    if (this.reopening || this.closed) return this.withTimeout(operation, fn);
    return new Promise<T>((resolve, reject) => this.turns.at("hsm", () => this.runQueued(operation, fn, resolve, reject)));
  }

  /** One call {@link onLoop} queued; a reset or shutdown begun by an earlier call of the turn sends it through {@link withTimeout}. */
  private runQueued<T>(operation: string, fn: () => T, resolve: (value: T) => void, reject: (err: unknown) => void): void {
    if (this.reopening || this.closed) {
      this.withTimeout(operation, fn).then(resolve, reject);
      return;
    }
    const start = process.hrtime.bigint();
    let outcome: "ok" | "error" = "ok";
    try {
      resolve(fn());
    } catch (err) {
      outcome = "error";
      this.checkFatal(err);
      reject(err);
    } finally {
      this.hooks.observe?.(operation, Number(process.hrtime.bigint() - start) / 1e9, outcome);
    }
  }

  private bounded<T>(operation: string, p: Promise<T>): Promise<T> {
    const ms = this.cfg.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DependencyTimeoutException(`the HSM did not answer ${operation} within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * A device error, or a call the token or this process could not answer (`unavailable`: e.g. a
   * key search that came back empty with no file descriptor left), resets the context: SoftHSM,
   * for one, keeps answering "no such object" in a context that once failed to read its files.
   */
  private checkFatal(err: unknown): void {
    if (!(err instanceof HsmError)) return;
    if (err.unavailable || (err.ckr !== undefined && FATAL_CKR.has(err.ckr))) {
      this.hooks.event?.({ msg: err.unavailable ? "hsm-unavailable" : "hsm-device-error", ckr: err.ckr, fn: err.fn });
      void this.reset().catch(() => undefined);
    }
  }

  /**
   * Re-initialises the PKCS#11 context without a restart: waits for in-flight calls, closes every
   * session (and finalises the library when this was its last user), then opens and logs in again.
   */
  reset(): Promise<void> {
    if (this.reopening) return this.reopening;
    this.reopening = (async () => {
      this.resets++;
      // session copies die with the old context
      this.epoch++;
      this.states.clear();
      this.versionIndex = undefined;
      const old = this.current;
      // close() waits for in-flight calls; a hung device must not hold the reset forever
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([old.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      let delay = 100;
      for (;;) {
        try {
          // the token showed keys to the old context: a new one that sees none at all is not trusted
          this.current = await Hsm.open({ ...this.options, tokenHoldsKeys: old.tokenHoldsKeys || this.options.tokenHoldsKeys === true });
          if (!this.syncCalls) await this.current.startGcmWorkers();
          this.hooks.event?.({ msg: "hsm-context-reset", ok: true });
          return;
        } catch (err) {
          this.hooks.event?.({ msg: "hsm-context-reset", ok: false, error: (err as CiopError).code ?? "error" });
          if (this.closed) return;
          await new Promise((r) => setTimeout(r, delay).unref());
          // at most a second between attempts: the proxy serves again within about a second of the fault ending
          delay = Math.min(delay * 2, 1000);
        }
      }
    })().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  private lookup(keyId: string): KeyState {
    const now = Date.now();
    const cached = this.states.get(keyId);
    if (cached && now - cached.at < this.cfg.keyStateTtlMs) return cached;
    if (cached && !this.syncCalls) {
      // async mode: answered from the cached state while one read runs off the event loop
      this.revalidate(keyId);
      return cached;
    }
    try {
      return this.refresh(keyId, now, cached);
    } catch (err) {
      // the key could not be read (gone, device error): no stale state or copy stays behind
      if (cached) this.dropCopy(cached);
      this.states.delete(keyId);
      throw err;
    }
  }

  private refresh(keyId: string, now: number, cached: KeyState | undefined): KeyState {
    const hsm = this.current;
    const key = hsm.findKey(keyId);
    return this.store(keyId, now, cached, key, key && isAes(key) ? hsm.keyUsage(key) : undefined);
  }

  /**
   * Async call mode: reads a key's state off the event loop (one read per key at a time: callers
   * share it) and stores it. On failure the key's cached state is dropped (a request that needs a
   * fresh state then reads again, and gets the error), as the synchronous read does.
   */
  private refreshOff(keyId: string): Promise<KeyState> {
    const running = this.refreshing.get(keyId);
    if (running) return running;
    const hsm = this.current;
    const epoch = this.epoch;
    const p = (async () => {
      const now = Date.now();
      const key = await hsm.findKeyAsync(keyId);
      const usage = key && isAes(key) ? await hsm.keyUsageAsync(key) : undefined;
      if (epoch !== this.epoch || hsm !== this.current) {
        // dropped meanwhile (admin change, context reset): answer, but cache nothing
        return { at: now, desc: describeState(key, usage), key };
      }
      return this.store(keyId, now, this.states.get(keyId), key, usage);
    })()
      .catch((err: unknown) => {
        // a cached handle whose key the token confirmed gone: the key has no state (as a search that finds nothing)
        if (CiopError.isInstance(err) && err.code === "ERR_KEY_NOT_FOUND") {
          return epoch === this.epoch && hsm === this.current
            ? this.store(keyId, Date.now(), this.states.get(keyId), undefined, undefined)
            : { at: Date.now(), desc: undefined, key: undefined };
        }
        if (epoch === this.epoch) {
          const cached = this.states.get(keyId);
          if (cached) this.dropCopy(cached);
          this.states.delete(keyId);
        }
        throw err;
      })
      .finally(() => {
        if (this.refreshing.get(keyId) === p) this.refreshing.delete(keyId);
      });
    this.refreshing.set(keyId, p);
    return p;
  }

  /** A stale key state's background read: its failure is for the next request that needs a fresh state, and for the health check. */
  private revalidate(keyId: string): void {
    if (this.refreshing.has(keyId) || this.reopening || this.closed) return;
    this.refreshOff(keyId).catch((err: unknown) => this.checkFatal(err));
  }

  /**
   * Async call mode: makes sure the version index exists (the first request awaits the scan) and
   * that the family's keys have a cached state (see {@link prime}).
   */
  private async primeFamily(keyId: string, operation: string): Promise<void> {
    if (!this.versionIndex) await this.bounded(operation, this.scanOff());
    const more = this.versionsOf(keyId);
    await this.prime(more.length === 0 ? [keyId] : [keyId, ...more.map((v) => this.labelOf(keyId, v))], operation);
  }

  /** Async call mode, GCM path: undefined when the key has a cached state (fresh or not), else the read to await. */
  private ready(keyId: string): Promise<unknown> | undefined {
    return this.states.has(keyId) ? undefined : this.refreshOff(keyId);
  }

  /**
   * Async call mode: makes sure every label in `labels` has a cached state (awaiting the read,
   * within the per-call timeout, for one that has none); a stale one is read again in the background.
   */
  private async prime(labels: readonly string[], operation: string): Promise<void> {
    if (this.syncCalls) return;
    let wait: Promise<unknown>[] | undefined;
    const now = Date.now();
    for (const label of labels) {
      const st = this.states.get(label);
      if (!st) {
        wait ??= [];
        wait.push(this.refreshOff(label));
      } else if (now - st.at >= this.cfg.keyStateTtlMs) this.revalidate(label);
    }
    if (wait) await this.bounded(operation, Promise.all(wait));
  }

  private store(keyId: string, now: number, cached: KeyState | undefined, key: HsmKey | undefined, u: KeyUsage | undefined): KeyState {
    const hsm = this.current;
    const desc = describeState(key, u);
    const state: KeyState = { at: now, desc, key };
    if (cached?.copy && key && desc && sameUse(cached, key, desc)) {
      state.copy = cached.copy;
      cached.copy = undefined;
    } else if (cached) this.dropCopy(cached);
    // (a key that is not AES has neither usage here)
    if (!state.copy && key && desc?.enabled && (desc.canEncrypt || desc.canDecrypt) && this.copiesOn) {
      try {
        state.copy = hsm.sessionCopy(key);
      } catch (err) {
        // a token that refuses copies (CKA_COPYABLE false, no C_CopyObject) is served from the token key
        if (!this.copyFailureLogged) {
          this.copyFailureLogged = true;
          this.hooks.event?.({ msg: "hsm-session-copy-unavailable", key: keyId, error: (err as HsmError).ckr ?? (err as CiopError).code ?? "error" });
        }
      }
    }
    this.states.set(keyId, state);
    return state;
  }

  /**
   * Key state from the short-TTL cache, or a fresh attribute read: sync mode, a synchronous local
   * PKCS#11 call that a timer could not interrupt anyway (no timeout wrapper); async mode, a read
   * off the event loop, awaited within the timeout only when the key has no cached state at all.
   */
  async describeKey(keyId: string): Promise<XksKeyDescription | undefined> {
    if (this.reopening) await this.bounded("describeKey", this.reopening);
    try {
      if (!this.syncCalls) await this.primeFamily(keyId, "describeKey");
      const first = this.peek(keyId);
      const more = this.versionsOf(keyId);
      return more.length === 0 ? first : this.describeFamily(keyId, first, more);
    } catch (err) {
      this.checkFatal(err);
      throw err;
    }
  }

  /**
   * One version of a key family (1: the key labelled `keyId`); undefined when it does not exist.
   * A version the index does not know yet (rotated on another instance since the last read) is
   * looked up once, uncached, so hostile metadata costs one bounded search and no cache entry.
   */
  async describeKeyVersion(keyId: string, version: number): Promise<XksKeyDescription | undefined> {
    if (this.reopening) await this.bounded("describeKey", this.reopening);
    try {
      const off = !this.syncCalls;
      if (off) await this.primeFamily(keyId, "describeKey");
      const more = this.versionsOf(keyId);
      if (version === 1) return more.length === 0 ? this.peek(keyId) : asVersion(this.peek(keyId));
      if (!more.includes(version)) {
        // (a version the index does not know: one uncached search, so hostile metadata adds nothing to any cache)
        const exists = off ? await this.bounded("describeKey", this.versionExistsAsync(keyId, version)) : this.versionExists(keyId, version);
        if (!exists) return undefined;
        // made since this instance last looked (a rotation elsewhere within the TTL)
        const fam = this.versionIndex?.families.get(keyId);
        if (fam && !fam.versions.includes(version)) addVersion(fam, keyId, version);
      }
      const label = this.labelOf(keyId, version);
      if (off) await this.prime([label], "describeKey");
      return asVersion(this.peek(label));
    } catch (err) {
      // a handle cached for a version deleted since: the token confirmed it is gone
      if (CiopError.isInstance(err) && err.code === "ERR_KEY_NOT_FOUND") return undefined;
      this.checkFatal(err);
      throw err;
    }
  }

  /**
   * A key's state, undefined when the token confirms it is gone (a cached handle whose key was
   * deleted since is re-found by CKA_ID and confirmed absent); any other failure is thrown.
   */
  private peek(label: string): XksKeyDescription | undefined {
    try {
      return this.lookup(label).desc;
    } catch (err) {
      if (CiopError.isInstance(err) && err.code === "ERR_KEY_NOT_FOUND") return undefined;
      throw err;
    }
  }

  /**
   * The versions ≥ 2 of a key family. One scan of the token's labels (listKeys) fills the index for
   * every family, again at most once a minute; in between, each family's entry is refreshed once
   * per key-state TTL by looking up the labels above its highest version until one is missing
   * (one search for a family that did not rotate). Versions are only ever added above the highest,
   * so a rotation on another instance shows here within the TTL.
   */
  private versionsOf(keyId: string): readonly number[] {
    if (!this.syncCalls) return this.versionsCached(keyId);
    const now = Date.now();
    let idx = this.versionIndex;
    if (!idx || now - idx.scannedAt >= Math.max(FULL_SCAN_MS, this.cfg.keyStateTtlMs)) {
      idx = this.versionIndex = { scannedAt: now, families: familiesOf(this.current.listKeys(), now) };
    }
    let fam = idx.families.get(keyId);
    if (!fam) {
      fam = { at: idx.scannedAt, versions: [], labels: [] };
      idx.families.set(keyId, fam);
    }
    if (now - fam.at >= this.cfg.keyStateTtlMs) {
      fam.at = now;
      for (let v = (fam.versions[fam.versions.length - 1] ?? 1) + 1; v <= MAX_KEY_VERSION && this.versionExists(keyId, v); v++) addVersion(fam, keyId, v);
    }
    return fam.versions;
  }

  /**
   * Async call mode: {@link versionsOf} from the index as it is (made by {@link primeFamily}); a
   * rescan due, or a family probe due (once per key-state TTL), runs off the event loop and shows
   * from the next request on: a rotation elsewhere is seen within the TTL plus one read.
   */
  private versionsCached(keyId: string): readonly number[] {
    const idx = this.versionIndex;
    if (!idx) return [];
    const now = Date.now();
    if (now - idx.scannedAt >= Math.max(FULL_SCAN_MS, this.cfg.keyStateTtlMs)) void this.scanOff().catch((err: unknown) => this.checkFatal(err));
    let fam = idx.families.get(keyId);
    if (!fam) {
      fam = { at: idx.scannedAt, versions: [], labels: [] };
      idx.families.set(keyId, fam);
    }
    if (now - fam.at >= this.cfg.keyStateTtlMs) this.probe(keyId, fam, now);
    return fam.versions;
  }

  /** Async call mode: the scan of every key's label that rebuilds the version index, one at a time. */
  private scanOff(): Promise<void> {
    if (this.scanning) return this.scanning;
    const hsm = this.current;
    const epoch = this.epoch;
    const p = (async () => {
      const now = Date.now();
      const keys = await hsm.listKeysAsync();
      if (epoch === this.epoch && hsm === this.current) this.versionIndex = { scannedAt: now, families: familiesOf(keys, now) };
    })().finally(() => {
      if (this.scanning === p) this.scanning = undefined;
    });
    this.scanning = p;
    return p;
  }

  /** Async call mode: looks up the labels above a family's highest version off the event loop, one probe per family at a time. */
  private probe(keyId: string, fam: Family, now: number): void {
    if (this.probing.has(keyId) || this.reopening || this.closed) return;
    fam.at = now;
    const p = (async () => {
      for (let v = (fam.versions[fam.versions.length - 1] ?? 1) + 1; v <= MAX_KEY_VERSION && (await this.versionExistsAsync(keyId, v)); v++) {
        if (!fam.versions.includes(v)) addVersion(fam, keyId, v);
      }
    })()
      .catch((err: unknown) => {
        // probed again by the next request
        fam.at = 0;
        this.checkFatal(err);
      })
      .finally(() => this.probing.delete(keyId));
    this.probing.set(keyId, p);
  }

  /** {@link versionExists} with the reads off the event loop. */
  private async versionExistsAsync(keyId: string, version: number): Promise<boolean> {
    const hsm = this.current;
    try {
      const key = await hsm.findKeyAsync(versionLabel(keyId, version));
      return key !== undefined && isVersionKey(await hsm.keyInfoAsync(key));
    } catch (err) {
      if (CiopError.isInstance(err) && err.code === "ERR_KEY_NOT_FOUND") return false;
      throw err;
    }
  }

  /** The label of version `version` of `family` (from the index when it knows it: no string built per request). */
  private labelOf(family: string, version: number): string {
    const fam = this.versionIndex?.families.get(family);
    const i = fam ? fam.versions.indexOf(version) : -1;
    return i >= 0 ? fam!.labels[i]! : versionLabel(family, version);
  }

  /** Whether the token holds a usable version key `version` of `keyId` (one search; a stale cached handle is re-found). */
  private versionExists(keyId: string, version: number): boolean {
    try {
      const key = this.current.findKey(versionLabel(keyId, version));
      return key !== undefined && isVersionKey(this.current.keyInfo(key));
    } catch (err) {
      if (CiopError.isInstance(err) && err.code === "ERR_KEY_NOT_FOUND") return false;
      throw err;
    }
  }

  /**
   * A rotated family as one external key: it exists while any version exists, is enabled while any
   * version is, and its current version (what Encrypt uses, and whose usage GetKeyMetadata
   * reports) is the highest enabled AES-256 one.
   */
  private describeFamily(keyId: string, first: XksKeyDescription | undefined, more: readonly number[]): XksKeyDescription | undefined {
    let any: XksKeyDescription | undefined;
    for (let i = more.length - 1; i >= -1; i--) {
      const v = i >= 0 ? more[i]! : 1;
      const d = asVersion(i >= 0 ? this.peek(this.labelOf(keyId, v)) : first);
      if (!d) continue;
      any ??= d;
      if (d.enabled && d.keySpec === "AES_256") {
        if (v === 1) return d;
        // one description object per (state read, version): no allocation per request
        const fam = this.versionIndex?.families.get(keyId);
        if (fam?.current?.src === d && fam.current.version === v) return fam.current.desc;
        const desc = { ...d, currentVersion: v };
        if (fam) fam.current = { src: d, version: v, desc };
        return desc;
      }
    }
    return any && { ...any, enabled: false };
  }

  /** The key the GCM call runs on: the session copy when there is one, else the token key. */
  private keyFor(keyId: string): HsmKey {
    const st = this.lookup(keyId);
    const key = st.copy ?? st.key;
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", "the external key was not found in the HSM");
    return key;
  }

  /**
   * Runs a GCM call (synchronous, or returning a promise); when it ran on a session copy whose
   * handle went stale (the PKCS#11 context or the session that owned it was reset), forgets the
   * key's state and runs it once more on a fresh lookup.
   */
  private onKey<T>(keyId: string, run: (key: HsmKey) => T): T {
    const key = this.keyFor(keyId);
    let out: T;
    try {
      out = run(key);
    } catch (err) {
      return this.retryIfStale(keyId, key, err, run);
    }
    // (the retry closure is made only for a call that returns a promise, not on the sync path)
    return out instanceof Promise ? (out.catch((err: unknown) => this.retryIfStale(keyId, key, err, run)) as T) : out;
  }

  /**
   * `err` came from a session copy whose handle is gone: forget the key's state and run the call
   * once more on a fresh lookup. Any other error is thrown again.
   */
  private retryIfStale<T>(keyId: string, key: HsmKey, err: unknown, run: (key: HsmKey) => T): T {
    if (!key.ephemeral || !(err instanceof HsmError) || err.ckr === undefined || !STALE_HANDLE.has(err.ckr)) throw err;
    if (this.states.get(keyId)?.copy === key) this.states.delete(keyId);
    // (async mode: the state is read again off the event loop; `run` returns a promise there)
    if (!this.syncCalls) return this.refreshOff(keyId).then(() => run(this.keyFor(keyId))) as T;
    return run(this.keyFor(keyId));
  }

  /** Async call mode: {@link onKey} once the key has a cached state (the first call for a key awaits its read). */
  private offKey<T>(keyId: string, run: (key: HsmKey) => Promise<T>): Promise<T> {
    const r = this.ready(keyId);
    return r ? r.then(() => this.onKey(keyId, run)) : this.onKey(keyId, run);
  }

  /**
   * Encrypts under the IV the token's GCM profile allows (drawn here for a token that takes the
   * caller's, the token's own for CloudHSM/nShield/Luna-style tokens) and returns it: what Encrypt uses.
   */
  seal(family: string, plaintext: Uint8Array, aad: Uint8Array, version?: number): Promise<GcmSealed> {
    const keyId = version === undefined ? family : this.labelOf(family, version);
    if (this.syncCalls) return this.onLoop("encrypt", () => this.onKey(keyId, (k) => this.current.sealAesGcm(k, plaintext, aad)));
    return this.withTimeout("encrypt", () => this.offKey(keyId, (k) => this.current.sealAesGcmAsync(k, plaintext, aad)));
  }

  /** Encrypts under the caller's IV (refused on a token that chooses the IV itself: see {@link seal}). */
  encrypt(family: string, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, version?: number): Promise<Uint8Array> {
    const keyId = version === undefined ? family : this.labelOf(family, version);
    if (this.syncCalls) return this.onLoop("encrypt", () => this.onKey(keyId, (k) => this.current.encryptAesGcm(k, iv, plaintext, aad)));
    return this.withTimeout("encrypt", () => this.offKey(keyId, (k) => this.current.encryptAesGcmAsync(k, iv, plaintext, aad)));
  }

  /** `version`: the key family's version (absent: 1, the key labelled `family`). */
  decrypt(family: string, iv: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array, version?: number): Promise<Uint8Array> {
    const keyId = version === undefined ? family : this.labelOf(family, version);
    if (this.syncCalls) return this.onLoop("decrypt", () => this.onKey(keyId, (k) => this.current.decryptAesGcm(k, iv, ciphertextAndTag, aad)));
    return this.withTimeout("decrypt", () => this.offKey(keyId, (k) => this.current.decryptAesGcmAsync(k, iv, ciphertextAndTag, aad)));
  }

  async close(): Promise<void> {
    // calls accepted before the shutdown still run on the open context: they are ahead of this in the HSM step
    if (this.syncCalls) await new Promise<void>((resolve) => this.turns.at("hsm", resolve));
    this.closed = true;
    if (this.reopening) await this.reopening.catch(() => undefined);
    // Hsm.close waits for calls in flight, then closes the sessions: the session copies go with them
    await this.current.close();
    this.states.clear();
  }
}

/** A key family's versions ≥ 2 (ascending) with their labels, and the last current-version description. */
interface Family {
  at: number;
  versions: number[];
  labels: string[];
  current?: { src: XksKeyDescription; version: number; desc: XksKeyDescription };
}

/** The version index's families from a scan of every key. */
function familiesOf(keys: readonly KeyInfo[], now: number): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const k of keys) {
    const v = isVersionKey(k) ? parseVersionLabel(k.name) : undefined;
    if (!v) continue;
    let fam = families.get(v.name);
    if (!fam) {
      fam = { at: now, versions: [], labels: [] };
      families.set(v.name, fam);
    }
    if (!fam.versions.includes(v.version)) addVersion(fam, v.name, v.version);
  }
  return families;
}

/** Inserts `version` (and its label) into a family's ascending list. */
function addVersion(fam: Family, name: string, version: number): void {
  let i = fam.versions.length;
  while (i > 0 && fam.versions[i - 1]! > version) i--;
  fam.versions.splice(i, 0, version);
  fam.labels.splice(i, 0, versionLabel(name, version));
}

/**
 * A version of a rotated family with neither usage is disabled, whoever made it (a single key keeps
 * the older rule: only a key ciop made reads as disabled; another tool's is a "no usage" key).
 */
function asVersion(d: XksKeyDescription | undefined): XksKeyDescription | undefined {
  return d?.enabled && !d.canEncrypt && !d.canDecrypt && d.keySpec === "AES_256" ? { ...d, enabled: false, canEncrypt: true, canDecrypt: true } : d;
}

/**
 * A key that can be a version ≥ 2 of a family: AES-256, sensitive and never extractable (what
 * `keys rotate` makes), whatever tool made it. A weaker key with a version label is ignored.
 */
function isVersionKey(k: KeyInfo): boolean {
  return k.type === "AES-256" && k.sensitive && !k.extractable;
}

/** A cached session copy stays valid while the token key and what it may do are unchanged. */
function sameUse(before: KeyState, key: HsmKey, desc: XksKeyDescription): boolean {
  const d = before.desc;
  return (
    before.key === key && d !== undefined && d.enabled === desc.enabled && d.canEncrypt === desc.canEncrypt && d.canDecrypt === desc.canDecrypt && desc.enabled
  );
}

function isAes(key: HsmKey): boolean {
  return key.type.startsWith("AES-");
}

/** The XKS description of a key from its type and usage attributes (undefined: no such key). */
function describeState(key: HsmKey | undefined, u: KeyUsage | undefined): XksKeyDescription | undefined {
  if (!key) return undefined;
  const m = /^(AES|HMAC|RSA|EC)-(.*)$/.exec(key.type);
  const keySpec = m ? `${m[1]}_${m[2]}` : key.type;
  if (m?.[1] !== "AES" || !u) return { keySpec, enabled: true, canEncrypt: false, canDecrypt: false };
  // ciop's admin disables a key by clearing both usages; a key ciop created always has both
  // when enabled. A foreign key with neither usage is a "no usage" key, not a disabled one.
  const disabled = key.createdByCiop && !u.encrypt && !u.decrypt;
  return disabled ? { keySpec, enabled: false, canEncrypt: true, canDecrypt: true } : { keySpec, enabled: true, canEncrypt: u.encrypt, canDecrypt: u.decrypt };
}
