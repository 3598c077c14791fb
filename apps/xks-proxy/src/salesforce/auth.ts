/**
 * Authentication of Salesforce's callout, as named credentials do it: HTTP Basic against a stored
 * scrypt hash, and/or a bearer JWT verified (with jose) against a configured certificate or public
 * key, with a required audience; optionally a client certificate (mTLS through the server's TLS
 * listener).
 *
 * 401 = no or bad credentials (with WWW-Authenticate); 403 = client certificate missing or not
 * allowed; 429 (Retry-After) = this source failed too many password checks and is backing off;
 * 503 (Retry-After: 1) = too many password checks already waiting.
 *
 * scrypt costs 32 MiB and tens of milliseconds per check (default parameters), so it is rationed:
 * - a Basic header that verified is remembered (a keyed hash of it, never the value) and accepted
 *   again without scrypt as long as it keeps being used: each use extends it by 5 minutes;
 *   a refused one is refused again for 10 seconds without scrypt;
 * - callouts that arrive together with the same unverified header share one check;
 * - one check runs at a time per process (it runs on the libuv threadpool that async HSM calls
 *   also use: a single check leaves them the rest of it), with at most 32 waiting, and at most 2
 *   of those from one source address (an IPv6 /64 counts as one);
 * - a source whose checks keep failing (5 in a row) backs off: it is answered 429 without a
 *   check for 1 s, doubling with each further failure up to 60 s; a success ends it. At most
 *   4096 sources are tracked (the least recently failing are forgotten first).
 * So a flood of wrong passwords from one address costs a handful of checks, and other sources,
 * and credentials already verified, keep being served.
 */
