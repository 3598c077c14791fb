/**
 * A store's rate limit shared by the fleet. Redis holds the one token bucket of the store
 * (`<prefix>:rate:<store>`, refilled by Redis's own clock in a Lua script); each proxy process
 * leases tokens from it in small batches and spends them locally, so an XKS request never waits
 * for Redis: `take()` is a local decrement, and the stash is topped up in the background when it
 * runs low. The fleet as a whole admits at most what the bucket grants (burst + rps × time); an
 * instance holds at most one batch it has not used yet.
 *
 * While Redis is unreachable each process enforces a local bucket of `1/fleet_size` (× its own
 * share of the host's processes) of the store's rate, so the fleet's total stays near the
 * configured one without Redis.
 */
import { TokenBucket, type StoreLimiter } from "../rate-limit.js";
import type { FleetRedis } from "./redis.js";

// KEYS[1] = bucket; ARGV: rps, burst, tokens wanted. Returns the tokens granted (0..wanted).
const LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rps / 1000) end
if tokens > burst then tokens = burst end
local grant = math.min(want, math.floor(tokens))
if grant < 0 then grant = 0 end
tokens = tokens - grant
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rps * 1000) + 60000)
return grant`;

/** Tokens leased at a time: about 50 ms of the rate, at most a quarter of the burst, at least 1. */
export function leaseBatch(rps: number, burst: number): number {
  return Math.max(1, Math.min(Math.ceil(burst / 4), Math.ceil(rps / 20)));
}

export class FleetTokenBucket implements StoreLimiter {
  private stash = 0;
  private leasing = false;
  private timer: NodeJS.Timeout | undefined;
  private batch: number;
  private readonly fallback: TokenBucket;
  private closed = false;
  /** Tokens granted by Redis so far (tests, metrics). */
  leased = 0;

  constructor(
    private readonly redis: FleetRedis,
    private readonly store: string,
    private rps: number,
    private burst: number,
    /** This process's share of the rate when Redis is unreachable. */
    private fallbackShare: number,
  ) {
    this.batch = leaseBatch(rps, burst);
    this.fallback = new TokenBucket(rps * fallbackShare, Math.max(1, Math.ceil(burst * fallbackShare)));
    if (redis.available) this.lease();
    else redis.client.once("ready", () => this.lease());
  }

  update(rps: number, burst: number, fallbackShare = this.fallbackShare): void {
    this.rps = rps;
    this.burst = burst;
    this.fallbackShare = fallbackShare;
    this.batch = leaseBatch(rps, burst);
    this.stash = Math.min(this.stash, this.batch);
    this.fallback.update(rps * fallbackShare, Math.max(1, Math.ceil(burst * fallbackShare)));
  }

  take(): boolean {
    if (this.stash >= 1) {
      this.stash -= 1;
      if (this.stash < this.batch / 2 + 0.5) this.lease();
      return true;
    }
    if (!this.redis.available) return this.fallback.take();
    this.lease();
    return false;
  }

  private lease(): void {
    if (this.leasing || this.closed || !this.redis.available || this.timer !== undefined) return;
    const want = this.batch - Math.floor(this.stash);
    if (want <= 0) return;
    this.leasing = true;
    this.redis.client.eval(LEASE, 1, this.redis.key("rate", this.store), String(this.rps), String(this.burst), String(want)).then(
      (granted) => {
        this.leasing = false;
        const n = typeof granted === "number" ? granted : Number(granted);
        this.stash = Math.min(this.batch, this.stash + n);
        this.leased += n;
        // short of a full batch: come back when the bucket will have refilled the difference
        const missing = this.batch - this.stash;
        if (missing > 0) this.later(Math.min(1000, Math.max(5, (missing / this.rps) * 1000)));
      },
      () => {
        this.leasing = false;
        this.later(100);
      },
    );
  }

  private later(ms: number): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lease();
    }, ms);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
