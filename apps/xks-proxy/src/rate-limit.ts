/** What `admit` asks of a store's rate limiter: one token per request, decided without waiting. */
export interface StoreLimiter {
  /** Takes one token; false when the store is over its rate. Never waits. */
  take(): boolean;
  /** New rate; `fallbackShare` is for limiters that have a local fallback (the fleet's). */
  update(rps: number, burst: number, fallbackShare?: number): void;
  close?(): void;
}

/** Token bucket per key store: `rps` sustained, `burst` at once. */
export class TokenBucket implements StoreLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private rps: number,
    private burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  update(rps: number, burst: number): void {
    this.rps = rps;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  /** Takes one token; false when the store is over its rate. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rps);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
