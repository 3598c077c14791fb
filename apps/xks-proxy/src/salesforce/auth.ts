/**
 * Authentication of Salesforce's callout, as named credentials do it: HTTP Basic against a stored
 * scrypt hash, and/or a bearer JWT verified (with jose) against a configured certificate or public
 * key; optionally a client certificate (mTLS through the server's TLS listener).
 *
 * 401 = no or bad credentials (with WWW-Authenticate); 403 = client certificate missing or not allowed.
 * 503 (Retry-After: 1) = too many password checks already waiting.
 * Nothing of the credentials is logged or kept, apart from a keyed hash of a Basic header: a
 * verified one is accepted again for 5 minutes and a refused one refused again for 10 seconds
 * without paying scrypt. Callouts that arrive together with the same uncached header share one
 * scrypt run, and at most two runs (32 MiB each with the default parameters) go at once per
 * process, with a bounded queue behind them: a burst of connections after a restart or a flood
 * of wrong passwords costs neither a scrypt per request nor unbounded memory.
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
  | { ok: false; status: 401 | 403 | 503; error: "Unauthorized" | "Forbidden" | "Busy"; reason: string };

const BASIC_CACHE_TTL_MS = 5 * 60_000;
const BASIC_REFUSED_TTL_MS = 10_000;
const BASIC_CACHE_MAX = 1024;
/** scrypt runs at once per process, and how many more may wait for a turn. */
const SCRYPT_RUNNING_MAX = 2;
const SCRYPT_WAITING_MAX = 32;

/** Remembers `tag` until `expiry`, dropping expired (then oldest) entries when the map is full. */
function remember(map: Map<string, number>, tag: string, expiry: number, now: number): void {
  if (map.size >= BASIC_CACHE_MAX) {
    for (const [k, exp] of map) if (exp <= now || map.size >= BASIC_CACHE_MAX) map.delete(k);
  }
  map.set(tag, expiry);
}

/** A counting semaphore with a bounded queue. */
class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number, private readonly queueMax: number) {}
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

export class Authenticator {
  private readonly jwtKey: KeyObject | undefined;
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, number>();
  private readonly refused = new Map<string, number>();
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly gate = new Gate(SCRYPT_RUNNING_MAX, SCRYPT_WAITING_MAX);
  /** scrypt password checks run so far (one per distinct uncached Basic header, not per request). */
  passwordChecks = 0;

  constructor(private readonly cfg: SalesforceAuthConfig) {
    if (cfg.jwt) {
      try {
        this.jwtKey = createPublicKey(cfg.jwt.keyPem);
      } catch (err) {
        throw new CiopError("ERR_CONFIG_INVALID", `salesforce.auth.jwt_key ${cfg.jwt.keyFile}: not a usable certificate or public key (${(err as Error).message})`);
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
    if (scheme === "basic" && this.cfg.basic) return this.basic(value);
    if (scheme === "bearer" && this.cfg.jwt) return this.bearer(value);
    return { ok: false, status: 401, error: "Unauthorized", reason: `authorization scheme not accepted` };
  }

  private async basic(value: string): Promise<AuthOutcome> {
    const fail: AuthOutcome = { ok: false, status: 401, error: "Unauthorized", reason: "bad Basic credentials" };
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length > 4096) return fail;
    const tag = createHmac("sha256", this.cacheKey).update(value).digest("hex");
    const now = Date.now();
    if ((this.verified.get(tag) ?? 0) > now) return { ok: true, method: "basic" };
    if ((this.refused.get(tag) ?? 0) > now) return fail;
    let check = this.checking.get(tag);
    if (check === undefined) {
      if (!this.gate.hasRoom()) return { ok: false, status: 503, error: "Busy", reason: "too many password checks waiting" };
      check = this.gate.run(() => this.checkBasic(value, tag)).finally(() => this.checking.delete(tag));
      this.checking.set(tag, check);
    }
    return (await check) ? { ok: true, method: "basic" } : fail;
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
    const now = Date.now();
    remember(ok ? this.verified : this.refused, tag, now + (ok ? BASIC_CACHE_TTL_MS : BASIC_REFUSED_TTL_MS), now);
    return ok;
  }

  private async bearer(token: string): Promise<AuthOutcome> {
    const jwt = this.cfg.jwt!;
    try {
      await jwtVerify(token, this.jwtKey!, {
        algorithms: jwt.algorithms,
        ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
        ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
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
  }
}
