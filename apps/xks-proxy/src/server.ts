/**
 * The xks-proxy server, composed of parts with one lifecycle each (src/server/):
 *
 * - metrics.ts: the Prometheus registry and every series; logger.ts: the log;
 * - HsmBackend (hsm-backend.ts): the token, key state, the GCM calls (queued in the end-of-turn
 *   schedule shared with the fast path, http/end-of-turn.ts);
 * - health.ts: deep health; admission.ts: stores, rate limits, principals, store-key policy;
 *   fleet/: state shared through Redis;
 * - route-groups.ts: the mounted route groups (Salesforce), from their registrations;
 * - requests.ts: routing and request handling on both HTTP paths;
 * - listeners.ts: the main listener (TLS, per-connection mTLS check, connection gate), the /ping and
 *   /metrics listeners; the fast path (http/fast-http.ts) in front of the main one;
 * - restart-only.ts + the reload below; watch.ts: the files a reload re-reads.
 *
 * Every part registers its undoing in one {@link Cleanup} as it starts: a failed start and close()
 * take the same path.
 */
import type http from "node:http";
import https from "node:https";
import type { Hsm } from "@ciop/hsm";
import type { Registry } from "prom-client";
import { checkRouteOverlaps, readConfigFile, routeGroupPrefixes, metricsAddress, type ProxyConfig } from "./config/index.js";
import { Fleet } from "./fleet/index.js";
import { HsmBackend } from "./hsm-backend.js";
import { EndOfTurn } from "./http/end-of-turn.js";
import { fastPathInFront, type FastHttp } from "./http/fast-http.js";
import { Logger } from "./logger.js";
import type { RouteGroupContext, RouteGroupFactory } from "./route-group.js";
import { BUILT_IN_ROUTE_GROUPS } from "./route-groups.js";
import type { NonceStore } from "./salesforce/replay.js";
import { Admission } from "./server/admission.js";
import { Cleanup } from "./server/cleanup.js";
import { Health } from "./server/health.js";
import {
  closeServer,
  createMainListener,
  createMetricsListener,
  createPingListener,
  HEADERS_TIMEOUT_MS,
  hostFor,
  listen,
  REQUEST_TIMEOUT_MS,
  tlsContextOptions,
} from "./server/listeners.js";
import { ProxyMetrics } from "./server/metrics.js";
import { Requests } from "./server/requests.js";
import { keepRunning, restartNeeded } from "./server/restart-only.js";
import { RouteGroups } from "./server/route-groups.js";
import { FileWatch, watchedFiles } from "./server/watch.js";
import { SourceLimits } from "./source-limits.js";
import { UnauthenticatedLogSampler } from "./unauthenticated-log.js";

export { XKS_TLS_CIPHERS, mtlsRefusal } from "./server/listeners.js";

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
  /** Route group factories that replace the registered ones, by config section (tests). */
  routeGroups?: Record<string, RouteGroupFactory>;
  /**
   * Where route groups keep replay nonces when there is no `[fleet]`: a cluster worker passes the
   * primary's store (default: each group in its own memory).
   */
  nonces?: NonceStore;
  /**
   * false: this process serves no /metrics listener, whatever its configurations say (a cluster
   * worker: the primary serves the workers' metrics). Default true.
   */
  metricsListener?: boolean;
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

