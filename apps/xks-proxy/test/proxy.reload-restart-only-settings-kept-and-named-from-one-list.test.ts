/**
 * Issue 15 (xks-proxy assembled from parts): one list of restart-only settings
 * (src/server/restart-only.ts) both applies a reload (each keeps its running value) and names what
 * needs a restart. Before, `restartNeeded` and the `config = {...}` pinning in reload were two lists
 * that disagreed:
 * - `max_connections` was neither applied nor named (a reload left the old cap, silently);
 * - `tcp_keepalive_secs`, `processes`, `[logging] file` and the HSM PIN source changed nothing and
 *   were not named;
 * - a process without its own /metrics listener (a cluster worker) named "metrics listener" on
 *   every reload; /metrics switched off and on again by reloads was named as needing a restart
 *   while it was served again;
 * - `[server.ping] enabled = false` left the own-port /ping listener answering.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { parseConfig, type ProxyConfig } from "../src/proxy-config.js";
import { keepRunning, RESTART_ONLY, restartNeeded } from "../src/server/restart-only.js";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { ciopToml, replaceOrThrow, send, storeToml, testDir } from "./proxy-helpers.js";
import { RawConn, requestText } from "./raw-client.js";

const C = generateXksCredential();
const dir = testDir("restart-only");
const base = (extra = "", metrics = "", ping = false): string =>
  replaceOrThrow(
    ciopToml({ stores: storeToml("r", "", ["r-key"], [C]), healthKey: "r-health", pingPort: ping, extra }),
    "[metrics]\nport = 0",
    `[metrics]\nport = 0\n${metrics}`,
  );
const HEALTH = JSON.stringify({ requestMetadata: { kmsRequestId: "r-1", kmsOperation: "KmsHealthCheck" } });

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function start(file: string, text: string, logs: string[], opts: { metricsListener?: boolean } = {}): Promise<RunningServer> {
  writeFileSync(file, text);
  const srv = await startServer(await loadConfig(file), { logSink: (l) => logs.push(l), ...opts });
  servers.push(srv);
  return srv;
}
const restartLines = (logs: string[]): string[][] =>
  logs
    .map((l) => JSON.parse(l) as { msg: string; settings?: string[] })
    .filter((r) => r.msg === "reload-needs-restart")
    .map((r) => r.settings!);

test("for every restart-only setting a changed value is named, and the config a reload applies keeps the running one", async () => {
  const running = await parseConfig(base(), { dir });
  const now = { fixed: running, running };
  const variants: Array<[string, ProxyConfig]> = [
    ["server address", { ...running, server: { ...running.server, port: 1 } }],
    ["server fast_path", { ...running, server: { ...running.server, fastPath: false } }],
    ["server processes", { ...running, server: { ...running.server, processes: 4 } }],
    ["server tcp_keepalive_secs", { ...running, server: { ...running.server, tcpKeepAliveMs: 1000 } }],
    ["TLS on/off", { ...running, server: { ...running.server, tls: { certFile: "c", keyFile: "k" } } }],
    ["ping port", { ...running, server: { ...running.server, pingPort: 9 } }],
    ["metrics listener", { ...running, metrics: { ...running.metrics, port: 9 } }],
    ["hsm library/token/pool", { ...running, hsm: { ...running.hsm, sessionPool: 9 } }],
    ["hsm allow_host_fallback", { ...running, hsm: { ...running.hsm, allowHostFallback: true } }],
    ["hsm profile", { ...running, hsm: { ...running.hsm, profile: "luna" } }],
    ["hsm pin", { ...running, hsm: { ...running.hsm, pin: { env: "OTHER_PIN" } } }],
    ["hsm library environment", { ...running, hsm: { ...running.hsm, env: { SOFTHSM2_CONF: "/x" } } }],
    ["fleet", { ...running, fleet: { redisUrl: "redis://127.0.0.1:1", keyPrefix: "x", commandTimeoutMs: 10 } }],
    ["logging file", { ...running, logging: { ...running.logging, file: "/tmp/x.log" } }],
  ];
  expect(variants.map(([name]) => name).sort()).toEqual(RESTART_ONLY.map((s) => s.name).sort());
  for (const [name, next] of variants) {
    expect(restartNeeded(now, next)).toEqual([name]);
    // what a reload applies has every restart-only setting at its running value
    expect(restartNeeded(now, keepRunning(now, next))).toEqual([]);
  }
  // live settings are not held back
  const live = { ...running, server: { ...running.server, maxConnections: 7, keepAliveTimeoutMs: 5000 }, hsm: { ...running.hsm, timeoutMs: 7 } };
  expect(restartNeeded(now, live)).toEqual([]);
  expect(keepRunning(now, live)).toEqual(live);
});

test("a reload applies max_connections and names tcp_keepalive_secs, processes and the log file", async () => {
  const logs: string[] = [];
  const file = path.join(dir, "live.toml");
  const srv = await start(file, replaceOrThrow(base(), "port = 0\n", "port = 0\nmax_connections = 4\n"), logs);
  const port = Number(new URL(srv.url).port);
  writeFileSync(
    file,
    replaceOrThrow(
      base(`[logging]\nfile = "${path.join(dir, "other.log")}"`),
      "port = 0\n",
      "port = 0\nmax_connections = 1\ntcp_keepalive_secs = 30\nprocesses = 2\n",
    ),
  );
  await srv.reload();
  expect(restartLines(logs)).toEqual([["server processes", "server tcp_keepalive_secs", "logging file"]]);
  // the new cap holds at once (before: the start's 4)
  const a = await RawConn.open(port, "127.0.3.1");
  a.write(await requestText(port, "/kms/xks/v1/health", HEALTH, C));
  expect((await a.read(1, 5000))[0]?.status).toBe(200);
  const b = await RawConn.open(port, "127.0.3.2");
  expect(await b.closedWithin(2000)).toBe(true);
  a.destroy();
});

test("a process without its own /metrics listener names nothing on an unchanged reload", async () => {
  const logs: string[] = [];
  const srv = await start(path.join(dir, "worker.toml"), base(), logs, { metricsListener: false });
  expect(srv.metricsUrl).toBeUndefined();
  await srv.reload();
  expect(restartLines(logs)).toEqual([]);
});

test("/metrics and the own-port /ping switched off by a reload answer 404, and /metrics on again is served without a restart note", async () => {
  const logs: string[] = [];
  const file = path.join(dir, "toggle.toml");
  const srv = await start(file, base("", "", true), logs);
  const metrics = (): Promise<number> => send(srv.metricsUrl!.replace(/\/metrics$/, ""), "/metrics", "GET", {}, "").then((r) => r.status);
  const ping = (): Promise<number> => send(srv.pingUrl!.replace(/\/ping$/, ""), "/ping", "GET", {}, "").then((r) => r.status);
  expect([await metrics(), await ping()]).toEqual([200, 200]);
  writeFileSync(file, replaceOrThrow(base("", "enabled = false", true), "[server.ping]\n", "[server.ping]\nenabled = false\n"));
  await srv.reload();
  expect([await metrics(), await ping()]).toEqual([404, 404]);
  writeFileSync(file, base("", "", true));
  await srv.reload();
  expect([await metrics(), await ping()]).toEqual([200, 200]);
  expect(restartLines(logs)).toEqual([]);
});
