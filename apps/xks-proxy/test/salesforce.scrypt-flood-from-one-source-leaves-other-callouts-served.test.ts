/**
 * Issue 14, item 12. Before: every uncached Basic header cost a scrypt run, two at once per
 * process with 32 waiting for any caller, and a verified credential was forgotten 5 minutes after
 * it was first checked. 40 connections sending wrong passwords kept that queue full, so a real
 * callout whose credential had to be checked (first callout, or after those 5 minutes) got
 * 503 Busy. Now a source that keeps failing backs off (429 without scrypt, at most 2 checks of its
 * own pending), and a credential in use stays verified (sliding expiry).
 * The flood runs from 127.0.0.2 and the real client from 127.0.0.3 (both loopback on Linux).
 */
import http, { type IncomingMessage } from "node:http";
import { loadConfig } from "../src/proxy-config.js";
import { Authenticator, BASIC_CACHE_TTL_MS } from "../src/salesforce/auth.js";
import { parsePasswordHash } from "../src/salesforce/password.js";
import { startServer, type RunningServer } from "../src/server.js";
import { SF_PASSWORD as PASSWORD, sfSetup } from "./fleet-helpers.js";

let server: RunningServer;
let hash: string;
const logs: string[] = [];
const kid = `flood${process.pid}`;

function get(urlPath: string, auth: string, localAddress: string): Promise<{ status: number; retryAfter?: string }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: u.port,
        path: urlPath,
        method: "GET",
        localAddress,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(auth).toString("base64")}` },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ...(res.headers["retry-after"] ? { retryAfter: String(res.headers["retry-after"]) } : {}) }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  const sf = await sfSetup("sf-flood", [kid]);
  hash = sf.hash;
  const file = sf.config("proxy.toml");
  server = await startServer(await loadConfig(file), { logSink: (l) => logs.push(l) });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

test("40 connections of wrong passwords from one address: a real client elsewhere is checked and served (no 503), the flood gets 429 quickly", async () => {
  let flooding = true;
  const flood: Array<{ status: number; ms: number }> = [];
  let n = 0;
  const attacker = async (): Promise<void> => {
    while (flooding) {
      const t = performance.now();
      // status 0: the connection was closed or refused (the source is over its unauthenticated budget)
      const r = await get(`/sf/${kid}`, `salesforce:wrong password ${n++}`, "127.0.0.2").catch(() => ({ status: 0 }));
      flood.push({ status: r.status, ms: performance.now() - t });
      if (r.status === 0) await new Promise((res) => setTimeout(res, 5));
    }
  };
  const attackers = Array.from({ length: 40 }, attacker);
  await new Promise((r) => setTimeout(r, 300));
  // the real client's first callout (its credential not yet verified) arrives in the middle of the flood
  const real: number[] = [];
  for (let i = 0; i < 15; i++) {
    real.push((await get(`/sf/${kid}`, `salesforce:${PASSWORD}`, "127.0.0.3")).status);
    await new Promise((r) => setTimeout(r, 100));
  }
  flooding = false;
  await Promise.all(attackers);
  expect(real).toEqual(Array.from({ length: 15 }, () => 200));
  const statuses = new Map<number, number>();
  for (const f of flood) statuses.set(f.status, (statuses.get(f.status) ?? 0) + 1);
  expect([...statuses.keys()].every((s) => s === 401 || s === 429 || s === 0)).toBe(true);
  // 5 free failures, then back-off: a handful of scrypt runs for the whole flood, the rest 429; and
  // once the failures use up the source's unauthenticated budget, its connections are closed or
  // refused before the route group sees a request
  expect(statuses.get(401) ?? 0).toBeLessThanOrEqual(12);
  expect((statuses.get(429) ?? 0) + (statuses.get(0) ?? 0)).toBeGreaterThan(100);
  expect(statuses.get(0) ?? 0).toBeGreaterThan(0);
  // the flood's failures are logged within the per-source sampling (20 per 10 s); before, the route
  // group wrote one line of its own for every failed login
  const floodLines = logs.filter((l) => l.includes('"salesforce"') && (l.includes('"status":401') || l.includes('"status":429')));
  expect(flood.length).toBeGreaterThan(100);
  expect(floodLines.length).toBeLessThanOrEqual(20);
}, 60_000);

test("a verified credential in use stays verified past 5 minutes without a new scrypt run (sliding expiry)", async () => {
  let now = 1_000_000;
  const auth = new Authenticator({ basic: { username: "salesforce", hash: parsePasswordHash(hash, "test") } }, { now: () => now });
  const req = {
    headers: { authorization: `Basic ${Buffer.from(`salesforce:${PASSWORD}`).toString("base64")}` },
    socket: { remoteAddress: "10.9.8.7" },
  } as unknown as IncomingMessage;
  expect((await auth.authenticate(req)).ok).toBe(true);
  expect(auth.passwordChecks).toBe(1);
  for (let i = 0; i < 6; i++) {
    now += BASIC_CACHE_TTL_MS * 0.8; // a callout every 4 minutes, 24 minutes in all
    expect((await auth.authenticate(req)).ok).toBe(true);
  }
  expect(auth.passwordChecks).toBe(1);
  now += BASIC_CACHE_TTL_MS + 1; // unused for longer than the expiry: checked again
  expect((await auth.authenticate(req)).ok).toBe(true);
  expect(auth.passwordChecks).toBe(2);
});
