/**
 * `[server] processes = 2`: one primary, two worker processes sharing the port, each with its own
 * HSM sessions. Requests are spread over both, metrics on the primary's port add up all workers,
 * SIGHUP to the primary reloads every worker, SIGTERM stops them all.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { generateXksCredential } from "@ciop/xks";
import { SUPPORT, ciopToml, md, post, send, sleep, storeToml, testDir } from "./proxy-helpers.js";

const C1 = generateXksCredential();
const C2 = generateXksCredential();
let child: ChildProcess;
let file: string;
const lines: Array<Record<string, unknown>> = [];

function waitFor(pred: (r: Record<string, unknown>) => boolean, count = 1): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timed out waiting for the proxy's log")), 45_000);
    const check = (): void => {
      const hits = lines.filter(pred);
      if (hits.length >= count) {
        clearTimeout(t);
        clearInterval(iv);
        resolve(hits);
      }
    };
    const iv = setInterval(check, 50);
    check();
  });
}

beforeAll(async () => {
  const dir = testDir("cluster");
  file = path.join(dir, "proxy.toml");
  const toml = (creds: typeof C1[]) => ciopToml({ stores: storeToml("c", "/c/xks", ["cluster-k"], creds), healthKey: "cluster-health", metricsPort: true }).replace('port = 0\n', "port = 0\nprocesses = 2\n");
  writeFileSync(file, toml([C1]));
  (globalThis as { __toml?: typeof toml }).__toml = toml;
  child = spawn(process.execPath, [path.join(SUPPORT, "run-proxy.cjs"), "serve", "--config", file], { stdio: ["ignore", "pipe", "inherit"] });
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  });
  await waitFor((r) => r["msg"] === "listening", 2);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
});

test("two workers share the port and both serve; the primary's /metrics adds them up", async () => {
  const listening = await waitFor((r) => r["msg"] === "listening", 2);
  const url = listening[0]!["url"] as string;
  expect(new Set(listening.map((r) => r["url"]))).toEqual(new Set([url]));
  expect(new Set(listening.map((r) => r["pid"])).size).toBe(2);
  const { metricsUrl } = (await waitFor((r) => r["msg"] === "metrics-listening"))[0] as { metricsUrl: string };
  const key = await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C1 });
  expect(key.status).toBe(200);
  for (let i = 0; i < 11; i++) {
    const r = await post(url, "/c/xks/kms/xks/v1/keys/cluster-k/metadata", { requestMetadata: md("CreateKey") }, { cred: C1 });
    expect([r.status, r.json.errorName]).toEqual([404, "KeyNotFoundException"]);
  }
  const served = await waitFor((r) => r["msg"] === "request", 12);
  expect(new Set(served.map((r) => r["pid"])).size).toBe(2);
  const m = await send(metricsUrl.replace(/\/metrics$/, ""), "/metrics", "GET", {}, "");
  expect(m.status).toBe(200);
  expect(m.body).toMatch(/xks_proxy_errors_total\{operation="GetKeyMetadata",error_name="KeyNotFoundException"\} 11/);
});

test("SIGHUP to the primary reloads every worker; SIGTERM stops the whole group", async () => {
  const url = (await waitFor((r) => r["msg"] === "listening"))[0]!["url"] as string;
  expect((await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C2 })).status).toBe(401);
  const toml = (globalThis as { __toml?: (c: typeof C1[]) => string }).__toml!;
  writeFileSync(file, toml([C1, C2]));
  child.kill("SIGHUP");
  await waitFor((r) => r["msg"] === "config-reloaded", 2);
  for (let i = 0; i < 6; i++) expect((await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C2 })).status).toBe(200);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  await sleep(10);
});