import { createHash, createHmac, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { CiopError } from "@ciop/core";
import { jwtVerify } from "jose";
import type { SalesforceAuthConfig } from "./config.js";
import { verifyPassword } from "./password.js";

export type AuthOutcome =
  | { ok: true; method: "basic" | "bearer" | "client-certificate" }
  | {
      ok: false;
      status: 401 | 403 | 429 | 503;
      error: "Unauthorized" | "Forbidden" | "TooManyFailures" | "Busy";
      reason: string;
      /** For 429 and 503: seconds before trying again. */
      retryAfterSeconds?: number;
    };

export const BASIC_CACHE_TTL_MS = 5 * 60_000;
const BASIC_REFUSED_TTL_MS = 10_000;
const BASIC_CACHE_MAX = 1024;
/** scrypt runs at once per process, how many more may wait, and how many of those from one source. */
export const SCRYPT_RUNNING_MAX = 1;
export const SCRYPT_WAITING_MAX = 32;
export const SCRYPT_PER_SOURCE_MAX = 2;
/** Failed checks in a row a source may have before it backs off; the back-off's first and longest step. */
export const FREE_FAILURES = 5;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const SOURCES_MAX = 4096;
/** A source's failures are forgotten this long after its last one. */
const SOURCE_FORGET_MS = 15 * 60_000;

/** Remembers `tag` until `expiry` (re-inserted, so the map stays in last-use order), dropping expired then oldest entries when full. */
function remember(map: Map<string, number>, tag: string, expiry: number, now: number): void {
  map.delete(tag);
  if (map.size >= BASIC_CACHE_MAX) {
    for (const [k, exp] of map) if (exp <= now || map.size >= BASIC_CACHE_MAX) map.delete(k);
  }
  map.set(tag, expiry);
}

/** A counting semaphore with a bounded queue. */
class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(
    private readonly max: number,
    private readonly queueMax: number,
  ) {}
  hasRoom(): boolean {
    return this.running < this.max || this.waiting.length < this.queueMax;
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function sha256(b: Buffer | string): Buffer {
  return createHash("sha256").update(b).digest();
}

/** The unit of back-off for a peer address: the IPv4 address, or the /64 of an IPv6 one. */
export function sourceOf(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const a = address.toLowerCase();
  if (a.startsWith("::ffff:") && a.includes(".")) return a.slice(7);
  if (!a.includes(":")) return a;
  const [head = "", tail = ""] = a.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = a.includes("::") ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

interface SourceState {
  failures: number;
  blockedUntil: number;
  lastFailure: number;
  pending: number;
}

export interface AuthenticatorOptions {
  /** Clock (ms), for tests. */
  now?: () => number;
}

export class Authenticator {
  private readonly jwtKey: KeyObject | undefined;
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, number>();
  private readonly refused = new Map<string, number>();
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly gate = new Gate(SCRYPT_RUNNING_MAX, SCRYPT_WAITING_MAX);
  private readonly sources = new Map<string, SourceState>();
  private readonly now: () => number;
  /** scrypt password checks run so far (one per distinct uncached Basic header, not per request). */
  passwordChecks = 0;

  constructor(
    private readonly cfg: SalesforceAuthConfig,
    opts: AuthenticatorOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    if (cfg.jwt) {
      try {
        this.jwtKey = createPublicKey(cfg.jwt.keyPem);
      } catch (err) {
        throw new CiopError(
          "ERR_CONFIG_INVALID",
          `salesforce.auth.jwt_key ${cfg.jwt.keyFile}: not a usable certificate or public key (${(err as Error).message})`,
        );
      }
    }
  }

  /** The WWW-Authenticate challenge for 401 responses. */
  challenge(): string {
    const c: string[] = [];
    if (this.cfg.basic) c.push('Basic realm="ciop-salesforce-cache-only", charset="UTF-8"');
    if (this.cfg.jwt) c.push('Bearer realm="ciop-salesforce-cache-only"');
    return c.join(", ");
  }

  async authenticate(req: IncomingMessage): Promise<AuthOutcome> {
    if (this.cfg.clientCertificate) {
      const sock = req.socket as Partial<TLSSocket>;
      const cert = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : undefined;
      if (!sock.encrypted || sock.authorized !== true || !cert || !cert.fingerprint256) {
        return { ok: false, status: 403, error: "Forbidden", reason: "no verified client certificate" };
      }
      const fp = cert.fingerprint256.replace(/:/g, "").toLowerCase();
      if (this.cfg.clientCertificate.sha256.length > 0 && !this.cfg.clientCertificate.sha256.includes(fp)) {
        return { ok: false, status: 403, error: "Forbidden", reason: "client certificate not in client_certificate_sha256" };
      }
      if (!this.cfg.basic && !this.cfg.jwt) return { ok: true, method: "client-certificate" };
    }
    const header = req.headers.authorization;
    if (typeof header !== "string" || header.length === 0) return { ok: false, status: 401, error: "Unauthorized", reason: "no Authorization header" };
    const sp = header.indexOf(" ");
    const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? "" : header.slice(sp + 1).trim();
    if (scheme === "basic" && this.cfg.basic) return this.basic(value, sourceOf(req.socket?.remoteAddress));
    if (scheme === "bearer" && this.cfg.jwt) return this.bearer(value);
    return { ok: false, status: 401, error: "Unauthorized", reason: `authorization scheme not accepted` };
  }

  private async basic(value: string, source: string): Promise<AuthOutcome> {
    const fail: AuthOutcome = { ok: false, status: 401, error: "Unauthorized", reason: "bad Basic credentials" };
    if (value.length > 4096 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return fail;
    const tag = createHmac("sha256", this.cacheKey).update(value).digest("hex");
    const now = this.now();
    const verifiedUntil = this.verified.get(tag);
    if (verifiedUntil !== undefined && verifiedUntil > now) {
      // sliding expiry: a credential in use stays verified
      remember(this.verified, tag, now + BASIC_CACHE_TTL_MS, now);
      return { ok: true, method: "basic" };
    }
    if ((this.refused.get(tag) ?? 0) > now) return fail;
    let check = this.checking.get(tag);
    if (check === undefined) {
      const src = this.sourceState(source, now);
      if (src && src.blockedUntil > now) {
        return {
          ok: false,
          status: 429,
          error: "TooManyFailures",
          reason: "source backing off after failed password checks",
          retryAfterSeconds: Math.ceil((src.blockedUntil - now) / 1000),
        };
      }
      if ((src?.pending ?? 0) >= SCRYPT_PER_SOURCE_MAX) {
        return { ok: false, status: 429, error: "TooManyFailures", reason: "too many password checks from this source at once", retryAfterSeconds: 1 };
      }
      if (!this.gate.hasRoom()) return { ok: false, status: 503, error: "Busy", reason: "too many password checks waiting", retryAfterSeconds: 1 };
      const entry = this.sourceEntry(source, now);
      entry.pending++;
      check = this.gate
        .run(() => this.checkBasic(value, tag))
        .then((ok) => {
          this.checked(source, ok);
          return ok;
        })
        .finally(() => {
          this.checking.delete(tag);
          const e = this.sources.get(source);
          if (e) e.pending = Math.max(0, e.pending - 1);
        });
      this.checking.set(tag, check);
    }
    return (await check) ? { ok: true, method: "basic" } : fail;
  }

  /** The source's state, forgetting it when its last failure is old and nothing is pending. */
  private sourceState(source: string, now: number): SourceState | undefined {
    const e = this.sources.get(source);
    if (e && e.pending === 0 && e.blockedUntil <= now && now - e.lastFailure > SOURCE_FORGET_MS) {
      this.sources.delete(source);
      return undefined;
    }
    return e;
  }

  private sourceEntry(source: string, now: number): SourceState {
    let e = this.sources.get(source);
    if (e === undefined) {
      if (this.sources.size >= SOURCES_MAX) {
        // forget the least recently failing source with nothing pending
        for (const [k, x] of this.sources) {
          if (x.pending === 0) {
            this.sources.delete(k);
            break;
          }
        }
      }
      e = { failures: 0, blockedUntil: 0, lastFailure: now, pending: 0 };
      this.sources.set(source, e);
    }
    return e;
  }

  /** A check from `source` finished: success ends its back-off, a failure extends it. */
  private checked(source: string, ok: boolean): void {
    const e = this.sources.get(source);
    if (e === undefined) return;
    if (ok) {
      e.failures = 0;
      e.blockedUntil = 0;
      return;
    }
    const now = this.now();
    e.failures++;
    e.lastFailure = now;
    if (e.failures >= FREE_FAILURES) e.blockedUntil = now + Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(16, e.failures - FREE_FAILURES));
    // keep the map in last-failure order for eviction
    this.sources.delete(source);
    this.sources.set(source, e);
  }

  /** Sources currently tracked (tests). */
  get trackedSources(): number {
    return this.sources.size;
  }

  /** One scrypt check of a Basic header value; the verdict is remembered under `tag`. */
  private async checkBasic(value: string, tag: string): Promise<boolean> {
    const cfg = this.cfg.basic!;
    const decoded = Buffer.from(value, "base64");
    let ok = false;
    try {
      const colon = decoded.indexOf(0x3a);
      if (colon >= 0) {
        this.passwordChecks++;
        const userOk = timingSafeEqual(sha256(decoded.subarray(0, colon)), sha256(cfg.username));
        const passOk = await verifyPassword(decoded.subarray(colon + 1), cfg.hash);
        ok = userOk && passOk;
      }
    } finally {
      decoded.fill(0);
    }
    const now = this.now();
    remember(ok ? this.verified : this.refused, tag, now + (ok ? BASIC_CACHE_TTL_MS : BASIC_REFUSED_TTL_MS), now);
    return ok;
  }

  private async bearer(token: string): Promise<AuthOutcome> {
    const jwt = this.cfg.jwt!;
    try {
      await jwtVerify(token, this.jwtKey!, {
        algorithms: jwt.algorithms,
        ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
        audience: jwt.audience,
        ...(jwt.subject !== undefined ? { subject: jwt.subject } : {}),
        maxTokenAge: jwt.maxAgeSeconds,
        clockTolerance: jwt.clockToleranceSeconds,
        requiredClaims: ["exp", "iat"],
      });
      return { ok: true, method: "bearer" };
    } catch (err) {
      const code = (err as { code?: string }).code ?? "ERR_JWT_INVALID";
      return { ok: false, status: 401, error: "Unauthorized", reason: `bearer token refused (${code})` };
    }
  }

  clear(): void {
    this.verified.clear();
    this.refused.clear();
    this.sources.clear();
  }
}
