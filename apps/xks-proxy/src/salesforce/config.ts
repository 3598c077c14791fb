/**
 * The `[salesforce]` section of the xks-proxy config (see the top of index.ts for the full
 * reference). Validated strictly: unknown keys and wrong types are ERR_CONFIG_INVALID.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { isCacheOnlyKid } from "@ciop/providers-salesforce";
import { bad, bool, type Table } from "../config/fields.js";
import { parsePasswordHash, type ScryptHash } from "./password.js";

export interface SalesforceAuthConfig {
  basic?: { username: string; hash: ScryptHash };
  jwt?: {
    /** PEM text (certificate or public key) of the key the named credential signs with. */
    keyPem: string;
    keyFile: string;
    algorithms: string[];
    issuer?: string;
    /** Required: the `aud` claim a token must carry. */
    audience: string;
    subject?: string;
    maxAgeSeconds: number;
    clockToleranceSeconds: number;
  };
  clientCertificate?: {
    /** Allowed client certificate SHA-256 fingerprints (lower-case hex, no colons); empty = any the server's CA verified. */
    sha256: string[];
  };
}

export interface SalesforceConfig {
  pathPrefix: string;
  registryPath: string;
  auditLog: string | null;
  defaultCertificate?: string;
  certificates: Record<string, string>;
  publicUrl?: string;
  replay: { windowMs: number; queryParameter: string; header?: string; required: boolean; maxEntries: number };
  auth: SalesforceAuthConfig;
}

function table(v: unknown, where: string): Table {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) bad(`[${where}] must be a table`);
  return v as Table;
}

function only(t: Table, where: string, keys: string[]): void {
  for (const k of Object.keys(t)) if (!keys.includes(k)) bad(`unknown key ${where}.${k}; accepted in [${where}]: ${keys.join(", ")}`);
}

function str(t: Table, k: string, where: string): string | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0) bad(`${where}.${k} must be a non-empty string`);
  return v;
}

function int(t: Table, k: string, where: string, min: number, max: number): number | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) bad(`${where}.${k} must be an integer from ${min} to ${max}`);
  return n;
}

function strList(t: Table, k: string, where: string): string[] | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.length === 0)) bad(`${where}.${k} must be a list of strings`);
  return v as string[];
}

const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
export const DEFAULT_PATH_PREFIX = "/salesforce/keys";

/**
 * `[salesforce] enabled` (default true). A section with `enabled = false` is validated all the same
 * but its route group is not mounted.
 */
export function salesforceEnabled(section: unknown): boolean {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return true;
  return (section as Table).enabled !== false;
}

