/**
 * `[server] processes = 2`: one primary, two worker processes sharing the port, each with its own
 * HSM sessions. Requests are spread over both, metrics on the primary's port add up all workers,
 * SIGHUP to the primary reloads every worker, SIGTERM stops them all.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { ProxyProcess, type LogRecord } from "./cluster-helpers.js";
import { ciopToml, md, post, replaceOrThrow, send, sleep, storeToml, testDir } from "./proxy-helpers.js";

const C1 = generateXksCredential();
const C2 = generateXksCredential();
let proxy: ProxyProcess;
let file: string;
const waitFor = (pred: (r: LogRecord) => boolean, count = 1): Promise<LogRecord[]> => proxy.waitFor(pred, count);
const toml = (creds: (typeof C1)[]): string =>
  replaceOrThrow(
    ciopToml({ stores: storeToml("c", "/c/xks", ["cluster-k"], creds), healthKey: "cluster-health", metricsPort: true }),
    "port = 0\n",
    "port = 0\nprocesses = 2\n",
  );

beforeAll(async () => {
  file = path.join(testDir("cluster"), "proxy.toml");
  writeFileSync(file, toml([C1]));
  proxy = new ProxyProcess(file);
  await waitFor((r) => r.msg === "listening", 2);
}, 60_000);

afterAll(() => proxy?.stop());

test("two workers share the port and both serve; the primary's /metrics adds them up", async () => {
  const listening = await waitFor((r) => r.msg === "listening", 2);
  const url = listening[0]!.url as string;
  expect(new Set(listening.map((r) => r.url))).toEqual(new Set([url]));
  expect(new Set(listening.map((r) => r.pid)).size).toBe(2);
  const { metricsUrl } = (await waitFor((r) => r.msg === "metrics-listening"))[0] as { metricsUrl: string };
  const key = await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C1 });
  expect(key.status).toBe(200);
  for (let i = 0; i < 11; i++) {
    const r = await post(url, "/c/xks/kms/xks/v1/keys/cluster-k/metadata", { requestMetadata: md("CreateKey") }, { cred: C1 });
    expect([r.status, r.json.errorName]).toEqual([404, "KeyNotFoundException"]);
  }
  const served = await waitFor((r) => r.msg === "request", 12);
  expect(new Set(served.map((r) => r.pid)).size).toBe(2);
  const m = await send(metricsUrl.replace(/\/metrics$/, ""), "/metrics", "GET", {}, "");
  expect(m.status).toBe(200);
  expect(m.body).toMatch(/xks_proxy_errors_total\{operation="GetKeyMetadata",error_name="KeyNotFoundException"\} 11/);
});

test("SIGHUP to the primary reloads every worker; SIGTERM stops the whole group", async () => {
  const url = (await waitFor((r) => r.msg === "listening"))[0]!.url as string;
  expect((await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C2 })).status).toBe(401);
  writeFileSync(file, toml([C1, C2]));
  proxy.child.kill("SIGHUP");
  await waitFor((r) => r.msg === "config-reloaded", 2);
  for (let i = 0; i < 6; i++) expect((await post(url, "/c/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C2 })).status).toBe(200);
  const exited = new Promise<number | null>((r) => proxy.child.once("exit", (code) => r(code)));
  proxy.child.kill("SIGTERM");
  expect(await exited).toBe(0);
  await sleep(10);
});
