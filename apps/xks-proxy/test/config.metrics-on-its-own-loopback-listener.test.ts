/**
 * Issue 14, item 7: /metrics is never served on the KMS-facing listener. Without a `[metrics]`
 * table it gets a plain-HTTP listener of its own on 127.0.0.1:9464; `ip` and `port` move it.
 *
 * Before the fix, a config without `[metrics] port` served the metrics (store names, request
 * rates, error counts) unauthenticated on the main listener, to anyone who could reach KMS's port.
 */
import http from "node:http";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { generateXksCredential } from "@ciop/xks";
import { parseConfig } from "../src/proxy-config.js";
import { startServer } from "../src/server.js";
import { ciopToml, replaceOrThrow, send, storeToml, testDir } from "./proxy-helpers.js";

const dir = testDir("config-metrics");
const C = generateXksCredential();
const stores = storeToml("m", "/m", ["mk"], [C]);

/** An IPv4 address of this host other than loopback, if it has one. */
const nonLoopback = (): string | undefined =>
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
const refused = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });

test("without [metrics]: enabled, 127.0.0.1, port 9464", async () => {
  const text = replaceOrThrow(ciopToml({ stores, healthKey: "metrics-health" }), "[metrics]\nport = 0", "");
  expect((await parseConfig(text, { dir })).metrics).toEqual({ enabled: true, ip: "127.0.0.1", port: 9464, defaultPort: true });
});

test("a port the file names must be had: taken, it fails the start", async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    const text = replaceOrThrow(ciopToml({ stores, healthKey: "metrics-health" }), "[metrics]\nport = 0", `[metrics]\nport = ${taken}`);
    await expect(startServer(await parseConfig(text, { dir }), { logSink: () => undefined })).rejects.toMatchObject({ code: "EADDRINUSE" });
  } finally {
    blocker.close();
  }
});

test("a metrics port that one of the server's own listeners has is refused", async () => {
  const text = replaceOrThrow(
    replaceOrThrow(ciopToml({ stores, healthKey: "metrics-health" }), "port = 0", "port = 8443"),
    "[metrics]\nport = 0",
    '[metrics]\nip = "0.0.0.0"\nport = 8443',
  );
  await expect(parseConfig(text, { dir })).rejects.toMatchObject({ message: expect.stringContaining("[metrics] port 8443 is the main listener's port") });
});

test("without a metrics port: the main listener does not serve /metrics; 127.0.0.1:9464 does, and nothing else", async () => {
  // The default port: tests run many proxies at once, and another test's proxy may hold 9464. Then
  // this one runs without /metrics and says so (a port the file names would fail the start).
  const text = replaceOrThrow(ciopToml({ stores, healthKey: "metrics-health" }), "[metrics]\nport = 0", "[metrics]\nenabled = true");
  const lines: string[] = [];
  const srv = await startServer(await parseConfig(text, { dir }), { logSink: (l) => lines.push(l) });
  try {
    const onMain = await send(srv.url, "/metrics", "GET", {}, "");
    expect(onMain.status).not.toBe(200);
    expect(onMain.body).not.toContain("xks_proxy_");
    if (srv.metricsUrl === undefined) {
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
        expect.objectContaining({ msg: "metrics-unavailable", address: "127.0.0.1:9464", error: "EADDRINUSE" }),
      );
      return;
    }
    expect(srv.metricsUrl).toBe("http://localhost:9464/metrics");
    const port = 9464;
    const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on("error", reject);
    });
    expect(got.status).toBe(200);
    expect(got.body).toContain("xks_proxy_health_status");
    // bound to loopback only (the default ip), not to the server's other addresses
    expect(nonLoopback() === undefined || (await refused(nonLoopback()!, port))).toBe(true);
    expect((await send(srv.metricsUrl!.replace(/\/metrics$/, ""), "/ping", "GET", {}, "")).status).toBe(404);
  } finally {
    await srv.close();
  }
});

// (passed before the fix too: a guard that "off" stays off with the listener of its own)
test("[metrics] enabled = false: no metrics listener at all", async () => {
  const text = replaceOrThrow(ciopToml({ stores, healthKey: "metrics-health" }), "[metrics]\nport = 0", "[metrics]\nenabled = false");
  const srv = await startServer(await parseConfig(text, { dir }), { logSink: () => undefined });
  try {
    expect(srv.metricsUrl).toBeUndefined();
    expect((await send(srv.url, "/metrics", "GET", {}, "")).body).not.toContain("xks_proxy_");
  } finally {
    await srv.close();
  }
});
