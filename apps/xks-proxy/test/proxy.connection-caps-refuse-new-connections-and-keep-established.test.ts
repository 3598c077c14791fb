/**
 * Issue 14 item 8: `[server] max_connections` and `max_connections_per_source`, on both HTTP paths.
 * Each loopback address 127.0.0.x is its own source. With at most 2 connections per source and 4
 * in all: a third connection from one source, and a fifth in all, are closed at accept without an
 * answer, while the connections already established keep getting answers; once one closes, a new
 * connection is accepted again. Before the fix there was no cap at all: every connection was
 * accepted and served (the fast path takes its sockets from node's 'connection' events, so node's
 * own limit, now set, covers both paths).
 */
import { generateXksCredential } from "@ciop/xks";
import type { RunningServer } from "../src/server.js";
import { ciopToml, replaceOrThrow, sleep, storeToml } from "./proxy-helpers.js";
import { RawProxy, requestText, type RawConn } from "./raw-client.js";

const C = generateXksCredential();
const HEALTH = JSON.stringify({ requestMetadata: { kmsRequestId: "caps-1", kmsOperation: "KmsHealthCheck" } });

describe.each([true, false])("fast_path = %s", (fastPath) => {
  let proxy: RawProxy;
  let srv: RunningServer;
  let port: number;

  beforeAll(async () => {
    const toml = replaceOrThrow(
      ciopToml({ stores: storeToml("caps", "", ["caps-key"], [C]), healthKey: "caps-health", fastPath }),
      "port = 0",
      "port = 0\nmax_connections = 4\nmax_connections_per_source = 2",
    );
    proxy = await RawProxy.start(toml, "caps");
    ({ srv, port } = proxy);
  });
  afterAll(() => proxy?.close());

  const open = (from: string): Promise<RawConn> => proxy.open(from);
  /** Status of one signed health request on `c` (0: no answer, the connection was closed). */
  const health = async (c: RawConn): Promise<number> => {
    c.write(await requestText(port, "/kms/xks/v1/health", HEALTH, C));
    return (await c.read(1, 5000))[0]?.status ?? 0;
  };

  test("connections past the per-source cap and past max_connections are closed at accept; established ones keep being served", async () => {
    const a1 = await open("127.0.0.1");
    const a2 = await open("127.0.0.1");
    expect([await health(a1), await health(a2)]).toEqual([200, 200]);
    const a3 = await open("127.0.0.1");
    expect(await a3.closedWithin(2000)).toBe(true);
    expect(await health(a3)).toBe(0);

    // another source still gets in, up to max_connections (4) in all
    const b1 = await open("127.0.0.2");
    const b2 = await open("127.0.0.2");
    expect([await health(b1), await health(b2)]).toEqual([200, 200]);
    const c1 = await open("127.0.0.3");
    expect(await c1.closedWithin(2000)).toBe(true);

    // the established connections are untouched
    expect([await health(a1), await health(a2), await health(b1), await health(b2)]).toEqual([200, 200, 200, 200]);

    // a closed connection frees its places: a new one from that source is served
    a1.destroy();
    await sleep(200);
    const a4 = await open("127.0.0.1");
    expect(await health(a4)).toBe(200);

    const refused = await srv.metrics.getSingleMetricAsString("xks_proxy_connections_refused_total");
    expect(refused).toMatch(/reason="max_connections_per_source"} 1\b/);
    expect(refused).toMatch(/reason="max_connections"} 1\b/);
  });
});
