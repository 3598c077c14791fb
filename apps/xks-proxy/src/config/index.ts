/**
 * Proxy configuration: ciop's own TOML (documented in the README) and the AWS sample proxy's
 * `settings*.toml` read as-is, both normalised to {@link ProxyConfig}.
 */
import { availableParallelism } from "node:os";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import type { PinSource } from "@ciop/hsm";
import { DEFAULT_XKS_LIMITS, validateXksCredential, type XksCredential, type XksLimits } from "@ciop/xks";
import { DEFAULT_PATH_PREFIX as SALESFORCE_DEFAULT_PATH_PREFIX } from "../salesforce/config.js";
import { bad, bool, type Table } from "./fields.js";

/** TLS settings of the main listener. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** mTLS: CA bundle client certificates must chain to (enables client authentication). */
  clientCaFile?: string;
  /** mTLS: expected client subject (CN or a DNS SAN), e.g. cks.kms.eu-west-1.amazonaws.com. */
  clientSubject?: string;
}

export interface ServerConfig {
  ip: string;
  port: number;
  tls?: TlsConfig;
  /** Unauthenticated GET /ping on the main port; with `pingPort`, also on its own plain-HTTP port. */
  ping: boolean;
  pingPort?: number;
  /** HTTP keep-alive idle timeout (ms). KMS keeps connections open; default 330 s. */
  keepAliveTimeoutMs: number;
  /** TCP keep-alive probe delay (ms). */
  tcpKeepAliveMs: number;
  /** Largest request body (bytes). */
  maxBodyBytes: number;
  /**
   * Serve XKS API requests on the proxy's own strict HTTP/1.1 reader (src/fast-http.ts) instead of
   * node's HTTP server; every other request still goes to node's. Default true.
   */
  fastPath: boolean;
  /** Server processes sharing the port (node:cluster); each has its own HSM sessions. "auto" in the file = one per CPU. */
  processes: number;
}

export interface HsmConfig {
  /** PKCS#11 library (default: env CIOP_PKCS11_LIB, else SoftHSM2). */
  library?: string;
  /** Token label, serial or "#index" (default: env CIOP_TOKEN / the embedded token). */
  token?: string;
  pin?: PinSource;
  /**
   * Let @ciop/hsm move key material through host memory when the token cannot do a step itself
   * (Hsm.open's allowHostFallback). Software tokens allow it anyway; on a hardware token without
   * AES-GCM key wrap the Salesforce cache-only route needs it. Default false. Needs a restart.
   */
  allowHostFallback: boolean;
  /** PKCS#11 sessions per worker. */
  sessionPool: number;
  /** Per-call HSM timeout (ms); expiry → 503 DependencyTimeoutException. */
  timeoutMs: number;
  /** How long a key's enabled/usage state is cached (ms, ≤ 1000). */
  keyStateTtlMs: number;
  /**
   * "async": AES-GCM on pooled sessions through pkcs11js's async calls, off the event loop, with
   * the per-call timeout. "sync": on the event loop, no timeout possible; for a local, fast token
   * where the threadpool hop costs more than the call. "auto" (default): sync on a software token
   * (SoftHSM), async on anything else.
   */
  callMode: "auto" | "async" | "sync";
  /**
   * Run AES-GCM on a session-object copy of each key (made in the HSM with C_CopyObject, still
   * sensitive) instead of the token object, refreshed with the key state. SoftHSM re-reads a token
   * object's file on every use; a copy avoids that. "auto" (default): on for software tokens.
   */
  sessionKeyCopies: "auto" | boolean;
  /** Environment set before the library loads (e.g. the sample proxy's [pkcs11_logger] variables; existing values win). */
  env?: Record<string, string>;
}

export interface RateLimitConfig {
  /** Sustained requests per second. */
  rps: number;
  /** Burst size (default = rps). */
  burst: number;
}

