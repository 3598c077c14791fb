/**
 * The proxy's key manager over @ciop/hsm: AES-GCM on pooled PKCS#11 sessions through pkcs11js's
 * async calls (libuv threadpool, so the event loop never waits for the HSM), cached key handles,
 * a short-TTL key-state cache (enable/disable lives in the key's own attributes), a per-call
 * timeout (→ 503 DependencyTimeoutException) and a PKCS#11 context reset after device errors.
 */
import { CiopError } from "@ciop/core";
import { Hsm, HsmError, type HsmKey, type HsmOptions } from "@ciop/hsm";
import { DependencyTimeoutException, InternalException, type XksCrypto, type XksKeyDescription } from "@ciop/xks";
import type { HsmConfig } from "./config/index.js";

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
}

interface KeyState {
  at: number;
  desc: XksKeyDescription | undefined;
  key: HsmKey | undefined;
}

export class HsmBackend implements XksCrypto {
  private current: Hsm;
  private reopening: Promise<void> | undefined;
  private readonly states = new Map<string, KeyState>();
  private closed = false;
  /** How many context resets happened (metrics/tests). */
  resets = 0;

  private constructor(
    hsm: Hsm,
    private readonly options: HsmOptions,
    private cfg: HsmConfig,
    private readonly hooks: HsmBackendHooks,
  ) {
    this.current = hsm;
  }

  /**
   * Opens the configured token. `extra` adds @ciop/hsm options the config file does not offer
   * (tests use `assumeHardwareToken` to see the host-fallback switch act on SoftHSM).
   */
  static async open(cfg: HsmConfig, hooks: HsmBackendHooks = {}, extra: Partial<HsmOptions> = {}): Promise<HsmBackend> {
    const options: HsmOptions = { ...extra, sessionPoolSize: cfg.sessionPool, allowHostFallback: cfg.allowHostFallback };
    if (cfg.library !== undefined) options.library = cfg.library;
    if (cfg.token !== undefined) options.token = cfg.token;
    if (cfg.pin !== undefined) options.pin = cfg.pin;
    for (const [k, v] of Object.entries(cfg.env ?? {})) if (process.env[k] === undefined) process.env[k] = v;
    const hsm = await Hsm.open(options);
    return new HsmBackend(hsm, options, cfg, hooks);
  }

  /** The live Hsm (replaced after a context reset). */
  get hsm(): Hsm {
    return this.current;
  }

  /** Timeout and key-state TTL can change on reload; library/token/pool need a restart. */
  updateConfig(cfg: HsmConfig): void {
    this.cfg = { ...this.cfg, timeoutMs: cfg.timeoutMs, keyStateTtlMs: cfg.keyStateTtlMs, callMode: cfg.callMode };
  }

  get timeoutMs(): number {
    return this.cfg.timeoutMs;
  }

  /** Forgets cached key state (after an admin change in this process). */
  invalidate(keyId?: string): void {
    if (keyId === undefined) this.states.clear();
    else this.states.delete(keyId);
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
   * `call_mode = "sync"`: runs `fn` (a synchronous PKCS#11 call) right away on the event loop. A
   * timer cannot interrupt a synchronous call, so no per-call timer is armed (it could never fire
   * before the call returned); during a context reset or shutdown it falls back to
   * {@link withTimeout}, which waits for the reset within the timeout.
   */
  private onLoop<T>(operation: string, fn: () => T): Promise<T> {
    if (this.reopening || this.closed) return this.withTimeout(operation, fn);
    const start = process.hrtime.bigint();
    let outcome: "ok" | "error" = "ok";
    try {
      return Promise.resolve(fn());
    } catch (err) {
      outcome = "error";
      this.checkFatal(err);
      return Promise.reject(err);
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

  private checkFatal(err: unknown): void {
    if (err instanceof HsmError && err.ckr !== undefined && FATAL_CKR.has(err.ckr)) {
      this.hooks.event?.({ msg: "hsm-device-error", ckr: err.ckr, fn: err.fn });
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
      this.states.clear();
      const old = this.current;
      // close() waits for in-flight calls; a hung device must not hold the reset forever
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([old.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      let delay = 100;
      for (;;) {
        try {
          this.current = await Hsm.open(this.options);
          this.hooks.event?.({ msg: "hsm-context-reset", ok: true });
          return;
        } catch (err) {
          this.hooks.event?.({ msg: "hsm-context-reset", ok: false, error: (err as CiopError).code ?? "error" });
          if (this.closed) return;
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(delay * 2, 5000);
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
    const hsm = this.current;
    const key = hsm.findKey(keyId);
    let desc: XksKeyDescription | undefined;
    if (key) {
      const m = /^(AES|HMAC|RSA|EC)-(.*)$/.exec(key.type);
      const keySpec = m ? `${m[1]}_${m[2]}` : key.type;
      if (m?.[1] !== "AES") {
        desc = { keySpec, enabled: true, canEncrypt: false, canDecrypt: false };
      } else {
        const u = hsm.keyUsage(key);
        // ciop's admin disables a key by clearing both usages; a key ciop created always has both
        // when enabled. A foreign key with neither usage is a "no usage" key, not a disabled one.
        const disabled = key.createdByCiop && !u.encrypt && !u.decrypt;
        desc = disabled
          ? { keySpec, enabled: false, canEncrypt: true, canDecrypt: true }
          : { keySpec, enabled: true, canEncrypt: u.encrypt, canDecrypt: u.decrypt };
      }
    }
    const state = { at: now, desc, key };
    this.states.set(keyId, state);
    return state;
  }

  /**
   * Key state from the short-TTL cache, or a fresh attribute read (a synchronous, local PKCS#11
   * call that a timer could not interrupt anyway, so no timeout wrapper here).
   */
  async describeKey(keyId: string): Promise<XksKeyDescription | undefined> {
    if (this.reopening) await this.bounded("describeKey", this.reopening);
    try {
      return this.lookup(keyId).desc;
    } catch (err) {
      this.checkFatal(err);
      throw err;
    }
  }

  private keyFor(keyId: string): HsmKey {
    const key = this.lookup(keyId).key;
    if (!key) throw new CiopError("ERR_KEY_NOT_FOUND", "the external key was not found in the HSM");
    return key;
  }

  encrypt(keyId: string, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (this.cfg.callMode === "sync") return this.onLoop("encrypt", () => this.current.encryptAesGcm(this.keyFor(keyId), iv, plaintext, aad));
    return this.withTimeout("encrypt", () => this.current.encryptAesGcmAsync(this.keyFor(keyId), iv, plaintext, aad));
  }

  decrypt(keyId: string, iv: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (this.cfg.callMode === "sync") return this.onLoop("decrypt", () => this.current.decryptAesGcm(this.keyFor(keyId), iv, ciphertextAndTag, aad));
    return this.withTimeout("decrypt", () => this.current.decryptAesGcmAsync(this.keyFor(keyId), iv, ciphertextAndTag, aad));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reopening) await this.reopening.catch(() => undefined);
    await this.current.close();
  }
}
