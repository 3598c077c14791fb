/**
 * Authentication of Salesforce's callout, as named credentials do it: HTTP Basic against a stored
 * scrypt hash, and/or a bearer JWT verified (with jose) against a configured certificate or public
 * key; optionally a client certificate (mTLS through the server's TLS listener).
 *
 * 401 = no or bad credentials (with WWW-Authenticate); 403 = client certificate missing or not allowed.
 * Nothing of the credentials is logged or kept, apart from a keyed hash of a verified Basic header
 * (so a repeated callout does not pay scrypt again for 5 minutes).
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
  | { ok: false; status: 401 | 403; error: "Unauthorized" | "Forbidden"; reason: string };

const BASIC_CACHE_TTL_MS = 5 * 60_000;
const BASIC_CACHE_MAX = 1024;

function sha256(b: Buffer | string): Buffer {
  return createHash("sha256").update(b).digest();
}

export class Authenticator {
  private readonly jwtKey: KeyObject | undefined;
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, number>();

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
    const cfg = this.cfg.basic!;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length > 4096) return fail;
    const tag = createHmac("sha256", this.cacheKey).update(value).digest("hex");
    const now = Date.now();
    const cached = this.verified.get(tag);
    if (cached !== undefined && cached > now) return { ok: true, method: "basic" };
    const decoded = Buffer.from(value, "base64");
    try {
      const colon = decoded.indexOf(0x3a);
      if (colon < 0) return fail;
      const userOk = timingSafeEqual(sha256(decoded.subarray(0, colon)), sha256(cfg.username));
      const passOk = await verifyPassword(decoded.subarray(colon + 1), cfg.hash);
      if (!userOk || !passOk) return fail;
    } finally {
      decoded.fill(0);
    }
    if (this.verified.size >= BASIC_CACHE_MAX) {
      for (const [k, exp] of this.verified) if (exp <= now || this.verified.size >= BASIC_CACHE_MAX) this.verified.delete(k);
    }
    this.verified.set(tag, now + BASIC_CACHE_TTL_MS);
    return { ok: true, method: "basic" };
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
  }
}
