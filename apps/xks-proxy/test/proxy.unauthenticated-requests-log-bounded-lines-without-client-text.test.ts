/**
 * Issue 14 item 10: unauthenticated requests no longer control the log (plain HTTP, both paths).
 *
 * - A 401 for a ~1.9 KB key id logs a bounded line: the key id only as a 16-character sanitised
 *   prefix and its length. Before: the whole key id went into `key`.
 * - An unsigned (wrongly signed) body's kmsRequestId, full of quotes and newlines, never reaches the
 *   log; a signed request's kmsRequestId still does. Before: the failed request's body was searched
 *   for kmsRequestId and kmsOperation and they were logged as if KMS had sent them.
 * - A flood of bad requests from one source writes a bounded number of lines (20 per source per
 *   10 s window, then one summary line at the end of the window or at close). Before: one line each.
 *
 * Each case comes from its own loopback address (its own source).
 */
import { generateXksCredential } from "@ciop/xks";
import type { RunningServer } from "../src/server.js";
import { ciopToml, storeToml } from "./proxy-helpers.js";
import { RawProxy, requestText, type RawConn } from "./raw-client.js";

const C = generateXksCredential();
const WRONG = { ...C, secretAccessKey: generateXksCredential().secretAccessKey };

describe.each([true, false])("fast_path = %s", (fastPath) => {
  let proxy: RawProxy;
  let srv: RunningServer;
  let port: number;
  const logs: string[] = [];
  // a different block of loopback addresses per path: the limits are per server, but keep them apart anyway
  const net = fastPath ? "127.0.1" : "127.0.2";

  beforeAll(async () => {
    const toml = ciopToml({ stores: storeToml("u", "", ["unauth-key"], [C]), healthKey: "unauth-health", fastPath });
    proxy = await RawProxy.start(toml, "unauth-log", (l) => logs.push(l));
    ({ srv, port } = proxy);
  });
  afterAll(() => proxy?.close());
  const open = (from: string): Promise<RawConn> => proxy.open(from);
  const requestLines = (from: string): Array<Record<string, unknown>> =>
    logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === "request" && r.remote === from);

  test("a 401 for a 1.9 KB key id logs a short line with only a sanitised 16-character prefix of it", async () => {
    const from = `${net}.1`;
    const keyId = `evil"<>${"Z".repeat(1900)}`;
    const c = await open(from);
    c.write(await requestText(port, `/kms/xks/v1/keys/${keyId}/encrypt`, JSON.stringify({ requestMetadata: { kmsRequestId: "r" } })));
    expect((await c.read(1))[0]?.status).toBe(401);
    const line = logs.find((l) => l.includes(`"remote":"${from}"`));
    expect(line).toBeDefined();
    expect(line!.length).toBeLessThan(600);
    expect(line).not.toContain("Z".repeat(16));
    expect(JSON.parse(line!)).toMatchObject({
      status: 401,
      errorName: "AuthenticationFailedException",
      authenticated: false,
      keyIdInvalid: "evil???ZZZZZZZZZ...(1907 chars)",
    });
    expect(JSON.parse(line!).key).toBeUndefined();
  });

  test("an unsigned body's kmsRequestId (quotes, newlines) never reaches the log; a signed request's does", async () => {
    const from = `${net}.2`;
    const forged = 'forged-id"\n{"level":"info","msg":"request","status":200,"forged":true}\n';
    const body = JSON.stringify({ requestMetadata: { kmsRequestId: forged, kmsOperation: "KmsHealthCheck-forged" } });
    const c = await open(from);
    c.write(await requestText(port, "/kms/xks/v1/health", body, WRONG));
    c.write(await requestText(port, "/kms/xks/v1/health", body));
    c.write(await requestText(port, "/kms/xks/v1/keys/unauth-key/metadata", "{not json", WRONG));
    expect((await c.read(3)).map((a) => a.status)).toEqual([401, 401, 401]);
    const signedId = "signed-request-id-42";
    c.write(await requestText(port, "/kms/xks/v1/health", JSON.stringify({ requestMetadata: { kmsRequestId: signedId, kmsOperation: "KmsHealthCheck" } }), C));
    expect((await c.read(1))[0]?.status).toBe(200);
    expect(logs.join("\n")).not.toContain("forged");
    const lines = requestLines(from);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).not.toHaveProperty("kmsRequestId");
    expect(logs.some((l) => l.includes(`"kmsRequestId":"${signedId}"`))).toBe(true);
  });

  test("clients that abort mid-body write no error lines (found by the fuzz run: one 'request-failed: aborted' error line each)", async () => {
    const from = `${net}.4`;
    let aborted = 0; // test review: if no connection opened, `errors` was [] with nothing tried
    for (let i = 0; i < 30; i++) {
      const c = await open(from).catch(() => undefined);
      if (!c) continue;
      aborted++;
      c.write(`POST /kms/xks/v1/health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"requestMetadata":`);
      await new Promise((r) => setTimeout(r, 5));
      c.socket.resetAndDestroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(aborted).toBeGreaterThan(0);
    const errors = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.level === "error");
    expect(errors).toEqual([]);
  });

  test("a flood of 1,000 bad requests from one source writes at most 20 request lines and one summary line", async () => {
    const from = `${net}.3`;
    const before = logs.join("\n").length;
    const bad = await requestText(port, "/kms/xks/v1/health", JSON.stringify({ requestMetadata: { kmsRequestId: "x".repeat(200), kmsOperation: "y" } }), WRONG);
    let answered = 0;
    // pipelined, 100 per connection; the proxy closes a connection once the source is over its rate
    for (let i = 0; i < 10; i++) {
      const c = await open(from).catch(() => undefined);
      if (!c) continue;
      c.write(bad.repeat(100));
      answered += (await c.read(100, 3000)).length;
      c.destroy();
    }
    expect(answered).toBeGreaterThan(20);
    await srv.close();
    const written = logs.join("\n").length - before;
    const lines = requestLines(from);
    expect(lines.length).toBeLessThanOrEqual(20);
    const summary = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === "unauthenticated-requests-not-logged" && r.source === from);
    expect(summary).toMatchObject({ level: "warn", notLogged: expect.any(Number) });
    // node's path may handle a few pipelined requests whose answers the client no longer read
    expect(summary!.notLogged).toBeGreaterThanOrEqual(answered - lines.length);
    expect(written).toBeLessThan(25 * 1024);
  });
});
