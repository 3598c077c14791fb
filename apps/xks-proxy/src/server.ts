/**
 * The xks-proxy server: HTTP or HTTPS (TLS 1.2+, the spec's cipher suites, optional mTLS with an
 * expected subject), unauthenticated GET /ping (optionally on its own port), Prometheus /metrics,
 * the XKS API for every configured key store, optional route groups (Salesforce cache-only), and
 * reload of stores, credentials, limits and certificates without a restart.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import tls, { type SecureContextOptions, type TLSSocket } from "node:tls";
import { CiopError } from "@ciop/core";
import type { Hsm, HsmKey } from "@ciop/hsm";
import {
  DependencyTimeoutException,
  HealthMonitor,
  ThrottlingException,
  handleXksHttpRequest,
  type EkmFleetMember,
  type GetHealthStatusResponse,
  type XksKeyStore,
  type XksOperation,
  type XksServiceOptions,
} from "@ciop/xks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { checkRouteOverlaps, loadConfig, metricsAddress, routeGroupPrefixes, type ProxyConfig, type TlsConfig } from "./config/index.js";
import { fastPathInFront, type FastHttp, type FastResponse } from "./fast-http.js";
import { Fleet } from "./fleet/index.js";
import { HsmBackend } from "./hsm-backend.js";
import { Logger } from "./logger.js";
import { paceNodeRequests } from "./node-pacing.js";
import { TokenBucket, type StoreLimiter } from "./rate-limit.js";
import type { RouteGroup, RouteGroupContext, RouteGroupFactory } from "./route-group.js";
import { createSalesforceRouteGroup, parseSalesforceSection } from "./salesforce/index.js";
import { SourceLimits, sourceOf } from "./source-limits.js";
import { UnauthenticatedLogSampler } from "./unauthenticated-log.js";
import type { NonceStore } from "./salesforce/replay.js";
import { checkStoreKeys, StoreKeyGuard } from "./store-key-policy.js";

/** The spec's suites: two TLS 1.3, two TLS 1.2 (ECDHE with AES-256-GCM). */
export const XKS_TLS_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

export interface StartServerOptions {
  /** Re-read the config file (and certificate files) when they change. */
  watchConfig?: boolean;
  /** Polling period of the file watch (ms, default 2000). */
  watchIntervalMs?: number;
  /** Receives every log line instead of stdout / the log file (tests). */
  logSink?: (line: string) => void;
  /**
   * This process's share of each store's rate limit (default 1). With N processes behind one port
   * each gets 1/N, so the store's total stays what the config says.
   */
  rateLimitShare?: number;
  /** How long close() lets requests in flight finish before cutting connections (ms, default 5000). */
  shutdownGraceMs?: number;
  /** Route group factories by config section (default: salesforce → the Salesforce group). */
  routeGroups?: Record<string, RouteGroupFactory>;
  /**
   * Where route groups keep replay nonces when there is no `[fleet]`: a cluster worker passes the
   * primary's store (default: each group in its own memory).
   */
  nonces?: NonceStore;
}

export interface RunningServer {
  /** Base URL of the main listener (host "localhost" when bound to a wildcard or loopback address). */
  url: string;
  /** URL of the own-port /ping listener, when configured. */
  pingUrl?: string;
  /** URL of the own-port /metrics listener, when configured. */
  metricsUrl?: string;
  /** Re-reads the configuration file (or applies `next`), certificates included. */
  reload(next?: ProxyConfig): Promise<void>;
  /** Re-initialises the PKCS#11 context (what a device error triggers). */
  resetHsm(): Promise<void>;
  /** This instance's live Hsm (admin operations in tests and route groups). */
  readonly hsm: Hsm;
  /** The Prometheus registry. */
  readonly metrics: Registry;
  close(): Promise<void>;
}

const HEALTH_VALUE = { ACTIVE: 1, DEGRADED: 0.5, UNAVAILABLE: 0 } as const;

function storeOf(s: ProxyConfig["stores"][number]): XksKeyStore {
  return { name: s.name, uriPrefix: s.uriPrefix, credentials: s.credentials, regions: s.regions, keys: new Set(s.keys) };
}

/**
 * The secure context of the main listener for `t`: certificate, key, the spec's protocol versions
 * and suites, and the mTLS CA when configured. Client certificates are always requested (see the
 * listener) and checked per connection against the config in force, so that every mTLS change a
 * reload makes (CA added, removed or replaced, subject added, changed or removed) applies to the
 * next connection: node fixes requestCert/rejectUnauthorized when a server is created and
 * setSecureContext does not change them.
 */
function tlsContextOptions(t: TlsConfig): SecureContextOptions {
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    minVersion: "TLSv1.2",
    ciphers: XKS_TLS_CIPHERS,
    honorCipherOrder: true,
    ...(t.clientCaFile !== undefined ? { ca: readFileSync(t.clientCaFile) } : {}),
  };
}

/**
 * Why `sock` must be refused under the mTLS settings `t` (undefined: accept). With a client CA,
 * the peer certificate must chain to it (`authorized`, verified by OpenSSL against the context's
 * CA) and, with `clientSubject`, name that subject (CN or DNS SAN).
 */
