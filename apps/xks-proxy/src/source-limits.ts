/**
 * What one client address may cost the proxy before it has proved who it is:
 *
 * - connections at once per source (`[server] max_connections_per_source`): a new connection past
 *   the cap is closed at accept, before TLS; established connections are not touched;
 * - unauthenticated requests per source (`[server] unauthenticated_rps_per_source` and
 *   `unauthenticated_burst_per_source`): a token bucket charged by every XKS request that is
 *   answered without a verified signature (401, 404 InvalidUriPath, 405, 501 body too large). A
 *   source whose bucket is empty gets 429 ThrottlingException (retryable, the spec's answer for a
 *   rate that is too high) before any parsing or SigV4 work, its connection is closed after that
 *   answer, and its new connections are closed at accept until the bucket holds a token again.
 *
 * A source is the peer address: IPv4 (an IPv4-mapped IPv6 address counts as IPv4) or an IPv6 /64
 * (one host usually holds a whole /64). Behind a load balancer that does not preserve client
 * addresses every client is one source: raise or switch off (0) the per-source limits there.
 *
 * The table is bounded (`maxSources`): past it, new sources share one entry. An entry goes away
 * when its last connection closes and its bucket is full again.
 */

/** The limits, read at each use (a reloaded configuration applies at once). */
export interface SourceLimitSettings {
  /** Connections at once from one source; 0 = no limit. */
  readonly maxConnectionsPerSource: number;
  /** Sustained unauthenticated requests per second per source; 0 = no limit. */
  readonly unauthenticatedRpsPerSource: number;
  /** Unauthenticated requests a source may send at once (bucket size). */
  readonly unauthenticatedBurstPerSource: number;
}

interface SourceState {
  connections: number;
  /** Unauthenticated-request tokens left, as of `last`. */
  tokens: number;
  last: number;
}

const SWEEP_MS = 10_000;
/** Where sources past `maxSources` are counted together. */
const OVERFLOW = "*";

/** The source key of a peer address: IPv4 as is, IPv6 by its /64. */
export function sourceOf(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  if (address.startsWith("::ffff:") && address.includes(".")) return address.slice(7);
  if (!address.includes(":")) return address;
  // expand "::" enough to take the first four groups
  const [head = "", tail] = address.split("::");
  const groups = head === "" ? [] : head.split(":");
  if (tail !== undefined) {
    const tailGroups = tail === "" ? [] : tail.split(":");
    while (groups.length + tailGroups.length < 8) groups.push("0");
    groups.push(...tailGroups);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Per-source connection counts and unauthenticated-request budgets for one listener. */
export class SourceLimits {
  private readonly sources = new Map<string, SourceState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly maxSources: number;
  private readonly now: () => number;

  constructor(
    private readonly settings: () => SourceLimitSettings,
    opts: { maxSources?: number; now?: () => number } = {},
  ) {
    this.maxSources = opts.maxSources ?? 65_536;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Sources tracked now. */
  get size(): number {
    return this.sources.size;
  }

  /** The key `source` is counted under (OVERFLOW when the table is full), with its entry. */
  private entry(source: string): [string, SourceState] {
    let s = this.sources.get(source);
    if (s !== undefined) return [source, s];
    if (this.sources.size >= this.maxSources) {
      source = OVERFLOW;
      s = this.sources.get(OVERFLOW);
      if (s !== undefined) return [source, s];
    }
    s = { connections: 0, tokens: this.settings().unauthenticatedBurstPerSource, last: this.now() };
    this.sources.set(source, s);
    if (this.timer === undefined) this.timer = setInterval(() => this.sweep(), SWEEP_MS).unref();
    return [source, s];
  }

  private refill(s: SourceState): number {
    const { unauthenticatedRpsPerSource: rps, unauthenticatedBurstPerSource: burst } = this.settings();
    const t = this.now();
    s.tokens = Math.min(burst, s.tokens + ((t - s.last) / 1000) * rps);
    s.last = t;
    return s.tokens;
  }

  /**
   * A new connection from `source`: `{ key }` to pass to {@link releaseConnection} when it closes,
   * or why it is refused.
   */
  admitConnection(source: string): { key: string } | { refused: "max_connections_per_source" | "unauthenticated_rate" } {
    const { maxConnectionsPerSource: max, unauthenticatedRpsPerSource: rps } = this.settings();
    if (max === 0 && rps === 0) return { key: "" };
    const [key, s] = this.entry(source);
    if (max > 0 && s.connections >= max) return { refused: "max_connections_per_source" };
    if (rps > 0 && this.refill(s) < 1) return { refused: "unauthenticated_rate" };
    s.connections++;
    return { key };
  }

  /** A connection admitted under `key` closed. */
  releaseConnection(key: string): void {
    const s = this.sources.get(key);
    if (s === undefined) return;
    if (s.connections > 0) s.connections--;
    this.forgetIfIdle(key, s);
  }

  private forgetIfIdle(key: string, s: SourceState): void {
    if (s.connections > 0) return;
    const { unauthenticatedRpsPerSource: rps, unauthenticatedBurstPerSource: burst } = this.settings();
    if (rps === 0 || this.refill(s) >= burst) this.sources.delete(key);
  }

  /** Is `source` over its unauthenticated rate (its requests get 429 before any other work)? */
  throttled(source: string): boolean {
    if (this.settings().unauthenticatedRpsPerSource === 0) return false;
    const s = this.sources.get(source) ?? (this.sources.size >= this.maxSources ? this.sources.get(OVERFLOW) : undefined);
    // a refill only adds tokens: a source that still holds one is not throttled (no clock read per request)
    return s !== undefined && s.tokens < 1 && this.refill(s) < 1;
  }

  /**
   * Charges one unauthenticated request to `source`; false when the source has no budget left
   * (close its connection after this answer).
   */
  chargeUnauthenticated(source: string): boolean {
    if (this.settings().unauthenticatedRpsPerSource === 0) return true;
    const [, s] = this.entry(source);
    const left = this.refill(s);
    s.tokens = Math.max(0, left - 1);
    return s.tokens >= 1;
  }

  /** Drops entries with no connection whose bucket has refilled (every SWEEP_MS while any exist). */
  sweep(): void {
    for (const [key, s] of this.sources) this.forgetIfIdle(key, s);
    if (this.sources.size === 0) this.close();
  }

  /** Stops the sweep timer (entries stay). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