export interface StoreConfig {
  name: string;
  /** "" or "/segment[/segment...]" before /kms/xks/v1. */
  uriPrefix: string;
  keys: string[];
  /** One or two SigV4 credentials (two during a rotation). */
  credentials: XksCredential[];
  /** Accepted signing regions; empty = any. */
  regions: string[];
  rateLimit?: RateLimitConfig;
  /** Secondary authorization: awsPrincipalArn values allowed for key operations (absent = all). */
  allowedPrincipals?: string[];
}

export interface HealthConfig {
  /** Dedicated AES-256 key for the deep health check (created if missing when `createKey`). */
  keyName: string;
  createKey: boolean;
  fleetSize: number;
  vendor: string;
  model: string;
  /** Background probe period (ms). */
  intervalMs: number;
}

export interface CompatConfig {
  /** Decrypt also accepts ciphertexts made by the AWS sample proxy (hashed-AAD scheme). */
  sampleProxyAad: boolean;
  /** That proxy's static `ciphertext_metadata_b64`, decoded. */
  sampleProxyMetadata?: Uint8Array;
}

export interface LoggingConfig {
  level: "debug" | "info" | "warn" | "error";
  /** Log file; absent = stdout. */
  file?: string;
}

export interface MetricsConfig {
  enabled: boolean;
  /** Own plain-HTTP port for /metrics; absent = served on the main listener (unauthenticated). */
  port?: number;
}

/** The normalised configuration of one proxy process. */
export interface ProxyConfig {
  /** Where it came from. */
  source: { file?: string; format: "ciop" | "aws-sample"; dir: string };
  server: ServerConfig;
  hsm: HsmConfig;
  stores: StoreConfig[];
  health: HealthConfig;
  compat: CompatConfig;
  /**
   * Settings of the source file that are accepted but not enforced, each a sentence for the log
   * (written as warnings when the server starts and on every reload).
   */
  notEnforced: string[];
  limits: XksLimits;
  logging: LoggingConfig;
  metrics: MetricsConfig;
  /** Raw `[salesforce]` table (validated by the Salesforce route group). */
  salesforce?: unknown;
}

const VERSION = "0.0.0";
export const PROXY_MODEL = `ciop-xks-proxy ${VERSION}`;

function table(v: unknown, where: string): Table {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(`${where} must be a table`);
  return v as Table;
}
function str(t: Table, k: string, where: string): string | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "string") bad(`${where}.${k} must be a string`);
  return v;
}
function num(t: Table, k: string, where: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) bad(`${where}.${k} must be a number from ${min} to ${max}`);
  return v;
}
function strList(t: Table, k: string, where: string): string[] | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(`${where}.${k} must be a list of strings`);
  return v as string[];
}

const PREFIX = /^(\/[A-Za-z0-9_-]+)*$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

function checkPrefix(p: string, where: string): string {
  const prefix = p.replace(/\/+$/, "");
  if (!PREFIX.test(prefix) || prefix.length + "/kms/xks/v1".length > 128) {
    bad(`${where}: uri prefix '${p}' must be empty or /segments of A-Z a-z 0-9 _ - (at most 117 characters)`);
  }
  return prefix;
}

function resolvePath(dir: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : path.resolve(dir, p);
}

function decodeB64(s: string, where: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) bad(`${where} is not standard Base64`);
  return new Uint8Array(Buffer.from(s, "base64"));
}

async function readSecret(t: Table, where: string, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const direct = str(t, "secret_access_key", where);
  const fromEnv = str(t, "secret_access_key_env", where);
  const fromFile = str(t, "secret_access_key_file", where);
  const n = [direct, fromEnv, fromFile].filter((x) => x !== undefined).length;
  if (n !== 1) bad(`${where}: give exactly one of secret_access_key, secret_access_key_env, secret_access_key_file`);
  if (direct !== undefined) return direct;
  if (fromEnv !== undefined) {
    const v = env[fromEnv];
    if (v === undefined || v === "") bad(`${where}: environment variable ${fromEnv} is not set`);
    return v;
  }
  try {
    return (await readFile(path.resolve(dir, fromFile!), "utf8")).trim();
  } catch (err) {
    bad(`${where}: cannot read secret_access_key_file: ${(err as Error).message}`);
  }
}

