/**
 * Issue 14, item 13 (a fleet). Two proxy instances sharing a real redis-server through
 * `[fleet] redis_url`. Before: every instance had its own nonces and its own token bucket, so a
 * replayed Salesforce callout was served once per instance, and a store's rate limit was
 * multiplied by the number of instances. Now:
 * - a nonce answered 200 by one instance is refused (409) by the other; a failed callout's nonce
 *   stays usable on both;
 * - the store's rate limit holds for both together (tokens leased from one bucket in Redis);
 * - with Redis down, callouts that carry a nonce get a retryable 503 (never an unchecked 200),
 *   rate limits fall back to 1/fleet_size per instance, both logged; service resumes when Redis does.
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { callout, sfSetup, startRedis, type RedisServer, type SfSetup } from "./fleet-helpers.js";
import { md, post, sleep } from "./proxy-helpers.js";

const kid = `fleet${process.pid}`;
let sf: SfSetup;
let redis: RedisServer;
let a: RunningServer;
let b: RunningServer;
const logs: Array<Record<string, unknown>> = [];
const sink = (l: string): void => void logs.push(JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  sf = await sfSetup("sf-fleet", [kid]);
  redis = await startRedis(sf.dir);
  // fleet_size = 3 (the helpers' [health]): 1/3 of the rate per instance while Redis is down
  const file = sf.config("fleet.toml", {
    store: "rate_limit_rps = 5\nrate_limit_burst = 10",
    tail: `[fleet]\nredis_url = "${redis.url}"\nkey_prefix = "t${process.pid}"\ncommand_timeout_ms = 500`,
  });
  a = await startServer(await loadConfig(file), { logSink: sink });
  b = await startServer(await loadConfig(file), { logSink: sink });
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

const health = (s: RunningServer) => post(s.url, "/s/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: sf.cred });

test("a nonce answered by one instance is refused by the other; a failed callout's nonce is served by the other", async () => {
  const n1 = randomBytes(16).toString("hex");
  expect((await callout(a.url, `/sf/${kid}?requestId=${n1}`)).status).toBe(200);
  expect(await callout(b.url, `/sf/${kid}?requestId=${n1}`)).toMatchObject({ status: 409, json: { error: "ReplayDetected" } });
  expect((await callout(a.url, `/sf/${kid}?requestId=${n1}`)).status).toBe(409);

  const n2 = randomBytes(16).toString("hex");
  expect(await sf.admin("keys", "disable", kid)).toBe(0);
  expect((await callout(a.url, `/sf/${kid}?requestId=${n2}`)).status).toBe(423);
  expect(await sf.admin("keys", "enable", kid)).toBe(0);
  expect((await callout(b.url, `/sf/${kid}?requestId=${n2}`)).status).toBe(200);
  expect((await callout(a.url, `/sf/${kid}?requestId=${n2}`)).status).toBe(409);
}, 30_000);

test("the store's rate limit (5/s, burst 10) holds for both instances together", async () => {
  await sleep(2100); // let the bucket fill up to its burst
  const t0 = performance.now();
  let admitted = 0;
  let throttled = 0;
  for (let i = 0; i < 60; i++) {
    const r = await health(i % 2 === 0 ? a : b);
    if (r.status === 200) admitted++;
    else if (r.status === 429 && r.json.errorName === "ThrottlingException") throttled++;
    else throw new Error(`unexpected ${r.status} ${r.body}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  // each instance alone would admit its own burst of 10 (20 together) before throttling
  expect(admitted).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds) + 1);
  expect(admitted).toBeGreaterThanOrEqual(8);
  expect(throttled).toBe(60 - admitted);
}, 30_000);

test("Redis down: nonce callouts get 503 ReplayStoreUnavailable (retryable), rate limits go local (1/fleet_size), both logged; all resumes with Redis", async () => {
  await redis.stop();
  await sleep(200);
  const nonce = randomBytes(16).toString("hex");
  const t0 = performance.now();
  const r = await callout(a.url, `/sf/${kid}?requestId=${nonce}`);
  expect(r).toMatchObject({ status: 503, json: { error: "ReplayStoreUnavailable" }, retryAfter: "1" });
  expect(performance.now() - t0).toBeLessThan(2000);
  expect((await callout(b.url, `/sf/${kid}`)).status).toBe(200); // no nonce: nothing to check
  expect(logs.some((l) => l.msg === "fleet-redis-unavailable" && !String(l.redis).includes("@"))).toBe(true);

  await sleep(2100);
  let admitted = 0;
  for (let i = 0; i < 20; i++) {
    const h = await health(a);
    if (h.status === 200) admitted++;
    else expect([h.status, h.json.errorName]).toEqual([429, "ThrottlingException"]);
  }
  // a local limit holds: burst ceil(10/3) = 4 per instance (+ a leased token, + refill), not 20
  expect(admitted).toBeGreaterThanOrEqual(1);
  expect(admitted).toBeLessThanOrEqual(8);

  await redis.start();
  const until = Date.now() + 5000;
  let back = 0;
  while (Date.now() < until) {
    back = (await callout(a.url, `/sf/${kid}?requestId=${nonce}`)).status;
    if (back === 200) break;
    await sleep(100);
  }
  expect(back).toBe(200);
  expect(logs.some((l) => l.msg === "fleet-redis-connected" && l.recovered === true)).toBe(true);
}, 30_000);