export function mtlsRefusal(sock: TLSSocket, t: TlsConfig | undefined): string | undefined {
  if (t?.clientCaFile === undefined) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return "no client certificate";
  if (!sock.authorized) return `client certificate not trusted (${String(sock.authorizationError ?? "unverified").slice(0, 80)})`;
  if (t.clientSubject !== undefined && tls.checkServerIdentity(t.clientSubject, cert) !== undefined) return "client certificate subject not accepted";
  return undefined;
}

function hostFor(ip: string): string {
  if (ip === "0.0.0.0" || ip === "::" || ip === "127.0.0.1" || ip === "::1" || ip === "") return "localhost";
  return ip.includes(":") ? `[${ip}]` : ip;
}

function listen(server: http.Server, port: number, ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, ip, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, closes idle keep-alive connections, lets requests in flight finish for up to `graceMs`. */
function closeServer(server: http.Server | undefined, graceMs: number, fast?: FastHttp): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      fast?.closeAll();
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    fast?.closeIdle();
    server.closeIdleConnections();
  });
}

/** The path of a raw request target (up to "?"). */
function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

/** Writes a whole response; headers go to node as a flat [name, value, ...] list (no object copy). */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const raw: string[] = [];
  for (const k in headers) raw.push(k, headers[k]!);
  raw.push("content-length", String(Buffer.byteLength(body)));
  res.writeHead(status, raw);
  res.end(body);
}