/** Validates the raw `[salesforce]` table; relative paths are resolved against `configDir`. */
export function parseSalesforceSection(section: unknown, configDir: string, options: { requireAuth?: boolean } = {}): SalesforceConfig {
  const t = table(section ?? {}, "salesforce");
  only(t, "salesforce", ["enabled", "path_prefix", "registry", "audit_log", "certificate", "certificates", "public_url", "replay", "auth"]);
  bool(t, "enabled", "salesforce");
  const rel = (p: string) => path.resolve(configDir, p);

  const pathPrefix = (str(t, "path_prefix", "salesforce") ?? DEFAULT_PATH_PREFIX).replace(/\/+$/, "");
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(pathPrefix))
    bad(`salesforce.path_prefix must look like /segment[/segment...] (letters, digits, . _ ~ -), got ${JSON.stringify(pathPrefix)}`);
  if (pathPrefix === "/kms" || pathPrefix.startsWith("/kms/") || pathPrefix === "/ping" || pathPrefix === "/metrics")
    bad(`salesforce.path_prefix ${pathPrefix} collides with the XKS routes`);

  const auditRaw = str(t, "audit_log", "salesforce");
  const certificates: Record<string, string> = {};
  if (t.certificates !== undefined) {
    for (const [kid, p] of Object.entries(table(t.certificates, "salesforce.certificates"))) {
      if (!isCacheOnlyKid(kid)) bad(`salesforce.certificates: ${JSON.stringify(kid)} is not a valid key identifier`);
      if (typeof p !== "string" || p.length === 0) bad(`salesforce.certificates.${kid} must be a certificate file path`);
      certificates[kid] = rel(p);
    }
  }
  const publicUrl = str(t, "public_url", "salesforce");
  if (publicUrl !== undefined && !/^https:\/\/[^\s/]+(\/\S*)?$/.test(publicUrl))
    bad("salesforce.public_url must be an https:// URL (what Salesforce reaches, e.g. https://byok.example.com:8443)");

  const r = t.replay === undefined ? {} : table(t.replay, "salesforce.replay");
  only(r, "salesforce.replay", ["window_seconds", "query_parameter", "header", "required", "max_entries"]);
  const header = str(r, "header", "salesforce.replay");
  if (header !== undefined && !/^[A-Za-z0-9-]+$/.test(header)) bad("salesforce.replay.header must be an HTTP header name");
  const queryParameter = str(r, "query_parameter", "salesforce.replay") ?? "requestId";

  const a = t.auth === undefined ? {} : table(t.auth, "salesforce.auth");
  only(a, "salesforce.auth", [
    "basic_username",
    "basic_password_hash",
    "jwt_key",
    "jwt_algorithms",
    "jwt_issuer",
    "jwt_audience",
    "jwt_subject",
    "jwt_max_age_seconds",
    "jwt_clock_tolerance_seconds",
    "client_certificate_required",
    "client_certificate_sha256",
  ]);
  const auth: SalesforceAuthConfig = {};
  const user = str(a, "basic_username", "salesforce.auth");
  const hash = str(a, "basic_password_hash", "salesforce.auth");
  if ((user === undefined) !== (hash === undefined)) bad("salesforce.auth: give both basic_username and basic_password_hash, or neither");
  if (user !== undefined && hash !== undefined) {
    if (user.includes(":")) bad("salesforce.auth.basic_username must not contain ':'");
    auth.basic = { username: user, hash: parsePasswordHash(hash, "salesforce.auth.basic_password_hash") };
  }
  const jwtKey = str(a, "jwt_key", "salesforce.auth");
  if (jwtKey !== undefined) {
    const keyFile = rel(jwtKey);
    let keyPem: string;
    try {
      keyPem = readFileSync(keyFile, "utf8");
    } catch (err) {
      bad(`salesforce.auth.jwt_key: cannot read ${keyFile}: ${(err as Error).message}`);
    }
    if (!/-----BEGIN (CERTIFICATE|PUBLIC KEY)-----/.test(keyPem)) bad(`salesforce.auth.jwt_key ${keyFile} must be a PEM certificate or PEM public key`);
    const algorithms = strList(a, "jwt_algorithms", "salesforce.auth") ?? ["RS256"];
    for (const alg of algorithms)
      if (!JWT_ALGORITHMS.includes(alg)) bad(`salesforce.auth.jwt_algorithms: ${alg} is not accepted (use ${JWT_ALGORITHMS.join(", ")})`);
    const issuer = str(a, "jwt_issuer", "salesforce.auth");
    const audience = str(a, "jwt_audience", "salesforce.auth");
    // Without an audience check, any token the same key signs for another service would pass here.
    if (audience === undefined) {
      bad(
        "salesforce.auth.jwt_audience is required with jwt_key: set it to the audience the named credential puts in its tokens' aud claim, so a token minted for another service is refused here",
      );
    }
    const subject = str(a, "jwt_subject", "salesforce.auth");
    auth.jwt = {
      keyPem,
      keyFile,
      algorithms,
      ...(issuer !== undefined ? { issuer } : {}),
      audience,
      ...(subject !== undefined ? { subject } : {}),
      maxAgeSeconds: int(a, "jwt_max_age_seconds", "salesforce.auth", 1, 86_400) ?? 300,
      clockToleranceSeconds: int(a, "jwt_clock_tolerance_seconds", "salesforce.auth", 0, 600) ?? 30,
    };
  } else {
    for (const k of ["jwt_algorithms", "jwt_issuer", "jwt_audience", "jwt_subject", "jwt_max_age_seconds", "jwt_clock_tolerance_seconds"]) {
      if (a[k] !== undefined) bad(`salesforce.auth.${k} needs salesforce.auth.jwt_key`);
    }
  }
  const fps = strList(a, "client_certificate_sha256", "salesforce.auth");
  const mtls = bool(a, "client_certificate_required", "salesforce.auth") ?? (fps !== undefined && fps.length > 0);
  if (mtls) {
    const norm = (fps ?? []).map((f) => f.replace(/:/g, "").toLowerCase());
    for (const f of norm)
      if (!/^[0-9a-f]{64}$/.test(f)) bad("salesforce.auth.client_certificate_sha256 entries must be SHA-256 fingerprints (64 hex digits, colons allowed)");
    auth.clientCertificate = { sha256: norm };
  } else if (fps !== undefined && fps.length > 0) {
    bad("salesforce.auth.client_certificate_sha256 needs client_certificate_required = true");
  }
  if (options.requireAuth !== false && !auth.basic && !auth.jwt && !auth.clientCertificate) {
    bad("[salesforce.auth] must configure at least one of: basic_username + basic_password_hash, jwt_key, client_certificate_required");
  }

  return {
    pathPrefix,
    registryPath: rel(str(t, "registry", "salesforce") ?? "salesforce-keys.json"),
    auditLog: auditRaw === undefined ? rel("audit.log") : /^(off|none)$/i.test(auditRaw) ? null : rel(auditRaw),
    ...(str(t, "certificate", "salesforce") !== undefined ? { defaultCertificate: rel(str(t, "certificate", "salesforce")!) } : {}),
    certificates,
    ...(publicUrl !== undefined ? { publicUrl } : {}),
    replay: {
      windowMs: (int(r, "window_seconds", "salesforce.replay", 1, 7 * 86_400) ?? 900) * 1000,
      queryParameter,
      ...(header !== undefined ? { header: header.toLowerCase() } : {}),
      required: bool(r, "required", "salesforce.replay") ?? false,
      maxEntries: int(r, "max_entries", "salesforce.replay", 1, 10_000_000) ?? 100_000,
    },
    auth,
  };
}