/** Starts a proxy for `initial`; resolves when every listener is up. */
export async function startServer(initial: ProxyConfig, opts: StartServerOptions = {}): Promise<RunningServer> {
  const registrations = BUILT_IN_ROUTE_GROUPS;
  const own = (c: ProxyConfig): ProxyConfig => (opts.metricsListener === false ? { ...c, metrics: { ...c.metrics, enabled: false } } : c);
  let config = own(initial);
  // loadConfig checks this too; a config object built in code must not skip it
  checkRouteOverlaps(config.stores, routeGroupPrefixes(config, registrations));

  const cleanup = new Cleanup();
  const logger = new Logger(config.logging, opts.logSink);
  let stopping = false;
  cleanup.add("logger", async () => {
    if (stopping) logger.log("info", { msg: "stopped" });
    await logger.close();
  });
  const unauthLog = new UnauthenticatedLogSampler((record) => logger.log("warn", record));
  cleanup.add("unauthenticated log sampling", () => unauthLog.close());
  // per-source connection caps and unauthenticated-request budgets (src/source-limits.ts)
  const sources = new SourceLimits(() => config.server);
  cleanup.add("source limits", () => sources.close());
  let backend: HsmBackend | undefined;
  const metrics = new ProxyMetrics({
    sessionCopies: () => backend?.sessionCopies ?? 0,
    droppedLogLines: () => logger.droppedLines,
    sampledOutLogLines: () => unauthLog.notLoggedTotal,
  });
  const turns = new EndOfTurn();

  try {
    const b = await HsmBackend.open(config.hsm, {
      observe: metrics.hsmCall,
      event: (record) => {
        if (record.msg === "hsm-context-reset") metrics.hsmContextReset();
        logger.log("warn", record);
      },
      turns,
    });
    backend = b;
    cleanup.add("hsm", () => b.close());
    const health = new Health(b, () => config.health, logger, metrics);
    // [fleet]: rate limits (and replay nonces) shared by every instance through Redis; an unreachable
    // Redis is logged and retried, never fatal (see src/fleet/)
    const fleet = config.fleet ? await Fleet.start(config.fleet, (level, record) => logger.log(level, record)) : undefined;
    if (fleet) cleanup.add("fleet", () => fleet.close());
    const admission = new Admission(b, health.report, fleet, opts.rateLimitShare ?? 1, (record) => logger.log("warn", record));
    cleanup.add("admission", () => admission.close());
    // store keys must stay inside the HSM (src/store-key-policy.ts): a weak key fails the start here
    admission.apply(config, admission.prepare(config));
    cleanup.add("health", () => health.stop());
    await health.start();

    const ctx: RouteGroupContext = {
      get hsm() {
        return b.hsm;
      },
      withHsmTimeout: (operation, fn) => b.withTimeout(operation, fn),
      log: (record) => logger.log("info", record),
      metrics: metrics.registry,
      configDir: config.source.dir,
      ...(fleet ? { nonces: fleet.nonces } : opts.nonces ? { nonces: opts.nonces } : {}),
    };
    const groups = new RouteGroups(registrations, ctx, logger, opts.routeGroups);
    cleanup.add("route groups", () => groups.close());
    await groups.mount(config);

    // ---------------------------------------------------------------- listeners
    const requests = new Requests({ config: () => config, service: admission.service, groups, metrics, logger, sources, unauthLog });
    let fast: FastHttp | undefined;
    const main = createMainListener(config, requests.nodeHandler(), { config: () => config, sources, unauthLog, logger, metrics }, (server) => {
      // The XKS fast path takes every new connection first and hands node's HTTP server the ones
      // (from the first request) it does not serve itself: /ping, /metrics, route groups, anything unusual.
      if (!config.server.fastPath) return;
      fast = fastPathInFront(server, {
        ...requests.fastPathOptions(),
        onHandOff: metrics.countHandOffs(),
        maxBodyBytes: config.server.maxBodyBytes,
        // a new connection has the headers timeout for its first request, as on node's path, and so
        // does each idle period until a request on it was authenticated
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        untrustedIdleTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: config.server.keepAliveTimeoutMs,
        turns,
      });
    });
    let pingServer: http.Server | undefined;
    let metricsServer: http.Server | undefined;
    const grace = opts.shutdownGraceMs ?? 5000;
    cleanup.add("listeners", () => Promise.all([closeServer(main, grace, fast), closeServer(pingServer, grace), closeServer(metricsServer, grace)]));
    const port = await listen(main, config.server.port, config.server.ip);
    const url = `${config.server.tls ? "https" : "http"}://${hostFor(config.server.ip)}:${port}`;
    let pingUrl: string | undefined;
    if (config.server.ping && config.server.pingPort !== undefined) {
      pingServer = createPingListener(() => config);
      pingUrl = `http://${hostFor(config.server.ip)}:${await listen(pingServer, config.server.pingPort, config.server.ip)}/ping`;
    }
    // /metrics has a plain-HTTP listener of its own (default 127.0.0.1:9464), never the KMS-facing one
    let metricsUrl: string | undefined;
    if (config.metrics.enabled) {
      const at = metricsAddress(config.metrics);
      metricsServer = createMetricsListener(() => config, metrics);
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
    // what this process runs with: the restart-only settings are compared with it (restart-only.ts)
    const fixed: ProxyConfig = {
      ...config,
      server: { ...config.server, pingPort: pingServer ? config.server.pingPort : undefined },
      metrics: { ...config.metrics, enabled: metricsServer !== undefined },
    };
    config = fixed;

    // ---------------------------------------------------------------- reload
    /** The file's settings that are accepted but not enforced, and its warnings (at start and after each reload). */
    const warnNotEnforced = (): void => {
      for (const setting of config.notEnforced) logger.log("warn", { msg: "setting-not-enforced", setting });
      for (const warning of [...config.warnings, ...admission.warnings]) logger.log("warn", { msg: "config-warning", warning });
    };
    const watch = opts.watchConfig ? new FileWatch(() => void reload().catch(() => undefined), opts.watchIntervalMs) : undefined;
    if (watch) cleanup.add("file watch", () => watch.close());
    watch?.set(watchedFiles(config));
    /**
     * A reload is prepared first (config read and checked, certificate files read, route groups to
     * add built, kept groups re-read) and only then committed in one synchronous step, so a failure
     * leaves the running settings as they were, and no connection sees half of a change (e.g. a new
     * client CA with the old "mTLS off"). Settings that need a restart keep their running value and
     * are named in a warning (one list for both: server/restart-only.ts).
     */
    let reloading: Promise<void> = Promise.resolve();
    const reload = (next?: ProxyConfig): Promise<void> => {
      reloading = reloading
        .catch(() => undefined)
        .then(async () => {
          const loaded = own(next ?? (config.source.file !== undefined ? await readConfigFile(config.source.file, { routeGroups: registrations }) : config));
          checkRouteOverlaps(loaded.stores, routeGroupPrefixes(loaded, registrations));
          const now = { fixed, running: config };
          const restart = restartNeeded(now, loaded);
          const fresh = keepRunning(now, loaded);
          // a store key that is extractable or not sensitive refuses the reload (store-key-policy.ts)
          const verdict = admission.prepare(fresh);
          // the new TLS files are read now, before anything changes
          const secureContext = fresh.server.tls && main instanceof https.Server ? tlsContextOptions(fresh.server.tls) : undefined;
          const prepared = await groups.prepare(fresh);

          // commit (synchronous)
          if (secureContext) (main as https.Server).setSecureContext(secureContext);
          const removed = prepared.commit();
          admission.apply(fresh, verdict);
          b.updateConfig(fresh.hsm);
          b.invalidate();
          logger.setLevel(fresh.logging.level);
          main.keepAliveTimeout = fresh.server.keepAliveTimeoutMs;
          main.maxConnections = fresh.server.maxConnections;
          fast?.update({ maxBodyBytes: fresh.server.maxBodyBytes, keepAliveTimeoutMs: fresh.server.keepAliveTimeoutMs });
          config = fresh;
          health.apply();
          watch?.set(watchedFiles(config));

          for (const r of removed)
            await r
              .close()
              .catch((err: unknown) => logger.log("warn", { msg: "route-group-close-failed", group: r.name, error: (err as Error).message?.slice(0, 200) }));
          logger.log("info", {
            msg: "config-reloaded",
            stores: config.stores.map((st) => st.name),
            routeGroups: groups.list(),
            unmounted: removed.length ? removed.map((r) => r.name) : undefined,
          });
          if (restart.length)
            logger.log("warn", { msg: "reload-needs-restart", settings: restart, detail: "these settings keep their running values until the proxy restarts" });
          warnNotEnforced();
        });
      return reloading.catch((err: unknown) => {
        logger.log("error", { msg: "config-reload-failed", error: (err as Error).message?.slice(0, 300), detail: "the running configuration is unchanged" });
        throw err;
      });
    };

    logger.log("info", {
      msg: "listening",
      url,
      pingUrl,
      metricsUrl,
      stores: config.stores.map((s) => s.name),
      format: config.source.format,
      token: b.hsm.token.label,
      // the token's AES-GCM behaviour, probed or confirmed at open ([hsm] profile)
      gcm: { profile: b.hsm.capabilities().gcm?.name, ivSource: b.hsm.capabilities().gcm?.ivSource },
    });
    warnNotEnforced();

    let closing: Promise<void> | undefined;
    return {
      url,
      ...(pingUrl !== undefined ? { pingUrl } : {}),
      ...(metricsUrl !== undefined ? { metricsUrl } : {}),
      metrics: metrics.registry,
      get hsm() {
        return b.hsm;
      },
      reload,
      resetHsm: () => b.reset(),
      close() {
        stopping = true;
        closing ??= cleanup.run();
        return closing;
      },
    };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