/** Starts a proxy for `config`; resolves when every listener is up. */
export async function startServer(initial: ProxyConfig, opts: StartServerOptions = {}): Promise<RunningServer> {
  let config = initial;
  // loadConfig checks this too; a config object built in code must not skip it
  checkRouteOverlaps(config.stores, routeGroupPrefixes(config));
  const logger = new Logger(config.logging, opts.logSink);
  const registry = new Registry();
  const reqDuration = new Histogram({
    name: "xks_proxy_request_duration_seconds",
    help: "XKS request latency by operation and HTTP status",
    labelNames: ["operation", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const hsmDuration = new Histogram({
    name: "xks_proxy_hsm_duration_seconds",
    help: "HSM call latency by operation and outcome",
    labelNames: ["operation", "outcome"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  const requests = new Counter({ name: "xks_proxy_requests_total", help: "XKS requests by operation, store and status", labelNames: ["operation", "store", "status"], registers: [registry] });
  const errors = new Counter({ name: "xks_proxy_errors_total", help: "XKS error responses by errorName", labelNames: ["operation", "error_name"], registers: [registry] });
  const healthGauge = new Gauge({ name: "xks_proxy_health_status", help: "Deep health: 1 ACTIVE, 0.5 DEGRADED, 0 UNAVAILABLE", registers: [registry] });
  const resets = new Counter({ name: "xks_proxy_hsm_context_resets_total", help: "PKCS#11 context resets after device errors", registers: [registry] });
  // prom-client children per label tuple, looked up once and reused (the label sets are small and bounded)
  const reqSeries = new Map<string, { duration: Histogram.Internal<"operation" | "status">; count: Counter.Internal }>();
  const recordRequest = (operation: string, store: string, status: number, errorName: string | undefined, latencyMs: number): void => {
    const id = `${operation}\0${store}\0${status}`;
    let series = reqSeries.get(id);
    if (!series) {
      const st = String(status);
      series = { duration: reqDuration.labels(operation, st), count: requests.labels(operation, store, st) };
      reqSeries.set(id, series);
    }
    series.duration.observe(latencyMs / 1000);
    series.count.inc();
    if (errorName) errors.inc({ operation, error_name: errorName });
  };

  const hsmSeries = new Map<string, Histogram.Internal<"operation" | "outcome">>();
  const backend = await HsmBackend.open(config.hsm, {
    observe: (operation, seconds, outcome) => {
      const id = `${operation}\0${outcome}`;
      let h = hsmSeries.get(id);
      if (!h) hsmSeries.set(id, (h = hsmDuration.labels(operation, outcome)));
      h.observe(seconds);
    },
    event: (record) => {
      if (record["msg"] === "hsm-context-reset") resets.inc();
      logger.log("warn", record);
    },
  });

  new Gauge({
    name: "xks_proxy_hsm_session_key_copies",
    help: "Keys whose AES-GCM calls run on a session-object copy in the HSM ([hsm] session_key_copies)",
    registers: [registry],
    collect() {
      this.set(backend.sessionCopies);
    },
  });

  // store keys must stay inside the HSM (src/store-key-policy.ts): a weak key fails the start here
  const keyGuard = new StoreKeyGuard((record) => logger.log("warn", record));
  let keyWarnings: string[];
  try {
    const verdict = checkStoreKeys(backend.hsm, config.stores);
    keyGuard.apply(verdict);
    keyWarnings = verdict.warnings;
  } catch (err) {
    await backend.close();
    throw err;
  }

  // ------------------------------------------------------------------ health
  let healthKey: HsmKey | undefined;
  const healthAad = Buffer.from("ciop-xks-health-probe");
  const findHealthKey = async (): Promise<HsmKey> => {
    const hsm = backend.hsm;
    const found = hsm.findKey(config.health.keyName);
    if (found) return found;
    if (!config.health.createKey) throw new CiopError("ERR_KEY_NOT_FOUND", `health key '${config.health.keyName}' is missing`);
    return (await hsm.getOrCreateKey(config.health.keyName, "AES-256", { extractable: false })).key;
  };
  const monitor = new HealthMonitor(() =>
    probe().catch((err: unknown): EkmFleetMember["healthStatus"] => {
      logger.log("warn", { msg: "health-probe-failed", error: `${(err as CiopError).code ?? "Error"}: ${(err as Error).message ?? String(err)}`.slice(0, 300) });
      // an HSM that answers, only too slowly, is still serving: DEGRADED rather than UNAVAILABLE
      if (err instanceof DependencyTimeoutException) return "DEGRADED";
      throw err;
    }),
  );
  async function probe(): Promise<EkmFleetMember["healthStatus"]> {
    healthKey = healthKey && backend.hsm.findKey(config.health.keyName) === healthKey ? healthKey : await backend.withTimeout("health", findHealthKey);
    const key = healthKey;
    const pt = randomBytes(32);
    const iv = randomBytes(12);
    const ct = await backend.withTimeout("health-encrypt", () => backend.hsm.encryptAesGcmAsync(key, iv, pt, healthAad));
    const back = await backend.withTimeout("health-decrypt", () => backend.hsm.decryptAesGcmAsync(key, iv, ct, healthAad));
    if (back.length !== pt.length || !timingSafeEqual(back, pt)) throw new Error("health round trip mismatch");
    return "ACTIVE";
  }
  const healthReport = async (): Promise<GetHealthStatusResponse> => {
    const { status } = await monitor.status();
    healthGauge.set(HEALTH_VALUE[status]);
    const t = backend.hsm.token;
    const member: EkmFleetMember = {
      id: (t.label || t.serial).slice(0, 128),
      model: `${t.model} (${t.libraryDescription})`.slice(0, 128),
      healthStatus: status,
    };
    return {
      xksProxyFleetSize: config.health.fleetSize,
      xksProxyVendor: config.health.vendor,
      xksProxyModel: config.health.model,
      ekmVendor: `${t.manufacturer} serial ${t.serial}`.slice(0, 128),
      ekmFleetDetails: [member],
    };
  };
  // Create/find the health key before the first probe, outside the per-call timeout (key
  // generation can take longer than an encrypt).
  try {
    healthKey = await findHealthKey();
  } catch (err) {
    logger.log("warn", { msg: "health-key-unavailable", key: config.health.keyName, error: (err as CiopError).code ?? "Error" });
  }
  monitor.start(config.health.intervalMs);

  // ------------------------------------------------------------------ stores and admission
  // [fleet]: rate limits (and replay nonces) shared by every instance through Redis; an unreachable
  // Redis is logged and retried, never fatal (see src/fleet/).
  const fleet = config.fleet ? await Fleet.start(config.fleet, (level, record) => logger.log(level, record)) : undefined;
  const runningFleet = config.fleet;
  let buckets = new Map<string, StoreLimiter>();
  let principals = new Map<string, Set<string>>();
  const service: XksServiceOptions = {
    stores: [],
    crypto: backend,
    health: healthReport,
    authorize: (store, _op, keyId, md) => {
      const allowed = principals.get(store.name ?? "");
      if (allowed !== undefined && (md.awsPrincipalArn === undefined || !allowed.has(md.awsPrincipalArn))) return false;
      // a key that was not in the token when the config was applied is checked when first found
      keyGuard.admit(backend.hsm, store.name ?? "", keyId);
      return true;
    },
    admit: (store: XksKeyStore, _op: XksOperation) => {
      const b = buckets.get(store.name ?? "");
      if (b && !b.take()) throw new ThrottlingException("the key store's request rate limit was exceeded; retry");
    },
  };
  const applyStores = (c: ProxyConfig): void => {
    service.stores = c.stores.map(storeOf);
    service.limits = c.limits;
    service.compat = { sampleProxyAad: c.compat.sampleProxyAad, ...(c.compat.sampleProxyMetadata ? { sampleProxyMetadata: c.compat.sampleProxyMetadata } : {}) };
    principals = new Map(c.stores.filter((s) => s.allowedPrincipals !== undefined).map((s) => [s.name, new Set(s.allowedPrincipals)]));
    const next = new Map<string, StoreLimiter>();
    const share = opts.rateLimitShare ?? 1;
    for (const s of c.stores) {
      if (!s.rateLimit) continue;
      const old = buckets.get(s.name);
      if (fleet) {
        // the store's whole rate, shared through Redis; while Redis is unreachable this process
        // enforces its share of 1/fleet_size of it
        const { rps, burst } = s.rateLimit;
        const fallback = share / c.health.fleetSize;
        if (old) {
          old.update(rps, burst, fallback);
          next.set(s.name, old);
        } else next.set(s.name, fleet.rateLimiter(s.name, rps, burst, fallback));
        continue;
      }
      const rps = s.rateLimit.rps * share;
      const burst = Math.max(1, Math.ceil(s.rateLimit.burst * share));
      if (old) {
        old.update(rps, burst);
        next.set(s.name, old);
      } else next.set(s.name, new TokenBucket(rps, burst));
    }
    for (const [name, old] of buckets) if (next.get(name) !== old) old.close?.();
    buckets = next;
  };
  applyStores(config);

  // ------------------------------------------------------------------ route groups
  const factories: Record<string, RouteGroupFactory> = opts.routeGroups ?? { salesforce: createSalesforceRouteGroup };
  /** Mounted route groups; `under` is the group's prefix with a trailing "/", refreshed when a reload moves it. */
  const groups: Array<{ section: string; group: RouteGroup; under: string }> = [];
  const underOf = (g: RouteGroup): string => (g.pathPrefix.endsWith("/") ? g.pathPrefix : `${g.pathPrefix}/`);
  const ctx: RouteGroupContext = {
    get hsm() {
      return backend.hsm;
    },
    withHsmTimeout: (operation, fn) => backend.withTimeout(operation, fn),
    log: (record) => logger.log("info", record),
    metrics: registry,
    configDir: config.source.dir,
    ...(fleet ? { nonces: fleet.nonces } : opts.nonces ? { nonces: opts.nonces } : {}),
  };
  /** The route-group sections `c` mounts: present, and not switched off with `enabled = false`. */
  const sections = (c: ProxyConfig): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const on = (raw: unknown): boolean => !(typeof raw === "object" && raw !== null && (raw as Record<string, unknown>)["enabled"] === false);
    if (c.salesforce !== undefined && on(c.salesforce)) out["salesforce"] = c.salesforce;
    return out;
  };
  try {
    if (config.salesforce !== undefined && sections(config)["salesforce"] === undefined) {
      // switched off: still validated (a typo is refused now, not when it is switched on), and said
      parseSalesforceSection(config.salesforce, config.source.dir);
      logger.log("info", { msg: "route-group-disabled", group: "salesforce", reason: "[salesforce] enabled = false: the cache-only key route is not served" });
    }
    for (const [section, raw] of Object.entries(sections(config))) {
      const factory = factories[section];
      if (factory) {
        const group = await factory(raw, ctx);
        groups.push({ section, group, under: underOf(group) });
      }
    }
    // the prefixes the groups really serve (a group may normalise its section's value)
    checkRouteOverlaps(config.stores, groups.map(({ section, group }) => ({ section, pathPrefix: group.pathPrefix })));
  } catch (err) {
    monitor.stop();
    for (const g of groups) await g.group.close().catch(() => undefined);
    for (const b of buckets.values()) b.close?.();
    await fleet?.close();
    await backend.close();
    throw err;
  }

  // ------------------------------------------------------------------ request handling
  const groupFor = (path: string): (typeof groups)[number] | undefined => groups.find(({ group: g, under }) => path === g.pathPrefix || path.startsWith(under));
  const ping = (res: ServerResponse): void => send(res, 200, { "content-type": "text/plain" }, "pong\n");
  const sendMetrics = async (res: ServerResponse): Promise<void> => {
    send(res, 200, { "content-type": registry.contentType }, await registry.metrics());
  };

  // ------------------------------------------------------------------ unauthenticated clients
  // Per-source connection caps and unauthenticated-request budgets (src/source-limits.ts), and the
  // per-source sampling of unauthenticated requests' log lines (src/unauthenticated-log.ts).
  const sources = new SourceLimits(() => config.server);
  const unauthLog = new UnauthenticatedLogSampler((record) => logger.log("warn", record));
  const refusedConnections = new Counter({
    name: "xks_proxy_connections_refused_total",
    help: "Connections closed at accept: max_connections, max_connections_per_source, or unauthenticated_rate (the source is over its unauthenticated request rate)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const throttledUnauthenticated = new Counter({
    name: "xks_proxy_unauthenticated_throttled_total",
    help: "XKS requests answered 429 before any other work because their source sent too many requests that failed authentication",
    registers: [registry],
  });
  let droppedCounted = 0;
  new Counter({
    name: "xks_proxy_log_lines_dropped_total",
    help: "Log lines dropped because stdout or the log file did not take them fast enough",
    registers: [registry],
    collect() {
      const n = logger.droppedLines - droppedCounted;
      droppedCounted += n;
      if (n > 0) this.inc(n);
    },
  });
  let notLoggedCounted = 0;
  new Counter({
    name: "xks_proxy_log_lines_sampled_out_total",
    help: "Request log lines of unauthenticated requests not written (per-source sampling; summed up in unauthenticated-requests-not-logged lines)",
    registers: [registry],
    collect() {
      const n = unauthLog.notLoggedTotal - notLoggedCounted;
      notLoggedCounted += n;
      if (n > 0) this.inc(n);
    },
  });
  const THROTTLED_BODY = JSON.stringify({ errorName: "ThrottlingException", errorMessage: "too many unauthenticated requests from this address; retry later" });

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = process.hrtime.bigint();
    const rawUrl = req.url ?? "/";
    const pathOnly = pathOf(rawUrl);
    if (req.method === "GET" && pathOnly === "/ping" && config.server.ping) return ping(res);

    const group = groupFor(pathOnly);
    let body: Buffer;
    try {
      body = await readBody(req, config.server.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader("connection", "close");
        send(res, 501, { "content-type": "application/json" }, JSON.stringify({ errorName: "UnsupportedOperationException", errorMessage: "the request body is larger than this proxy supports" }));
        // read before any authentication: charged and logged as unauthenticated
        const source = sourceOf(req.socket.remoteAddress);
        sources.chargeUnauthenticated(source);
        if (unauthLog.allow(source)) logger.log("info", { msg: "request", status: 501, errorName: "UnsupportedOperationException", latencyMs: ms(start), authenticated: false, remote: source });
        return;
      }
      throw err;
    }
    if (group) {
      const r: { status: number; key?: string; errorName?: string; cause?: string } = await group.group.handle(req, res, body).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { "content-type": "application/json" }, JSON.stringify({ errorName: "InternalException" }));
        else res.end();
        return { status: 500, errorName: "InternalException", cause: (err as Error).message?.slice(0, 200) };
      });
      const latency = ms(start);
      recordRequest(group.group.name, group.group.name, r.status, r.errorName, latency);
      // a group's 4xx may be anyone's (failed credentials, unknown paths): sampled per source
      const refused = r.status >= 400 && r.status < 500;
      const source = refused ? sourceOf(req.socket.remoteAddress) : undefined;
      if (source === undefined || unauthLog.allow(source)) {
        logger.log("info", { msg: "request", group: group.group.name, method: req.method, path: pathOnly.slice(0, 200), key: r.key, status: r.status, errorName: r.errorName, latencyMs: latency, cause: r.cause, remote: source });
      }
      return;
    }
    await serveXks(
      start,
      req.method ?? "GET",
      rawUrl,
      req.headers,
      body,
      (r) => {
        if (r.close === true) {
          // a hostile client: no more of its pipelined requests are read or handled
          res.setHeader("connection", "close");
          res.once("finish", () => req.socket.destroy());
        }
        send(res, r.status, r.headers, r.body);
      },
      req.socket.remoteAddress,
    );
  };
  /**
   * One XKS API request, from either HTTP path: the pipeline, the response, then metrics and the
   * request log. A source over its unauthenticated rate gets 429 before any work and its connection
   * is closed; a request that fails before its signature is verified is charged to its source and
   * its log line sampled per source (and carries no metadata from the unsigned body).
   */
  const serveXks = async (start: bigint, method: string, rawUrl: string, headers: IncomingMessage["headers"], body: Buffer, respond: (r: FastResponse) => void, remote: string | undefined): Promise<void> => {
    const source = sourceOf(remote);
    if (sources.throttled(source)) {
      throttledUnauthenticated.inc();
      respond({ status: 429, headers: { "content-type": "application/json" }, body: THROTTLED_BODY, close: true });
      const latency = ms(start);
      recordRequest("unknown", "none", 429, "ThrottlingException", latency);
      if (unauthLog.allow(source)) logger.log("info", { msg: "request", status: 429, errorName: "ThrottlingException", latencyMs: latency, authenticated: false, remote: source, cause: "source over its unauthenticated request rate" });
      return;
    }
    const result = await handleXksHttpRequest({ method, url: rawUrl, headers, body }, service);
    const l = result.log;
    // the request that uses up its source's budget is still answered, then its connection closes
    const close = !l.authenticated && !sources.chargeUnauthenticated(source);
    respond({ status: result.status, headers: result.headers, body: result.body, authenticated: l.authenticated, close });
    const latency = ms(start);
    recordRequest(l.operation ?? "unknown", l.store ?? "none", result.status, l.errorName, latency);
    if (!l.authenticated && !unauthLog.allow(source)) return;
    logger.log(result.status >= 500 ? "warn" : "info", {
      msg: "request",
      kmsRequestId: l.kmsRequestId,
      kmsOperation: l.kmsOperation,
      operation: l.operation,
      store: l.store,
      key: l.keyId,
      keyIdInvalid: l.keyIdInvalid,
      status: result.status,
      errorName: l.errorName,
      latencyMs: latency,
      accessKeyId: l.accessKeyId,
      region: l.region,
      cause: l.cause,
      ...(l.authenticated ? {} : { authenticated: false, remote: source }),
    });
  };
  /** A request whose handling threw (either HTTP path): the error's message only, never request data. */
  const logRequestFailure = (err: unknown): void => logger.log("error", { msg: "request-failed", error: (err as Error).message?.slice(0, 200) });
  // node's HTTP server starts at most 8 requests of one connection per event-loop turn (src/node-pacing.ts)
  const handler = paceNodeRequests((req: IncomingMessage, res: ServerResponse): void => {
    onRequest(req, res).catch((err: unknown) => {
      // A client that went away mid-request (before any authentication) is not the proxy's failure:
      // nothing to answer, and a line only as the unauthenticated sampling allows, at debug level.
      if (req.destroyed || (err as NodeJS.ErrnoException).code === "ECONNRESET" || (err as Error).message === "aborted") {
        const source = sourceOf(req.socket.remoteAddress);
        sources.chargeUnauthenticated(source);
        if (unauthLog.allow(source)) logger.log("debug", { msg: "request-aborted", authenticated: false, remote: source });
        res.destroy();
        return;
      }
      logRequestFailure(err);
      if (!res.headersSent) send(res, 500, { "content-type": "application/json" }, JSON.stringify({ errorName: "InternalException" }));
      else res.destroy();
    });
  });

  /**
   * The XKS fast path in front of `server`: it serves the XKS API's POSTs itself and hands node's
   * HTTP server every other connection (from that request on): /ping, /metrics, route groups,
   * anything outside its strict subset.
   */
  const startFastPath = (server: http.Server): FastHttp => {
    const handedOff = new Counter({
      name: "xks_proxy_connections_handed_off_total",
      help: "Connections the XKS fast path passed to node's HTTP server (/ping, /metrics, route groups, or a request outside the strict subset)",
      registers: [registry],
    });
    return fastPathInFront(server, {
      accepts: (method, target) => method === "POST" && groupFor(pathOf(target)) === undefined,
      // latency from when the request was read, not from the end-of-turn step that handles it
      handle: (method, target, headers, body, respond, receivedAt, remote) => serveXks(receivedAt, method, target, headers, body, respond, remote),
      onHandOff: () => handedOff.inc(),
      maxBodyBytes: config.server.maxBodyBytes,
      // a new connection has the headers timeout for its first request, as on node's path, and so
      // does each idle period until a request on it was authenticated
      headersTimeoutMs: httpOpts.headersTimeout!,
      untrustedIdleTimeoutMs: httpOpts.headersTimeout!,
      requestTimeoutMs: httpOpts.requestTimeout!,
      keepAliveTimeoutMs: config.server.keepAliveTimeoutMs,
      onError: logRequestFailure,
    });
  };

  // ------------------------------------------------------------------ listeners
  const httpOpts: http.ServerOptions = {
    keepAlive: true,
    keepAliveInitialDelay: config.server.tcpKeepAliveMs,
    noDelay: true,
    requestTimeout: 30_000,
    headersTimeout: 20_000,
  };
  const tlsCfg = config.server.tls;
  let main: http.Server;
  if (tlsCfg) {
    // Always ask for a client certificate and never let OpenSSL refuse one: the check runs in
    // "secureConnection" against the settings in force, so a reload can switch mTLS on, off or over.
    // handshakeTimeout: a connection that never finishes its handshake is held no longer than one
    // that never sends its headers (node's default is 120 s)
    const s = https.createServer({ ...httpOpts, handshakeTimeout: httpOpts.headersTimeout!, ...tlsContextOptions(tlsCfg), requestCert: true, rejectUnauthorized: false }, handler);
    s.on("secureConnection", (sock: TLSSocket) => {
      const refused = mtlsRefusal(sock, config.server.tls);
      if (refused !== undefined) {
        // before any authentication: charged to the source and logged within its sampling
        const source = sourceOf(sock.remoteAddress);
        sources.chargeUnauthenticated(source);
        if (unauthLog.allow(source)) logger.log("warn", { msg: "mtls-refused", reason: refused, authenticated: false, remote: source });
        sock.destroy();
      }
    });
    s.on("tlsClientError", (err: Error) => logger.log("debug", { msg: "tls-handshake-failed", error: err.message.slice(0, 200) }));
    main = s;
  } else {
    main = http.createServer(httpOpts, handler);
  }
  main.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  main.maxRequestsPerSocket = 0;
  // The XKS fast path takes every new connection first and hands node's HTTP server the ones (from
  // the first request) it does not serve itself: /ping, /metrics, route groups, anything unusual.
  const fast = config.server.fastPath ? startFastPath(main) : undefined;
  // Connection limits. node's net layer closes connections past max_connections at accept, before
  // any 'connection' listener: the fast path takes its sockets from those events, so the count
  // covers both HTTP paths. The per-source cap, and a source over its unauthenticated rate, are
  // refused by the first 'connection' listener, before TLS (prepended after the fast path has
  // taken node's own listener, which fastPathInFront finds as the first one). Established
  // connections are untouched.
  main.maxConnections = config.server.maxConnections;
  main.on("drop", () => refusedConnections.inc({ reason: "max_connections" }));
  main.prependListener("connection", (socket: Socket) => {
    const admitted = sources.admitConnection(sourceOf(socket.remoteAddress));
    if ("refused" in admitted) {
      refusedConnections.inc({ reason: admitted.refused });
      socket.destroy();
      return;
    }
    if (admitted.key !== "") socket.once("close", () => sources.releaseConnection(admitted.key));
  });

  let pingServer: http.Server | undefined;
  let metricsServer: http.Server | undefined;
  const closeAll = async (): Promise<void> => {
    const grace = opts.shutdownGraceMs ?? 5000;
    await Promise.all([closeServer(main, grace, fast), closeServer(pingServer, grace), closeServer(metricsServer, grace)]);
  };
  let port: number;
  let pingUrl: string | undefined;
  let metricsUrl: string | undefined;
  try {
    port = await listen(main, config.server.port, config.server.ip);
    if (config.server.ping && config.server.pingPort !== undefined) {
      pingServer = http.createServer((req, res) => {
        if (req.method === "GET" && req.url === "/ping") ping(res);
        else send(res, 404, { "content-type": "text/plain" }, "not found\n");
      });
      pingUrl = `http://${hostFor(config.server.ip)}:${await listen(pingServer, config.server.pingPort, config.server.ip)}/ping`;
    }
    // /metrics has a plain-HTTP listener of its own (default 127.0.0.1:9464), never the KMS-facing one
    if (config.metrics.enabled) {
      const at = metricsAddress(config.metrics);
      metricsServer = http.createServer((req, res) => {
        if (req.method === "GET" && req.url === "/metrics" && config.metrics.enabled) void sendMetrics(res);
        else send(res, 404, { "content-type": "text/plain" }, "not found\n");
      });
      try {
        metricsUrl = `http://${hostFor(at.ip)}:${await listen(metricsServer, at.port, at.ip)}/metrics`;
      } catch (err) {
        // a port the file names must be had; the default one may be another proxy's on this host
        if (!config.metrics.defaultPort) throw err;
        metricsServer = undefined;
        logger.log("warn", {
          msg: "metrics-unavailable",
          address: `${at.ip}:${at.port}`,
          error: (err as NodeJS.ErrnoException).code ?? "error",
          detail: "the default /metrics port is taken: set [metrics] port (0 = any free port), or enabled = false",
        });
      }
    }
  } catch (err) {
    await closeAll();
    monitor.stop();
    for (const g of groups) await g.group.close().catch(() => undefined);
    for (const b of buckets.values()) b.close?.();
    await fleet?.close();
    await backend.close();
    throw err;
  }
  const url = `${tlsCfg ? "https" : "http"}://${hostFor(config.server.ip)}:${port}`;

  // ------------------------------------------------------------------ reload
  /** The loaded file's settings that are accepted but not enforced, as warnings (at start and after each reload). */
  const warnNotEnforced = (): void => {
    for (const setting of config.notEnforced) logger.log("warn", { msg: "setting-not-enforced", setting });
    for (const warning of [...config.warnings, ...keyWarnings]) logger.log("warn", { msg: "config-warning", warning });
  };
  const restartNeeded = (a: ProxyConfig, b: ProxyConfig): string[] => {
    const out: string[] = [];
    if (a.server.ip !== b.server.ip || a.server.port !== b.server.port) out.push("server address");
    if (a.server.fastPath !== b.server.fastPath) out.push("server fast_path");
    if ((a.server.tls === undefined) !== (b.server.tls === undefined)) out.push("TLS on/off");
    if (a.hsm.library !== b.hsm.library || a.hsm.token !== b.hsm.token || a.hsm.sessionPool !== b.hsm.sessionPool) out.push("hsm library/token/pool");
    if (a.hsm.allowHostFallback !== b.hsm.allowHostFallback) out.push("hsm allow_host_fallback");
    if (a.server.pingPort !== b.server.pingPort) out.push("ping port");
    const ma = metricsAddress(a.metrics);
    const mb = metricsAddress(b.metrics);
    if ((!a.metrics.enabled && b.metrics.enabled) || (b.metrics.enabled && (ma.ip !== mb.ip || ma.port !== mb.port))) out.push("metrics listener");
    if (runningFleet?.redisUrl !== b.fleet?.redisUrl || runningFleet?.keyPrefix !== b.fleet?.keyPrefix || runningFleet?.commandTimeoutMs !== b.fleet?.commandTimeoutMs) out.push("fleet");
    return out;
  };
  /**
   * A reload is prepared first (config read and checked, certificate files read, route groups to
   * add built, kept groups re-read) and only then committed in one synchronous step, so a failure
   * leaves the running settings as they were, and no connection sees half of a change (e.g. a new
   * client CA with the old "mTLS off"). Settings that need a restart keep their running value and
   * are named in a warning.
   */
  let reloading: Promise<void> = Promise.resolve();
  const reload = (next?: ProxyConfig): Promise<void> => {
    reloading = reloading.catch(() => undefined).then(async () => {
      const fresh = next ?? (config.source.file !== undefined ? await loadConfig(config.source.file) : config);
      checkRouteOverlaps(fresh.stores, routeGroupPrefixes(fresh));
      const restart = restartNeeded(config, fresh);
      // a store key that is extractable or not sensitive refuses the reload (store-key-policy.ts)
      const keyVerdict = checkStoreKeys(backend.hsm, fresh.stores);
      const tlsOnOffChanged = (config.server.tls === undefined) !== (fresh.server.tls === undefined);
      // TLS stays as it runs when a reload switches it on or off (restart needed); otherwise the new
      // settings' files are read now, before anything changes
      const nextTls = tlsOnOffChanged ? config.server.tls : fresh.server.tls;
      const secureContext = nextTls && main instanceof https.Server ? tlsContextOptions(nextTls) : undefined;

      // route groups: build the added ones, re-read the kept ones, then swap
      const wanted = sections(fresh);
      const added: Array<{ section: string; group: RouteGroup }> = [];
      try {
        for (const [section, raw] of Object.entries(wanted)) {
          if (groups.some((g) => g.section === section)) continue;
          const factory = factories[section];
          if (factory) added.push({ section, group: await factory(raw, ctx) });
        }
        for (const { section, group } of groups) {
          const raw = wanted[section];
          if (raw !== undefined && group.reload) await group.reload(raw);
        }
        const kept = groups.filter((g) => wanted[g.section] !== undefined);
        checkRouteOverlaps(fresh.stores, [...kept, ...added].map(({ section, group }) => ({ section, pathPrefix: group.pathPrefix })));
      } catch (err) {
        for (const a of added) await a.group.close().catch(() => undefined);
        throw err;
      }

      // commit (synchronous)
      if (secureContext) (main as https.Server).setSecureContext(secureContext);
      const removed = groups.filter((g) => wanted[g.section] === undefined);
      const mounted = [...groups.filter((g) => wanted[g.section] !== undefined), ...added.map((a) => ({ ...a, under: "" }))];
      for (const g of mounted) g.under = underOf(g.group);
      groups.splice(0, groups.length, ...mounted);
      applyStores(fresh);
      keyGuard.apply(keyVerdict);
      keyWarnings = keyVerdict.warnings;
      backend.updateConfig(fresh.hsm);
      backend.invalidate();
      logger.setLevel(fresh.logging.level);
      main.keepAliveTimeout = fresh.server.keepAliveTimeoutMs;
      fast?.update({ maxBodyBytes: fresh.server.maxBodyBytes, keepAliveTimeoutMs: fresh.server.keepAliveTimeoutMs });
      config = {
        ...fresh,
        server: { ...fresh.server, ip: config.server.ip, port: config.server.port, fastPath: config.server.fastPath, ...(nextTls ? { tls: nextTls } : { tls: undefined }), ...(config.server.pingPort !== undefined ? { pingPort: config.server.pingPort } : { pingPort: undefined }) },
        hsm: { ...fresh.hsm, library: config.hsm.library, token: config.hsm.token, sessionPool: config.hsm.sessionPool, allowHostFallback: config.hsm.allowHostFallback },
        // the /metrics listener keeps its address (and stays absent when it was off) until a restart
        metrics: { ...fresh.metrics, ...metricsAddress(config.metrics), enabled: fresh.metrics.enabled && metricsServer !== undefined },
      };
      watchFiles();
      for (const r of removed) await r.group.close().catch((err: unknown) => logger.log("warn", { msg: "route-group-close-failed", group: r.group.name, error: (err as Error).message?.slice(0, 200) }));
      logger.log("info", {
        msg: "config-reloaded",
        stores: config.stores.map((st) => st.name),
        routeGroups: groups.map((g) => ({ name: g.group.name, pathPrefix: g.group.pathPrefix })),
        unmounted: removed.length ? removed.map((r) => r.group.name) : undefined,
      });
      if (restart.length) logger.log("warn", { msg: "reload-needs-restart", settings: restart, detail: "these settings keep their running values until the proxy restarts" });
      warnNotEnforced();
    });
    return reloading.catch((err: unknown) => {
      logger.log("error", { msg: "config-reload-failed", error: (err as Error).message?.slice(0, 300), detail: "the running configuration is unchanged" });
      throw err;
    });
  };
  // the config file and the TLS files it names, re-listed after each reload (a reload may name new ones)
  const watched = new Set<string>();
  let watchTimer: NodeJS.Timeout | undefined;
  function watchFiles(): void {
    if (!opts.watchConfig) return;
    const files = new Set([config.source.file, config.server.tls?.certFile, config.server.tls?.keyFile, config.server.tls?.clientCaFile].filter((f): f is string => f !== undefined));
    for (const f of watched) {
      if (files.has(f)) continue;
      unwatchFile(f);
      watched.delete(f);
    }
    for (const f of files) {
      if (watched.has(f)) continue;
      watchFile(f, { interval: opts.watchIntervalMs ?? 2000, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
        if (watchTimer) clearTimeout(watchTimer);
        watchTimer = setTimeout(() => void reload().catch(() => undefined), 100);
        watchTimer.unref();
      });
      watched.add(f);
    }
  }
  watchFiles();

  logger.log("info", { msg: "listening", url, pingUrl, metricsUrl, stores: config.stores.map((s) => s.name), format: config.source.format, token: backend.hsm.token.label });
  warnNotEnforced();

  let closing: Promise<void> | undefined;
  return {
    url,
    ...(pingUrl !== undefined ? { pingUrl } : {}),
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    metrics: registry,
    get hsm() {
      return backend.hsm;
    },
    reload,
    resetHsm: () => backend.reset(),
    close() {
      closing ??= (async () => {
        for (const f of watched) unwatchFile(f);
        if (watchTimer) clearTimeout(watchTimer);
        monitor.stop();
        await closeAll();
        for (const g of groups) await g.group.close().catch(() => undefined);
        for (const b of buckets.values()) b.close?.();
        await fleet?.close();
        await backend.close();
        sources.close();
        unauthLog.close();
        logger.log("info", { msg: "stopped" });
        await logger.close();
      })();
      return closing;
    },
  };
}

function ms(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
}
