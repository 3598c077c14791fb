/**
 * Issue 14 item 11: while 4 connections (another process, from 127.0.0.1) pipeline thousands of
 * unsigned requests, a fresh client from another address gets its signed answers in bounded time,
 * on both HTTP paths. Two defences make that so: each connection gets at most 8 requests handled
 * per event-loop turn (the fast path and node's path alike), and a source whose requests keep
 * failing authentication is answered 429 ThrottlingException before any work, its connections are
 * closed, and new ones from it are refused at accept until its budget refills.
 *
 * Before the fix, every pipelined request of every read was handled in the same turn (hundreds per
 * read) and each got its 401: the fresh client's requests waited behind them (measured on this
 * shared 2-core box: answers took 110-290 ms on the fast path and 240-700 ms on node's path; with
 * the fix a few ms, with rare stalls of a few hundred ms on node's path in the flood's first second).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { parseConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { ciopToml, storeToml, testDir } from "./proxy-helpers.js";
import { RawConn, requestText } from "./raw-client.js";

const C = generateXksCredential();
const FLOOD_SECONDS = 4;

describe.each([true, false])("fast_path = %s", (fastPath) => {
  let srv: RunningServer;
  let port: number;

  beforeAll(async () => {
    const toml = ciopToml({ stores: storeToml("f", "", ["flood-key"], [C]), healthKey: "flood-health", fastPath });
    srv = await startServer(await parseConfig(toml, { dir: testDir("flood") }), { logSink: () => undefined });
    port = Number(new URL(srv.url).port);
  });
  afterAll(async () => {
    await srv?.close();
  });

  test("a fresh signed client is answered (median under 100 ms on the fast path, 200 ms on node's, every answer under 2 s) while 4 connections pipeline unsigned requests", async () => {
    const flooder = spawn(process.execPath, [path.join(__dirname, "support/pipelined-flood.cjs"), String(port), "4", String(FLOOD_SECONDS), "127.0.0.1"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let report = "";
    flooder.stdout.on("data", (d: Buffer) => (report += d.toString()));
    const done = new Promise((resolve) => flooder.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 500)); // the flood is under way

    const latencies: number[] = [];
    const statuses: number[] = [];
    const stopAt = Date.now() + (FLOOD_SECONDS - 1) * 1000;
    for (let i = 0; Date.now() < stopAt; i++) {
      const t0 = Date.now();
      const c = await RawConn.open(port, "127.0.0.2");
      c.write(
        await requestText(port, "/kms/xks/v1/health", JSON.stringify({ requestMetadata: { kmsRequestId: `fresh-${i}`, kmsOperation: "KmsHealthCheck" } }), C),
      );
      statuses.push((await c.read(1, 10_000))[0]?.status ?? 0);
      latencies.push(Date.now() - t0);
      c.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await done;
    const flood = JSON.parse(report) as { sent: number };
    expect(flood.sent).toBeGreaterThan(1000);
    expect(statuses.length).toBeGreaterThanOrEqual(5);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // typical answer: a few ms with the fix; 110-290 ms (fast path) and 240-700 ms (node's path) before.
    // The bound sits below each path's "before": node's path once took a 130 ms median in a CI run
    // with three other test processes on the two cores, so it gets 200 ms.
    const sorted = [...latencies].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(fastPath ? 100 : 200);
    expect(sorted[sorted.length - 1]).toBeLessThan(2000);
  }, 30_000);
});
