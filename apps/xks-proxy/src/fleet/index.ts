/**
 * `[fleet]`: state shared by every proxy instance through Redis/Valkey (`redis_url`): the
 * Salesforce replay nonces and each store's rate limit. Without it, replay nonces are shared by the
 * processes of one host (through the cluster primary) and rate limits are per host.
 */
import type { FleetConfig } from "../config/index.js";
import type { NonceStore } from "../salesforce/replay.js";
import { RedisNonceStore } from "./nonces.js";
import { FleetTokenBucket } from "./rate.js";
import { FleetRedis, type FleetLog } from "./redis.js";

export { FleetRedis, redactRedisUrl, type FleetLog } from "./redis.js";
export { FleetTokenBucket, leaseBatch } from "./rate.js";
export { RedisNonceStore } from "./nonces.js";

export class Fleet {
  readonly redis: FleetRedis;
  readonly nonces: NonceStore;

  private constructor(cfg: FleetConfig, log: FleetLog) {
    this.redis = new FleetRedis(cfg, log);
    this.nonces = new RedisNonceStore(this.redis);
  }

  /** Connects (waiting at most `waitMs`; an unreachable Redis is logged and retried, not fatal). */
  static async start(cfg: FleetConfig, log: FleetLog, waitMs = 2000): Promise<Fleet> {
    const f = new Fleet(cfg, log);
    await f.redis.ready(waitMs);
    return f;
  }

  /** A store's fleet-wide rate limiter; `fallbackShare` of the rate applies while Redis is unreachable. */
  rateLimiter(store: string, rps: number, burst: number, fallbackShare: number): FleetTokenBucket {
    return new FleetTokenBucket(this.redis, store, rps, burst, fallbackShare);
  }

  close(): Promise<void> {
    return this.redis.close();
  }
}
