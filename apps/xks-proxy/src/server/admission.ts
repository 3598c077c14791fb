/**
 * Who gets what: the key stores as @ciop/xks serves them, with each store's rate limit (per
 * process, or shared through `[fleet]`), its principal allow-list and the store-key policy (keys
 * that must stay inside the HSM). A reload prepares a verdict on the new stores' keys first and
 * applies everything in one synchronous step.
 */
import type { Hsm } from "@ciop/hsm";
import { ThrottlingException, type GetHealthStatusResponse, type XksKeyStore, type XksServiceOptions } from "@ciop/xks";
import type { ProxyConfig, StoreConfig } from "../config/index.js";
import type { Fleet } from "../fleet/index.js";
import type { HsmBackend } from "../hsm-backend.js";
import { TokenBucket, type StoreLimiter } from "../rate-limit.js";
import { checkStoreKeys, StoreKeyGuard, type StoreKeyVerdict } from "../store-key-policy.js";

/** A store as the pipeline hands it back to the callbacks, with what they check carried on it (no lookups per request). */
interface AdmittedStore extends XksKeyStore {
  limiter?: StoreLimiter;
  principals?: Set<string>;
}

function storeOf(s: StoreConfig, limiter: StoreLimiter | undefined): AdmittedStore {
  const store: AdmittedStore = { name: s.name, uriPrefix: s.uriPrefix, credentials: s.credentials, regions: s.regions, keys: new Set(s.keys) };
  if (limiter) store.limiter = limiter;
  if (s.allowedPrincipals !== undefined) store.principals = new Set(s.allowedPrincipals);
  return store;
}

const THROTTLED = "the key store's request rate limit was exceeded; retry";

export class Admission {
  /** The options @ciop/xks's pipeline runs with (stores, limits and compat replaced by each apply). */
  readonly service: XksServiceOptions;
  private limiters = new Map<string, StoreLimiter>();
  private readonly guard: StoreKeyGuard;
  /** The warnings of the verdict in force (weak keys served under allow_weak_keys). */
  warnings: string[] = [];

  constructor(
    private readonly backend: HsmBackend,
    health: () => Promise<GetHealthStatusResponse>,
    private readonly fleet: Fleet | undefined,
    /** This process's share of each store's rate limit (1/N with N processes). */
    private readonly share: number,
    log: (record: Record<string, unknown>) => void,
  ) {
    this.guard = new StoreKeyGuard(log);
    const guard = this.guard;
    this.service = {
      stores: [],
      crypto: backend,
      health,
      authorize: (store, _op, keyId, md) => {
        const allowed = (store as AdmittedStore).principals;
        if (allowed !== undefined && (md.awsPrincipalArn === undefined || !allowed.has(md.awsPrincipalArn))) return false;
        // a key that was not in the token when the config was applied is checked when first found
        guard.admit(backend.hsm, store.name ?? "", keyId);
        return true;
      },
      admit: (store) => {
        const limiter = (store as AdmittedStore).limiter;
        if (limiter !== undefined && !limiter.take()) throw new ThrottlingException(THROTTLED);
      },
    };
  }

  /** Checks the keys `c`'s stores list (a weak key refuses the start or the reload). */
  prepare(c: ProxyConfig, hsm: Hsm = this.backend.hsm): StoreKeyVerdict {
    return checkStoreKeys(hsm, c.stores);
  }

  /** Applies `c`'s stores, limits and compat with the verdict `prepare` gave (synchronous). */
  apply(c: ProxyConfig, verdict: StoreKeyVerdict): void {
    const next = new Map<string, StoreLimiter>();
    for (const s of c.stores) {
      if (s.rateLimit) next.set(s.name, this.limiter(s, s.rateLimit, c.health.fleetSize));
    }
    for (const [name, old] of this.limiters) if (next.get(name) !== old) old.close?.();
    this.limiters = next;
    this.service.stores = c.stores.map((s) => storeOf(s, next.get(s.name)));
    this.service.limits = c.limits;
    this.service.compat = {
      sampleProxyAad: c.compat.sampleProxyAad,
      ...(c.compat.sampleProxyMetadata ? { sampleProxyMetadata: c.compat.sampleProxyMetadata } : {}),
    };
    this.guard.apply(verdict);
    this.warnings = verdict.warnings;
  }

  close(): void {
    for (const l of this.limiters.values()) l.close?.();
    this.limiters.clear();
  }

  /** The store's limiter, the running one updated when the store keeps its name. */
  private limiter(s: StoreConfig, rate: NonNullable<StoreConfig["rateLimit"]>, fleetSize: number): StoreLimiter {
    const old = this.limiters.get(s.name);
    if (this.fleet) {
      // the store's whole rate, shared through Redis; while Redis is unreachable this process
      // enforces its share of 1/fleet_size of it
      const fallback = this.share / fleetSize;
      if (old) {
        old.update(rate.rps, rate.burst, fallback);
        return old;
      }
      return this.fleet.rateLimiter(s.name, rate.rps, rate.burst, fallback);
    }
    const rps = rate.rps * this.share;
    const burst = Math.max(1, Math.ceil(rate.burst * this.share));
    if (old) {
      old.update(rps, burst);
      return old;
    }
    return new TokenBucket(rps, burst);
  }
}
