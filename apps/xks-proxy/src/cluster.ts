/**
 * Multi-process serving (node:cluster): the primary forks `[server] processes` workers that share
 * the listening port, restarts a worker that dies, forwards reloads (SIGHUP, config or certificate
 * file change) to every worker, serves /metrics aggregated over all workers on the metrics port, and
 * stops them gracefully. Workers are ordinary servers with their own HSM sessions; each enforces
 * 1/N of every store's rate limit (without [fleet]; with it they share the fleet's buckets).
 * The primary also keeps the host's Salesforce replay nonces for all workers (without [fleet]),
 * so a nonce answered by one worker is refused by every other.
 */
import cluster, { type Worker } from "node:cluster";
import http from "node:http";
import { AggregatorRegistry } from "prom-client";
import { metricsAddress, type ProxyConfig } from "./config/index.js";
import { NonceCache, PrimaryNonceStore, answerNonceRequest, isNonceRequest } from "./salesforce/replay.js";
import { startServer, type RunningServer } from "./server.js";
import { FileWatch, watchedFiles } from "./server/watch.js";

const RELOAD = "xks-proxy:reload";

function log(level: string, record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, role: "primary", ...record })}\n`);
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Runs the primary until SIGINT/SIGTERM; resolves with the exit code. */
export function runPrimary(config: ProxyConfig): Promise<number> {
  const n = config.server.processes;
  let stopping = false;
  const nonces = new NonceCache();
  const fork = (): void => {
    const w = cluster.fork();
    w.on("error", (err: Error) => log("warn", { msg: "worker-ipc-error", worker: w.process.pid, error: err.message.slice(0, 200) }));
    w.on("message", (m: unknown) => {
      if (!isNonceRequest(m)) return;
      if (w.isConnected()) w.send(answerNonceRequest(nonces, m), undefined, () => undefined);
    });
    w.on("exit", (code, signal) => {
      if (stopping) return;
      log("warn", { msg: "worker-exited", worker: w.process.pid, code, signal });
      setTimeout(() => {
        if (!stopping) fork();
      }, 1000).unref();
    });
  };
  for (let i = 0; i < n; i++) fork();

  let metricsServer: http.Server | undefined;
  let metricsFailed = false;
  if (config.metrics.enabled) {
    // the metrics listener's own address ([metrics] ip, default 127.0.0.1), never the KMS-facing one
    const at = metricsAddress(config.metrics);
    const agg = new AggregatorRegistry();
    metricsServer = http.createServer((req, res) => {
      if (req.method !== "GET" || req.url !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      agg.clusterMetrics().then(
        (text) => res.writeHead(200, { "content-type": agg.contentType }).end(text),
        () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
      );
    });
    const ms = metricsServer;
    ms.once("error", (err: NodeJS.ErrnoException) => {
      // as a single process does: the default port may be another proxy's; a port the file names must be had
      log(config.metrics.defaultPort ? "warn" : "error", { msg: "metrics-unavailable", address: `${at.ip}:${at.port}`, error: err.code ?? "error" });
      metricsServer = undefined;
      if (!config.metrics.defaultPort) {
        metricsFailed = true;
        process.kill(process.pid, "SIGTERM"); // the stop handler below ends the workers
      }
    });
    ms.listen(at.port, at.ip, () => {
      const a = ms.address();
      if (a && typeof a === "object")
        log("info", { msg: "metrics-listening", metricsUrl: `http://${at.ip.includes(":") ? `[${at.ip}]` : at.ip}:${a.port}/metrics` });
    });
  }

  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const reloadAll = (why: string): void => {
    if (stopping) return;
    log("info", { msg: "reload-requested", why, workers: workers().length });
    for (const w of workers()) {
      // a worker that is exiting cannot take it; it is replaced and reads the file anyway
      if (w.isConnected()) w.send({ cmd: RELOAD }, undefined, () => undefined);
    }
  };
  process.on("SIGHUP", () => reloadAll("SIGHUP"));
  const watch = new FileWatch(() => reloadAll("file-change"));
  watch.set(watchedFiles(config));
  log("info", { msg: "primary-started", processes: n });

  return new Promise<number>((resolve) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      watch.close();
      const live = workers();
      let left = live.length;
      const done = (): void => {
        metricsServer?.close();
        log("info", { msg: "stopped" });
        resolve(metricsFailed ? 1 : 0);
      };
      if (left === 0) {
        done();
        return;
      }
      const force = setTimeout(() => {
        for (const w of workers()) w.process.kill("SIGKILL");
      }, 10_000);
      force.unref();
      for (const w of live) {
        w.once("exit", () => {
          if (--left === 0) {
            clearTimeout(force);
            done();
          }
        });
        w.process.kill("SIGTERM");
      }
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

/** Starts this worker's server; reloads come from the primary. */
export async function startWorker(config: ProxyConfig): Promise<RunningServer> {
  const n = config.server.processes;
  // The primary serves aggregated metrics on the metrics port (metricsListener: false, at start and
  // on every reload); replay nonces live in the primary, for every worker of the host (a [fleet] has
  // Redis instead)
  const server = await startServer(config, { rateLimitShare: 1 / n, metricsListener: false, ...(config.fleet ? {} : { nonces: new PrimaryNonceStore() }) });
  // constructing one installs prom-client's worker-side listener that answers the primary
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([server.metrics]);
  process.on("message", (m: unknown) => {
    if ((m as { cmd?: string } | undefined)?.cmd === RELOAD) void server.reload().catch(() => undefined);
  });
  return server;
}
