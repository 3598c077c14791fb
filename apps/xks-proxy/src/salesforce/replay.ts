/**
 * Replay detection for Salesforce cache-only callouts: a nonce seen within the window is refused.
 * In memory, per process; entries expire after the window. Bounded: when full of live nonces, new
 * requests are refused (503) rather than forgetting nonces early.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  constructor(
    private windowMs: number,
    private maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  configure(windowMs: number, maxEntries: number): void {
    this.windowMs = windowMs;
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(t: number): void {
    // Insertion order = expiry order (one window for all), so stop at the first live entry.
    for (const [nonce, expires] of this.seen) {
      if (expires > t) break;
      this.seen.delete(nonce);
    }
  }

  /** Records `nonce`. "fresh" = first time in the window; "replayed"; "full" = cache at capacity. */
  check(nonce: string): "fresh" | "replayed" | "full" {
    const t = this.now();
    this.prune(t);
    const expires = this.seen.get(nonce);
    if (expires !== undefined && expires > t) return "replayed";
    if (this.seen.size >= this.maxEntries) return "full";
    this.seen.set(nonce, t + this.windowMs);
    return "fresh";
  }

  clear(): void {
    this.seen.clear();
  }
}