function checkCredential(c: XksCredential, where: string): XksCredential {
  try {
    validateXksCredential(c);
  } catch (err) {
    bad(`${where}: ${(err as Error).message}`);
  }
  return c;
}

function pinFrom(t: Table, where: string, dir: string): PinSource | undefined {
  const env = str(t, "pin_env", where);
  const file = str(t, "pin_file", where);
  const value = str(t, "pin", where);
  const n = [env, file, value].filter((x) => x !== undefined).length;
  if (n > 1) bad(`${where}: give at most one of pin_env, pin_file, pin`);
  if (env !== undefined) return { env };
  if (file !== undefined) return { file: path.resolve(dir, file) };
  if (value !== undefined) return { value };
  return undefined;
}

function checkStores(stores: StoreConfig[]): void {
  if (stores.length === 0) bad("configure at least one key store");
  const prefixes = new Set<string>();
  const names = new Set<string>();
  const akids = new Map<string, string>();
  const secrets = new Map<string, string>();
  for (const s of stores) {
    if (prefixes.has(s.uriPrefix)) bad(`two key stores use the uri prefix '${s.uriPrefix}'`);
    prefixes.add(s.uriPrefix);
    if (names.has(s.name)) bad(`two key stores are named '${s.name}'`);
    names.add(s.name);
    if (s.credentials.length < 1 || s.credentials.length > 2) bad(`key store '${s.name}' needs one or two credentials`);
    for (const c of s.credentials) {
      // an access key id must map to exactly one secret (it may serve several stores)
      const known = secrets.get(c.accessKeyId);
      if (known !== undefined && known !== c.secretAccessKey) bad(`access key id ${c.accessKeyId} is configured with two different secrets (stores ${akids.get(c.accessKeyId)} and ${s.name})`);
      secrets.set(c.accessKeyId, c.secretAccessKey);
      akids.set(c.accessKeyId, s.name);
    }
    if (s.credentials.length === 2 && s.credentials[0]!.accessKeyId === s.credentials[1]!.accessKeyId) bad(`key store '${s.name}': the two credentials share an access key id`);
    for (const k of s.keys) if (!KEY_ID.test(k)) bad(`key store '${s.name}': key id '${k}' must be 1-128 characters of A-Z a-z 0-9 . _ -`);
  }
}

/** A route group's mount point: its section name and path prefix. */
export interface RouteGroupPrefix {
  section: string;
  pathPrefix: string;
}

/**
 * The path prefix the `[salesforce]` section asks for (default /salesforce/keys, trailing slashes
 * dropped), or undefined when it is not a string (the section's own validation reports that).
 */
export function salesforcePathPrefix(section: unknown): string | undefined {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return SALESFORCE_DEFAULT_PATH_PREFIX;
  const p = (section as Table)["path_prefix"];
  if (p === undefined) return SALESFORCE_DEFAULT_PATH_PREFIX;
  return typeof p === "string" ? p.replace(/\/+$/, "") : undefined;
}

/** The route groups a configuration mounts, with the path prefixes they would claim. */
export function routeGroupPrefixes(cfg: ProxyConfig): RouteGroupPrefix[] {
  const out: RouteGroupPrefix[] = [];
  if (cfg.salesforce !== undefined) {
    const p = salesforcePathPrefix(cfg.salesforce);
    if (p !== undefined) out.push({ section: "salesforce", pathPrefix: p });
  }
  return out;
}

/** `a` is `b` or a path below it (whole segments only: /ab is not below /a). */
function atOrBelow(a: string, b: string): boolean {
  return a === b || a.startsWith(b.endsWith("/") ? b : `${b}/`);
}

