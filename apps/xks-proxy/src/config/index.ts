/**
 * Proxy configuration: ciop's own TOML (documented in the README) and the AWS sample proxy's
 * `settings*.toml` read as-is (aws-sample.ts), both normalised to {@link ProxyConfig} (types.ts).
 * Both are read strictly: a key the parser does not read is refused (tracked.ts), so a typo can
 * never switch a check off.
 */
import { availableParallelism } from "node:os";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import type { PinSource } from "@ciop/hsm";
import { gcmProfileSetting } from "./gcm-profile.js";
import type { XksCredential } from "@ciop/xks";
import type { RouteGroupRegistration } from "../route-group.js";
import { fromAwsSampleToml, isAwsSampleSettings } from "./aws-sample.js";
import { bad, bool, decodeB64, num, resolvePath, str, strList, table, type Table } from "./fields.js";
import { checkConfigFile, checkSecretFile } from "./secret-files.js";
import { checkCredential, checkPrefix, checkReservedStoreKeys, checkStores } from "./stores.js";
import { resolveConfigPath } from "./path.js";
import { refuseUnread, track } from "./tracked.js";
import { DEFAULT_METRICS_IP, defaults, type LoggingConfig, type ProxyConfig, type StoreConfig, type TlsConfig } from "./types.js";

export * from "./types.js";
export { fromAwsSampleToml, isAwsSampleSettings } from "./aws-sample.js";
export { checkSecretFile, checkConfigFile } from "./secret-files.js";
export { resolveConfigPath, type ConfigPath } from "./path.js";

/** What one parse collects besides the config: secrets written in the file, warnings. */
interface ParseNotes {
  inline: string[];
  warnings: string[];
}

async function readSecret(t: Table, where: string, dir: string, env: NodeJS.ProcessEnv, notes: ParseNotes): Promise<string> {
  const direct = str(t, "secret_access_key", where);
  const fromEnv = str(t, "secret_access_key_env", where);
  const fromFile = str(t, "secret_access_key_file", where);
  const n = [direct, fromEnv, fromFile].filter((x) => x !== undefined).length;
  if (n !== 1) bad(`${where}: give exactly one of secret_access_key, secret_access_key_env, secret_access_key_file`);
  if (direct !== undefined) {
    notes.inline.push(`${where}.secret_access_key`);
    return direct;
  }
  if (fromEnv !== undefined) {
    const v = env[fromEnv];
    if (v === undefined || v === "") bad(`${where}: environment variable ${fromEnv} is not set`);
    return v;
  }
  const file = path.resolve(dir, fromFile!);
  const warning = checkSecretFile(file, `${where}.secret_access_key_file`);
  if (warning !== undefined) notes.warnings.push(warning);
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (err) {
    bad(`${where}: cannot read secret_access_key_file: ${(err as Error).message}`);
  }
}

function pinFrom(t: Table, where: string, dir: string, notes: ParseNotes): PinSource | undefined {
  const env = str(t, "pin_env", where);
  const file = str(t, "pin_file", where);
  const value = str(t, "pin", where);
  const n = [env, file, value].filter((x) => x !== undefined).length;
  if (n > 1) bad(`${where}: give at most one of pin_env, pin_file, pin`);
  if (env !== undefined) return { env };
  if (file !== undefined) {
    const f = path.resolve(dir, file);
    const warning = checkSecretFile(f, `${where}.pin_file`);
    if (warning !== undefined) notes.warnings.push(warning);
    return { file: f };
  }
  if (value !== undefined) {
    notes.inline.push(`${where}.pin`);
    return { value };
  }
  return undefined;
}

/** A route group's mount point: its section name and path prefix. */
export interface RouteGroupPrefix {
  section: string;
  pathPrefix: string;
}

