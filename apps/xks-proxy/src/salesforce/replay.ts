/**
 * Replay detection for Salesforce cache-only callouts: a nonce answered with 200 within the window
 * is refused (409). A callout reserves its nonce while it is served; the reservation becomes a
 * record only when a 200 is sent and is dropped on any other answer, so Salesforce's retry of a
 * failed callout (423, 500, 503...) is served, while two concurrent callouts with one nonce cannot
 * both succeed (the second sees the reservation).
 *
 * Three stores hold the nonces, one interface:
 * - {@link NonceCache}: this process's memory (one process, no fleet);
 * - {@link PrimaryNonceStore}: a cluster worker asks the primary over IPC, which keeps one
 *   NonceCache for all workers of the host (`[server] processes` > 1, no fleet);
 * - RedisNonceStore (src/fleet/): Redis/Valkey shared by every instance (`[fleet] redis_url`).
 */
import { randomBytes } from "node:crypto";

/** The answer to a reservation: `reserved` carries the token that commits or releases it. */
export type ReserveOutcome =
  | { outcome: "reserved"; token: string }
  | { outcome: "replayed" }
  /** The local store holds max_entries live nonces: refuse rather than forget. */
  | { outcome: "full" }
  /** The shared store cannot be reached: the nonce cannot be checked, so the callout is refused (retryable). */
  | { outcome: "unavailable"; reason: string };

export interface NonceStore {
  reserve(nonce: string, windowMs: number, maxEntries: number): Promise<ReserveOutcome>;
  /**
   * The callout is about to be answered 200: the nonce is refused for `windowMs` from now. False
   * when the store could not record it (the callout is then refused with a retryable 503).
   */
  commit(nonce: string, token: string, windowMs: number): Promise<boolean>;
  /** The callout failed: the nonce may be used again. */
  release(nonce: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** How long a reservation lives when its holder never commits or releases it (a process that died mid-callout). */
export const RESERVATION_TTL_MS = 30_000;

interface Entry {
  expires: number;
  /** The reservation's token while in flight; undefined once committed. */
  token: string | undefined;
}

/**
 * In-memory nonces of one process (or of a cluster's primary). Bounded: when `maxEntries` live
 * nonces are held, a new one is refused ("full") rather than an old one forgotten early.
 */
export class NonceCache implements NonceStore {
  private readonly seen = new Map<string, Entry>();
  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.seen.size;
  }

  private prune(t: number): void {
    // Entries are re-inserted when their expiry changes, but windows and reservations differ in
    // length, so the map is only roughly in expiry order: drop expired ones from the front, and
    // scan everything only when the map is full.
    for (const [nonce, e] of this.seen) {
      if (e.expires > t) break;
      this.seen.delete(nonce);
    }
  }

  reserveSync(nonce: string, maxEntries: number): ReserveOutcome {
    const t = this.now();
    this.prune(t);
    const e = this.seen.get(nonce);
    if (e !== undefined && e.expires > t) return { outcome: "replayed" };
    if (this.seen.size >= maxEntries) {
      for (const [n, x] of this.seen) if (x.expires <= t) this.seen.delete(n);
      if (this.seen.size >= maxEntries) return { outcome: "full" };
    }
    const token = randomBytes(9).toString("base64url");
    this.seen.delete(nonce);
    this.seen.set(nonce, { expires: t + RESERVATION_TTL_MS, token });
    return { outcome: "reserved", token };
  }

  commitSync(nonce: string, token: string, windowMs: number): void {
    // a reservation that outlived RESERVATION_TTL_MS is recorded all the same
    const e = this.seen.get(nonce);
    if (e !== undefined && e.token !== token && e.expires > this.now()) return;
    this.seen.delete(nonce);
    this.seen.set(nonce, { expires: this.now() + windowMs, token: undefined });
  }

  releaseSync(nonce: string, token: string): void {
    if (this.seen.get(nonce)?.token === token) this.seen.delete(nonce);
  }

  reserve(nonce: string, _windowMs: number, maxEntries: number): Promise<ReserveOutcome> {
    return Promise.resolve(this.reserveSync(nonce, maxEntries));
  }
  commit(nonce: string, token: string, windowMs: number): Promise<boolean> {
    this.commitSync(nonce, token, windowMs);
    return Promise.resolve(true);
  }
  release(nonce: string, token: string): Promise<void> {
    this.releaseSync(nonce, token);
    return Promise.resolve();
  }

  clear(): void {
    this.seen.clear();
  }

  close(): Promise<void> {
    this.clear();
    return Promise.resolve();
  }
}

// ------------------------------------------------------------------ one host: through the primary

/** IPC message names between a cluster worker and the primary. */
export const NONCE_REQUEST = "xks-proxy:nonce";
export const NONCE_ANSWER = "xks-proxy:nonce-answer";

export interface NonceRequest {
  cmd: typeof NONCE_REQUEST;
  id: number;
  op: "reserve" | "commit" | "release";
  nonce: string;
  token?: string;
  windowMs: number;
  maxEntries: number;
}

export interface NonceAnswer {
  cmd: typeof NONCE_ANSWER;
  id: number;
  result?: ReserveOutcome;
}

/** The primary's side: answers its workers' nonce requests from one NonceCache for the host. */
export function answerNonceRequest(cache: NonceCache, m: NonceRequest): NonceAnswer {
  if (m.op === "reserve") return { cmd: NONCE_ANSWER, id: m.id, result: cache.reserveSync(m.nonce, m.maxEntries) };
  if (m.op === "commit" && m.token !== undefined) cache.commitSync(m.nonce, m.token, m.windowMs);
  if (m.op === "release" && m.token !== undefined) cache.releaseSync(m.nonce, m.token);
  return { cmd: NONCE_ANSWER, id: m.id };
}

export function isNonceRequest(m: unknown): m is NonceRequest {
  const r = m as Partial<NonceRequest> | null;
  return typeof r === "object" && r !== null && r.cmd === NONCE_REQUEST && typeof r.id === "number" && typeof r.nonce === "string";
}

/**
 * A cluster worker's nonce store: every operation is a request to the primary, which holds the
 * host's nonces. A primary that does not answer within `timeoutMs` makes the reservation
 * "unavailable" (the callout gets a retryable 503, never a 200 that could be a replay).
 */
export class PrimaryNonceStore implements NonceStore {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (a: NonceAnswer) => void; timer: NodeJS.Timeout }>();
  private readonly onMessage = (m: unknown): void => {
    const a = m as Partial<NonceAnswer> | null;
    if (typeof a !== "object" || a === null || a.cmd !== NONCE_ANSWER || typeof a.id !== "number") return;
    const w = this.waiting.get(a.id);
    if (!w) return;
    this.waiting.delete(a.id);
    clearTimeout(w.timer);
    w.resolve(a as NonceAnswer);
  };