/**
 * Refuses a route group whose path prefix overlaps a key store's XKS routes
 * (`<uri prefix>/kms/xks/v1/...`) or the server's own /ping and /metrics: the server would hand
 * one group's requests to the other. The error names both sides.
 */
export function checkRouteOverlaps(stores: StoreConfig[], groups: RouteGroupPrefix[]): void {
  for (const g of groups) {
    if (g.pathPrefix === "") continue;
    for (const s of stores) {
      const xks = `${s.uriPrefix}/kms/xks/v1`;
      if (atOrBelow(xks, g.pathPrefix) || atOrBelow(g.pathPrefix, xks)) {
        bad(
          `[${g.section}] path_prefix '${g.pathPrefix}' overlaps key store '${s.name}' (uri_prefix '${s.uriPrefix}', XKS requests under ${xks}/): ` +
            `choose a ${g.section} path_prefix outside ${xks}/ that does not contain it`,
        );
      }
    }
    for (const fixed of ["/ping", "/metrics"]) {
      if (atOrBelow(fixed, g.pathPrefix) || atOrBelow(g.pathPrefix, fixed)) {
        bad(`[${g.section}] path_prefix '${g.pathPrefix}' overlaps the server's own ${fixed} endpoint: choose another path_prefix`);
      }
    }
  }
}

function defaults(dir: string, file: string | undefined, format: ProxyConfig["source"]["format"]): ProxyConfig {
  return {
    source: { ...(file !== undefined ? { file } : {}), format, dir },
    server: { ip: "0.0.0.0", port: 8443, ping: true, keepAliveTimeoutMs: 330_000, tcpKeepAliveMs: 60_000, maxBodyBytes: 64 * 1024, fastPath: true, processes: 1 },
    hsm: { sessionPool: 4, timeoutMs: 200, keyStateTtlMs: 500, callMode: "auto", sessionKeyCopies: "auto", allowHostFallback: false },
    stores: [],
    health: { keyName: "ciop-xks-health", createKey: true, fleetSize: 1, vendor: "ciop", model: PROXY_MODEL, intervalMs: 15_000 },
    compat: { sampleProxyAad: false },
    notEnforced: [],
    limits: { ...DEFAULT_XKS_LIMITS },
    logging: { level: "info" },
    metrics: { enabled: true },
  };
}

/** Is this parsed TOML the AWS sample proxy's settings format? */
export function isAwsSampleSettings(doc: Table): boolean {
  return "external_key_stores" in doc || "pkcs11" in doc || "security" in doc || "hsm_capabilities" in doc;
}