/** The route groups a configuration has a section for (switched on or not), with the path prefixes they would claim. */
export function routeGroupPrefixes(cfg: ProxyConfig, groups: readonly RouteGroupRegistration[]): RouteGroupPrefix[] {
  const out: RouteGroupPrefix[] = [];
  for (const g of groups) {
    const section = cfg.routeGroups[g.section];
    if (section === undefined) continue;
    const p = g.pathPrefix(section);
    if (p !== undefined) out.push({ section: g.section, pathPrefix: p });
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

const WILDCARD = new Set(["", "0.0.0.0", "::"]);

/** Refuses a fixed metrics port that one of the server's own listeners already takes. */
function checkListenerPorts(cfg: ProxyConfig): void {
  const m = cfg.metrics;
  if (!m.enabled || m.port === undefined || m.port === 0) return;
  const ip = m.ip ?? DEFAULT_METRICS_IP;
  const sameHost = ip === cfg.server.ip || WILDCARD.has(ip) || WILDCARD.has(cfg.server.ip);
  if (!sameHost) return;
  if (m.port === cfg.server.port) bad(`[metrics] port ${m.port} is the main listener's port: /metrics gets a listener of its own, choose another port`);
  if (cfg.server.ping && m.port === cfg.server.pingPort) bad(`[metrics] port ${m.port} is the [server.ping] port: choose another port`);
}

/** Normalises ciop's own TOML; the sections of `groups` are handed to their route groups. */
export async function fromCiopToml(
  rawDoc: Table,
  dir: string,
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  groups: readonly RouteGroupRegistration[] = [],
): Promise<ProxyConfig> {
  // a route group's section is validated strictly by the group (its registration), not here
  const tracker = track(rawDoc, new Set(groups.map((g) => g.section)));
  const doc = tracker.doc;
  const cfg = defaults(dir, file, "ciop");
  const notes: ParseNotes = { inline: [], warnings: [] };
  const s = table(doc.server, "[server]");
  cfg.server.ip = str(s, "ip", "server") ?? cfg.server.ip;
  cfg.server.port = num(s, "port", "server", 0, 65535) ?? cfg.server.port;
  cfg.server.keepAliveTimeoutMs = (num(s, "keep_alive_timeout_secs", "server", 1, 86400) ?? cfg.server.keepAliveTimeoutMs / 1000) * 1000;
  cfg.server.tcpKeepAliveMs = (num(s, "tcp_keepalive_secs", "server", 1, 86400) ?? cfg.server.tcpKeepAliveMs / 1000) * 1000;
  cfg.server.maxBodyBytes = num(s, "max_body_bytes", "server", 1024, 16 * 1024 * 1024) ?? cfg.server.maxBodyBytes;
  cfg.server.fastPath = bool(s, "fast_path", "server") ?? cfg.server.fastPath;
  cfg.server.maxConnections = num(s, "max_connections", "server", 1, 1_000_000) ?? cfg.server.maxConnections;
  cfg.server.maxConnectionsPerSource = num(s, "max_connections_per_source", "server", 0, 1_000_000) ?? cfg.server.maxConnectionsPerSource;
  cfg.server.unauthenticatedRpsPerSource = num(s, "unauthenticated_rps_per_source", "server", 0, 1_000_000) ?? cfg.server.unauthenticatedRpsPerSource;
  cfg.server.unauthenticatedBurstPerSource = num(s, "unauthenticated_burst_per_source", "server", 1, 1_000_000) ?? cfg.server.unauthenticatedBurstPerSource;
  if (s.processes === "auto") cfg.server.processes = Math.min(64, Math.max(1, availableParallelism()));
  else {
    const processes = num(s, "processes", "server", 1, 64);
    if (processes !== undefined) {
      if (!Number.isInteger(processes)) bad('server.processes must be a whole number or "auto"');
      cfg.server.processes = processes;
    }
  }
  const ping = table(s.ping, "[server.ping]");
  cfg.server.ping = bool(ping, "enabled", "server.ping") ?? true;
  const pingPort = num(ping, "port", "server.ping", 0, 65535);
  if (pingPort !== undefined) cfg.server.pingPort = pingPort;
  if (s.tls !== undefined) {
    const t = table(s.tls, "[server.tls]");
    const certFile = resolvePath(dir, str(t, "cert_file", "server.tls"));
    const keyFile = resolvePath(dir, str(t, "key_file", "server.tls"));
    const ca = resolvePath(dir, str(t, "client_ca_file", "server.tls"));
    const subject = str(t, "client_subject", "server.tls");
    if (!certFile || !keyFile) bad("[server.tls] needs cert_file and key_file");
    const tls: TlsConfig = { certFile, keyFile };
    if (ca !== undefined) tls.clientCaFile = ca;
    if (subject !== undefined) {
      if (ca === undefined) bad("[server.tls] client_subject needs client_ca_file");
      tls.clientSubject = subject;
    }
    cfg.server.tls = tls;
  }

  const h = table(doc.hsm, "[hsm]");
  const lib = str(h, "library", "hsm");
  if (lib !== undefined) cfg.hsm.library = lib;
  const libParams = str(h, "library_parameters", "hsm");
  if (libParams !== undefined) cfg.hsm.libraryParameters = libParams;
  const token = str(h, "token", "hsm");
  if (token !== undefined) cfg.hsm.token = token;
  const pin = pinFrom(h, "hsm", dir, notes);
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
  const workers = num(h, "workers", "hsm", 0, 256);
  if (workers !== undefined) {
    if (!Number.isInteger(workers)) bad("hsm.workers must be a whole number (0 to session_pool)");
    const pool = cfg.hsm.sessionPool;
    if (workers > pool) bad(`hsm.workers (${workers}) must not exceed hsm.session_pool (${pool}): a worker runs one pooled session's call at a time`);
    if (cfg.hsm.callMode === "sync") bad('hsm.workers applies to call_mode "async" (or "auto" off software tokens); "sync" runs GCM on the event loop');
    cfg.hsm.workers = workers;
  }
  const profile = str(h, "profile", "hsm");
  if (profile !== undefined) cfg.hsm.profile = gcmProfileSetting(profile, "hsm.profile");
  const copies = h.session_key_copies;
  if (copies !== undefined) {
    if (copies !== "auto" && typeof copies !== "boolean") bad('hsm.session_key_copies must be "auto", true or false');
    cfg.hsm.sessionKeyCopies = copies as "auto" | boolean;
  }

  const hl = table(doc.health, "[health]");
  cfg.health.keyName = str(hl, "key", "health") ?? cfg.health.keyName;
  cfg.health.createKey = bool(hl, "create_key", "health") ?? cfg.health.createKey;
  cfg.health.fleetSize = num(hl, "fleet_size", "health", 1, 10_000) ?? cfg.health.fleetSize;
  cfg.health.vendor = str(hl, "vendor", "health") ?? cfg.health.vendor;
  cfg.health.intervalMs = (num(hl, "interval_secs", "health", 1, 55) ?? cfg.health.intervalMs / 1000) * 1000;

  const c = table(doc.compat, "[compat]");
  cfg.compat.sampleProxyAad = bool(c, "sample_proxy_aad", "compat") ?? false;
  const md = str(c, "sample_proxy_metadata_b64", "compat");
  if (md !== undefined && md !== "") cfg.compat.sampleProxyMetadata = decodeB64(md, "compat.sample_proxy_metadata_b64");

  const l = table(doc.limits, "[limits]");
  cfg.limits.maxPlaintextBytes = num(l, "max_plaintext_bytes", "limits", 4300, 1 << 20) ?? cfg.limits.maxPlaintextBytes;
  cfg.limits.maxAadBytes = num(l, "max_aad_bytes", "limits", 8192, 65535) ?? cfg.limits.maxAadBytes;

  const lg = table(doc.logging, "[logging]");
  const level = str(lg, "level", "logging");
  if (level !== undefined) {
    if (!["debug", "info", "warn", "error"].includes(level)) bad("logging.level must be debug, info, warn or error");
    cfg.logging.level = level as LoggingConfig["level"];
  }
  const logFile = resolvePath(dir, str(lg, "file", "logging"));
  if (logFile !== undefined) cfg.logging.file = logFile;

  const m = table(doc.metrics, "[metrics]");
  cfg.metrics.enabled = bool(m, "enabled", "metrics") ?? true;
  const mip = str(m, "ip", "metrics");
  if (mip !== undefined) {
    if (mip === "") bad('metrics.ip must be an address, e.g. "127.0.0.1" (the default) or "0.0.0.0"');
    cfg.metrics.ip = mip;
  }
  const mp = num(m, "port", "metrics", 0, 65535);
  if (mp !== undefined) {
    if (!Number.isInteger(mp)) bad("metrics.port must be a whole number");
    cfg.metrics.port = mp;
    delete cfg.metrics.defaultPort;
  }

  const stores = doc.stores;
  if (stores !== undefined && !Array.isArray(stores)) bad("[[stores]] must be an array of tables");
  for (const [i, raw] of ((stores ?? []) as unknown[]).entries()) {
    const where = `stores[${i}]`;
    const st = table(raw, where);
    const uriPrefix = checkPrefix(str(st, "uri_prefix", where) ?? "", where);
    const name = str(st, "name", where) ?? (uriPrefix === "" ? "default" : uriPrefix);
    const keys = strList(st, "keys", where) ?? [];
    const regions = strList(st, "regions", where) ?? [];
    const rps = num(st, "rate_limit_rps", where, 0.01, 1_000_000);
    const burst = num(st, "rate_limit_burst", where, 1, 10_000_000);
    const principals = strList(st, "allowed_principals", where);
    const allowWeakKeys = bool(st, "allow_weak_keys", where) ?? false;
    const creds = st.credentials;
    if (!Array.isArray(creds)) bad(`${where}: [[stores.credentials]] (one or two) is required`);
    const credentials: XksCredential[] = [];
    for (const [j, cr] of (creds as unknown[]).entries()) {
      const cw = `${where}.credentials[${j}]`;
      const ct = table(cr, cw);
      const accessKeyId = str(ct, "access_key_id", cw);
      if (accessKeyId === undefined) bad(`${cw}: access_key_id is required`);
      credentials.push(checkCredential({ accessKeyId, secretAccessKey: await readSecret(ct, cw, dir, env, notes) }, cw));
    }
    const store: StoreConfig = { name, uriPrefix, keys, credentials, regions };
    if (principals !== undefined) store.allowedPrincipals = principals;
    if (burst !== undefined && rps === undefined) bad(`${where}: rate_limit_burst needs rate_limit_rps`);
    if (rps !== undefined) store.rateLimit = { rps, burst: burst ?? rps };
    if (allowWeakKeys) store.allowWeakKeys = true;
    cfg.stores.push(store);
  }
  if (doc.fleet !== undefined) {
    const fl = table(doc.fleet, "[fleet]");
    const redisUrl = str(fl, "redis_url", "fleet");
    if (redisUrl === undefined || !/^rediss?:\/\/[^\s/]+(\/\d{0,2})?$/.test(redisUrl))
      bad("fleet.redis_url must be redis://[user:password@]host:port[/db] or rediss://... (Redis or Valkey)");
    if (/^rediss?:\/\/[^@/]*:[^@/]+@/.test(redisUrl)) notes.inline.push("fleet.redis_url (password)");
    const keyPrefix = str(fl, "key_prefix", "fleet") ?? "ciop-xks";
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(keyPrefix)) bad("fleet.key_prefix must be 1-64 characters of A-Z a-z 0-9 . _ : -");
    cfg.fleet = { redisUrl, keyPrefix, commandTimeoutMs: num(fl, "command_timeout_ms", "fleet", 10, 5000) ?? 250 };
  }
  for (const g of groups) {
    const section = doc[g.section];
    if (section === undefined) continue;
    cfg.routeGroups[g.section] = section;
    notes.inline.push(...(g.inlineSecrets?.(section) ?? []));
  }
  // every key of every table has been read by now: any other key is unknown
  refuseUnread(tracker, "ciop configuration");

  checkStores(cfg.stores);
  checkReservedStoreKeys(cfg, groups);
  checkListenerPorts(cfg);
  checkRouteOverlaps(cfg.stores, routeGroupPrefixes(cfg, groups));
  cfg.source.inlineSecrets = notes.inline;
  cfg.warnings.push(...notes.warnings);
  return cfg;
}

export interface ConfigReadOptions {
  env?: NodeJS.ProcessEnv;
  /** The route groups whose sections the file may have (src/route-groups.ts: the built-in ones). */
  routeGroups?: readonly RouteGroupRegistration[];
}

/**
 * Parses TOML text (either format, auto-detected). The app's entry points use proxy-config.ts,
 * which passes the built-in route groups.
 */
export async function parseConfigText(text: string, options: ConfigReadOptions & { file?: string; dir?: string } = {}): Promise<ProxyConfig> {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (err) {
    bad(`${options.file ?? "config"}: not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  const dir = options.dir ?? (options.file ? path.dirname(options.file) : process.cwd());
  return isAwsSampleSettings(doc)
    ? fromAwsSampleToml(doc, dir, options.file, options.env)
    : fromCiopToml(doc, dir, options.file, options.env, options.routeGroups);
}

/**
 * Loads the configuration from `file`, else the file {@link resolveConfigPath} names. A
 * world-writable file is refused; one that is group-writable, or readable by every user while
 * holding secrets, adds a warning.
 */
export async function readConfigFile(file?: string, options: ConfigReadOptions = {}): Promise<ProxyConfig> {
  const env = options.env ?? process.env;
  const f = resolveConfigPath(file, env).file;
  let text: string;
  try {
    text = await readFile(f, "utf8");
  } catch (err) {
    bad(`cannot read the configuration file ${f}: ${(err as Error).message}`);
  }
  const cfg = await parseConfigText(text, { ...options, file: f, env });
  const hint = cfg.source.format === "ciop" ? " or move them out of the file (pin_env / pin_file, secret_access_key_env / secret_access_key_file)" : "";
  cfg.warnings.push(...checkConfigFile(f, cfg.source.inlineSecrets ?? [], hint));
  return cfg;
}