  constructor(
    private readonly proc: NodeJS.Process = process,
    private readonly timeoutMs = 1000,
  ) {
    proc.on("message", this.onMessage);
  }

  private ask(op: NonceRequest["op"], nonce: string, windowMs: number, maxEntries: number, token?: string): Promise<NonceAnswer | undefined> {
    return new Promise((resolve) => {
      if (typeof this.proc.send !== "function" || !this.proc.connected) return resolve(undefined);
      const id = this.next++;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve, timer });
      const msg: NonceRequest = { cmd: NONCE_REQUEST, id, op, nonce, windowMs, maxEntries, ...(token !== undefined ? { token } : {}) };
      try {
        this.proc.send(msg, undefined, {}, (err) => {
          if (err) {
            clearTimeout(timer);
            this.waiting.delete(id);
            resolve(undefined);
          }
        });
      } catch {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(undefined);
      }
    });
  }

  async reserve(nonce: string, windowMs: number, maxEntries: number): Promise<ReserveOutcome> {
    const a = await this.ask("reserve", nonce, windowMs, maxEntries);
    return a?.result ?? { outcome: "unavailable", reason: "the cluster primary did not answer" };
  }
  async commit(nonce: string, token: string, windowMs: number): Promise<boolean> {
    return (await this.ask("commit", nonce, windowMs, 0, token)) !== undefined;
  }
  async release(nonce: string, token: string): Promise<void> {
    await this.ask("release", nonce, 0, 0, token);
  }
  close(): Promise<void> {
    this.proc.off("message", this.onMessage);
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.resolve({ cmd: NONCE_ANSWER, id });
    }
    return Promise.resolve();
  }
}