/** Normalises ciop's own TOML. */
export async function fromCiopToml(doc: Table, dir: string, file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  const cfg = defaults(dir, file, "ciop");
  const s = table(doc["server"], "[server]");
  cfg.server.ip = str(s, "ip", "server") ?? cfg.server.ip;
  cfg.server.port = num(s, "port", "server", 0, 65535) ?? cfg.server.port;
  cfg.server.keepAliveTimeoutMs = (num(s, "keep_alive_timeout_secs", "server", 1, 86400) ?? cfg.server.keepAliveTimeoutMs / 1000) * 1000;
  cfg.server.tcpKeepAliveMs = (num(s, "tcp_keepalive_secs", "server", 1, 86400) ?? cfg.server.tcpKeepAliveMs / 1000) * 1000;
  cfg.server.maxBodyBytes = num(s, "max_body_bytes", "server", 1024, 16 * 1024 * 1024) ?? cfg.server.maxBodyBytes;
  cfg.server.fastPath = bool(s, "fast_path", "server") ?? cfg.server.fastPath;
  if (s["processes"] === "auto") cfg.server.processes = Math.min(64, Math.max(1, availableParallelism()));
  else {
    const processes = num(s, "processes", "server", 1, 64);
    if (processes !== undefined) {
      if (!Number.isInteger(processes)) bad('server.processes must be a whole number or "auto"');
      cfg.server.processes = processes;
    }
  }
  const ping = table(s["ping"], "[server.ping]");
  cfg.server.ping = bool(ping, "enabled", "server.ping") ?? true;
  const pingPort = num(ping, "port", "server.ping", 0, 65535);
  if (pingPort !== undefined) cfg.server.pingPort = pingPort;
  if (s["tls"] !== undefined) {
    const t = table(s["tls"], "[server.tls]");
    const certFile = resolvePath(dir, str(t, "cert_file", "server.tls"));
    const keyFile = resolvePath(dir, str(t, "key_file", "server.tls"));
    if (!certFile || !keyFile) bad("[server.tls] needs cert_file and key_file");
    const tls: TlsConfig = { certFile, keyFile };
    const ca = resolvePath(dir, str(t, "client_ca_file", "server.tls"));
    const subject = str(t, "client_subject", "server.tls");
    if (ca !== undefined) tls.clientCaFile = ca;
    if (subject !== undefined) {
      if (ca === undefined) bad("[server.tls] client_subject needs client_ca_file");
      tls.clientSubject = subject;
    }
    cfg.server.tls = tls;
  }

  const h = table(doc["hsm"], "[hsm]");
  const lib = str(h, "library", "hsm");
  if (lib !== undefined) cfg.hsm.library = lib;
  const token = str(h, "token", "hsm");
  if (token !== undefined) cfg.hsm.token = token;
  const pin = pinFrom(h, "hsm", dir);
  if (pin) cfg.hsm.pin = pin;
  cfg.hsm.allowHostFallback = bool(h, "allow_host_fallback", "hsm") ?? false;
  cfg.hsm.sessionPool = num(h, "session_pool", "hsm", 1, 256) ?? cfg.hsm.sessionPool;
  cfg.hsm.timeoutMs = num(h, "timeout_ms", "hsm", 1, 60_000) ?? cfg.hsm.timeoutMs;
  cfg.hsm.keyStateTtlMs = num(h, "key_state_ttl_ms", "hsm", 0, 1000) ?? cfg.hsm.keyStateTtlMs;
  const mode = str(h, "call_mode", "hsm");
  if (mode !== undefined) {
    if (mode !== "auto" && mode !== "async" && mode !== "sync") bad('hsm.call_mode must be "auto", "async" or "sync"');
    cfg.hsm.callMode = mode;
  }
  const copies = h["session_key_copies"];
  if (copies !== undefined) {
    if (copies !== "auto" && typeof copies !== "boolean") bad('hsm.session_key_copies must be "auto", true or false');
    cfg.hsm.sessionKeyCopies = copies as "auto" | boolean;
  }

  const hl = table(doc["health"], "[health]");
  cfg.health.keyName = str(hl, "key", "health") ?? cfg.health.keyName;
  cfg.health.createKey = bool(hl, "create_key", "health") ?? cfg.health.createKey;
  cfg.health.fleetSize = num(hl, "fleet_size", "health", 1, 10_000) ?? cfg.health.fleetSize;
  cfg.health.vendor = str(hl, "vendor", "health") ?? cfg.health.vendor;
  cfg.health.intervalMs = (num(hl, "interval_secs", "health", 1, 55) ?? cfg.health.intervalMs / 1000) * 1000;

  const c = table(doc["compat"], "[compat]");
  cfg.compat.sampleProxyAad = bool(c, "sample_proxy_aad", "compat") ?? false;
  const md = str(c, "sample_proxy_metadata_b64", "compat");
  if (md !== undefined && md !== "") cfg.compat.sampleProxyMetadata = decodeB64(md, "compat.sample_proxy_metadata_b64");

  const l = table(doc["limits"], "[limits]");
  cfg.limits.maxPlaintextBytes = num(l, "max_plaintext_bytes", "limits", 4300, 1 << 20) ?? cfg.limits.maxPlaintextBytes;
  cfg.limits.maxAadBytes = num(l, "max_aad_bytes", "limits", 8192, 65535) ?? cfg.limits.maxAadBytes;

  const lg = table(doc["logging"], "[logging]");
  const level = str(lg, "level", "logging");
  if (level !== undefined) {
    if (!["debug", "info", "warn", "error"].includes(level)) bad("logging.level must be debug, info, warn or error");
    cfg.logging.level = level as LoggingConfig["level"];
  }
  const logFile = resolvePath(dir, str(lg, "file", "logging"));
  if (logFile !== undefined) cfg.logging.file = logFile;

  const m = table(doc["metrics"], "[metrics]");
  cfg.metrics.enabled = bool(m, "enabled", "metrics") ?? true;
  const mp = num(m, "port", "metrics", 0, 65535);
  if (mp !== undefined) cfg.metrics.port = mp;

  const stores = doc["stores"];
  if (stores !== undefined && !Array.isArray(stores)) bad("[[stores]] must be an array of tables");
  for (const [i, raw] of ((stores ?? []) as unknown[]).entries()) {
    const where = `stores[${i}]`;
    const st = table(raw, where);
    const uriPrefix = checkPrefix(str(st, "uri_prefix", where) ?? "", where);
    const name = str(st, "name", where) ?? (uriPrefix === "" ? "default" : uriPrefix);
    const keys = strList(st, "keys", where) ?? [];
    const regions = strList(st, "regions", where) ?? [];
    const creds = st["credentials"];
    if (!Array.isArray(creds)) bad(`${where}: [[stores.credentials]] (one or two) is required`);
    const credentials: XksCredential[] = [];
    for (const [j, cr] of (creds as unknown[]).entries()) {
      const cw = `${where}.credentials[${j}]`;
      const ct = table(cr, cw);
      const accessKeyId = str(ct, "access_key_id", cw);
      if (accessKeyId === undefined) bad(`${cw}: access_key_id is required`);
      credentials.push(checkCredential({ accessKeyId, secretAccessKey: await readSecret(ct, cw, dir, env) }, cw));
    }
    const store: StoreConfig = { name, uriPrefix, keys, credentials, regions };
    const rps = num(st, "rate_limit_rps", where, 0.01, 1_000_000);
    const principals = strList(st, "allowed_principals", where);
    if (principals !== undefined) store.allowedPrincipals = principals;
    if (rps !== undefined) store.rateLimit = { rps, burst: num(st, "rate_limit_burst", where, 1, 10_000_000) ?? rps };
    cfg.stores.push(store);
  }
  checkStores(cfg.stores);
  if (doc["salesforce"] !== undefined) {
    cfg.salesforce = doc["salesforce"];
    checkRouteOverlaps(cfg.stores, routeGroupPrefixes(cfg));
  }
  return cfg;
}

/**
 * Normalises the AWS sample proxy's settings TOML (aws-samples/aws-kms-xks-proxy), read as-is.
 * Decrypt compatibility with that proxy's ciphertexts is switched on, with its static
 * `ciphertext_metadata_b64`; a health key is created on the token if missing.
 */
export async function fromAwsSampleToml(doc: Table, dir: string, file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  const cfg = defaults(dir, file, "aws-sample");
  const s = table(doc["server"], "[server]");
  const sec = table(doc["security"], "[security]");
  const tls = table(doc["tls"], "[tls]");
  const tlsOn = bool(sec, "is_tls_enabled", "security") ?? false;
  const mtlsOn = bool(sec, "is_mtls_enabled", "security") ?? false;
  if (bool(sec, "is_sigv4_auth_enabled", "security") === false) bad("security.is_sigv4_auth_enabled = false is not supported: ciop always verifies SigV4");
  cfg.server.ip = str(s, "ip", "server") ?? cfg.server.ip;
  cfg.server.port = num(s, "port", "server", 0, 65535) ?? (tlsOn ? 443 : 80);
  const pingPort = num(s, "port_http_ping", "server", 0, 65535) ?? 80;
  if (pingPort !== cfg.server.port) cfg.server.pingPort = pingPort;
  // The sample's optional secondary authorization evaluates an Oso (Polar) policy, which ciop
  // cannot do. Starting without it would let through requests that policy refuses, so that takes
  // an explicit choice outside the file (which stays as the sample proxy reads it).
  const secondary = str(sec, "secondary_auth", "security");
  if (secondary !== undefined && secondary !== "") {
    const polar = str(table(sec["oso"], "[security.oso]"), "polar_file_path", "security.oso");
    const what = `security.secondary_auth = "${secondary}"${polar !== undefined ? ` (policy ${polar})` : ""}`;
    if (env["XKS_PROXY_WITHOUT_SECONDARY_AUTH"] !== "1") {
      bad(
        `${what}: ciop cannot evaluate the sample proxy's Oso policies, and running without one would accept requests it refuses. ` +
          "Set XKS_PROXY_WITHOUT_SECONDARY_AUTH=1 to run without it, or move to ciop's TOML and list the callers of each store in allowed_principals",
      );
    }
    cfg.notEnforced.push(`${what} is not enforced (XKS_PROXY_WITHOUT_SECONDARY_AUTH=1): every authenticated request for an allowed key is served`);
  }
  const service = str(s, "service", "server");
  if (service !== undefined && service !== "kms-xks-proxy") bad(`server.service must be kms-xks-proxy (is '${service}')`);
  const region = str(s, "region", "server");
  const md = str(s, "ciphertext_metadata_b64", "server");
  cfg.compat.sampleProxyAad = true;
  if (md !== undefined && md !== "") {
    const bytes = decodeB64(md, "server.ciphertext_metadata_b64");
    if (bytes.length > 20) bad("server.ciphertext_metadata_b64 decodes to more than 20 bytes");
    cfg.compat.sampleProxyMetadata = bytes;
  }
  const ka = table(s["tcp_keepalive"], "[server.tcp_keepalive]");
  const kaSecs = num(ka, "tcp_keepalive_secs", "server.tcp_keepalive", 1, 86400);
  if (kaSecs !== undefined) cfg.server.tcpKeepAliveMs = kaSecs * 1000;
  if (tlsOn) {
    const certFile = resolvePath(dir, str(tls, "tls_cert_pem", "tls"));
    const keyFile = resolvePath(dir, str(tls, "tls_key_pem", "tls"));
    if (!certFile || !keyFile) bad("[tls] needs tls_cert_pem and tls_key_pem when is_tls_enabled = true");
    cfg.server.tls = { certFile, keyFile };
    if (mtlsOn) {
      const ca = resolvePath(dir, str(tls, "mtls_client_ca_pem", "tls"));
      if (!ca) bad("[tls] needs mtls_client_ca_pem when is_mtls_enabled = true");
      cfg.server.tls.clientCaFile = ca;
      const dns = str(tls, "mtls_client_dns_name", "tls");
      if (dns !== undefined) cfg.server.tls.clientSubject = dns;
    }
  } else if (mtlsOn) {
    bad("security.is_mtls_enabled needs is_tls_enabled");
  }

  const p = table(doc["pkcs11"], "[pkcs11]");
  const lib = env["PKCS11_HSM_MODULE"] ?? str(p, "PKCS11_HSM_MODULE", "pkcs11");
  if (lib !== undefined) cfg.hsm.library = lib;
  cfg.hsm.token = "#0"; // the sample proxy always uses the first slot with a token
  const pin = str(p, "user_pin", "pkcs11");
  if (pin !== undefined) cfg.hsm.pin = { value: pin };
  const pool = num(p, "session_pool_max_size", "pkcs11", 1, 1024);
  if (pool !== undefined) cfg.hsm.sessionPool = Math.min(pool, 64);

  const logger = table(doc["pkcs11_logger"], "[pkcs11_logger]");
  const loggerEnv: Record<string, string> = {};
  for (const k of ["PKCS11_LOGGER_LIBRARY_PATH", "PKCS11_LOGGER_LOG_FILE_PATH", "PKCS11_LOGGER_FLAGS"]) {
    const v = str(logger, k, "pkcs11_logger");
    if (v !== undefined) loggerEnv[k] = v;
  }
  if (Object.keys(loggerEnv).length > 0) cfg.hsm.env = loggerEnv;

  const lim = table(doc["limits"], "[limits]");
  const ptB64 = num(lim, "max_plaintext_in_base64", "limits", 1);
  const aadB64 = num(lim, "max_aad_in_base64", "limits", 1);
  if (ptB64 !== undefined) cfg.limits.maxPlaintextBytes = Math.max(DEFAULT_XKS_LIMITS.maxPlaintextBytes, Math.floor((ptB64 * 3) / 4));
  if (aadB64 !== undefined) cfg.limits.maxAadBytes = Math.min(65535, Math.max(DEFAULT_XKS_LIMITS.maxAadBytes, Math.floor((aadB64 * 3) / 4)));

  const tr = table(doc["tracing"], "[tracing]");
  const lvl = str(tr, "level", "tracing")?.toLowerCase();
  if (lvl !== undefined) cfg.logging.level = lvl === "trace" || lvl === "debug" ? "debug" : lvl === "warn" ? "warn" : lvl === "error" ? "error" : "info";

  const stores = doc["external_key_stores"];
  if (!Array.isArray(stores)) bad("[[external_key_stores]] is required");
  for (const [i, raw] of (stores as unknown[]).entries()) {
    const where = `external_key_stores[${i}]`;
    const st = table(raw, where);
    const uriPrefix = checkPrefix(str(st, "uri_path_prefix", where) ?? "", where);
    const accessKeyId = str(st, "sigv4_access_key_id", where);
    const secretAccessKey = str(st, "sigv4_secret_access_key", where);
    if (accessKeyId === undefined || secretAccessKey === undefined) bad(`${where}: sigv4_access_key_id and sigv4_secret_access_key are required`);
    cfg.stores.push({
      name: uriPrefix === "" ? "default" : uriPrefix,
      uriPrefix,
      keys: strList(st, "xks_key_id_set", where) ?? [],
      credentials: [checkCredential({ accessKeyId, secretAccessKey }, where)],
      regions: region !== undefined ? [region] : [],
    });
  }
  checkStores(cfg.stores);
  return cfg;
}

/** Parses TOML text (either format, auto-detected). */
export async function parseConfig(text: string, options: { file?: string; dir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProxyConfig> {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (err) {
    bad(`${options.file ?? "config"}: not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  const dir = options.dir ?? (options.file ? path.dirname(options.file) : process.cwd());
  return isAwsSampleSettings(doc) ? fromAwsSampleToml(doc, dir, options.file, options.env) : fromCiopToml(doc, dir, options.file, options.env);
}

/**
 * Loads the configuration: `file`, else env XKS_PROXY_CONFIG, else env XKS_PROXY_SETTINGS_TOML
 * (the AWS sample proxy's variable), else ./xks-proxy.toml.
 */
export async function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  const f = path.resolve(file ?? env["XKS_PROXY_CONFIG"] ?? env["XKS_PROXY_SETTINGS_TOML"] ?? "xks-proxy.toml");
  let text: string;
  try {
    text = await readFile(f, "utf8");
  } catch (err) {
    bad(`cannot read the configuration file ${f}: ${(err as Error).message}`);
  }
  return parseConfig(text, { file: f, env });
}
