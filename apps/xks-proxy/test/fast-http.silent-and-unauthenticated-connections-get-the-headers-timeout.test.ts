/**
 * Issue 14 item 8, on the fast path alone (src/http/fast-http.ts in front of a node HTTP server, as
 * server.ts wires it), with small timeouts: headers 300 ms, keep-alive 30 s, swept every second.
 *
 * - A connection that never sends a byte is closed at the headers timeout, as node's own server
 *   does; before the fix it was given the keep-alive timeout (330 s in the proxy) for its first byte.
 * - Between requests, a connection none of whose answers was marked authenticated is held only for
 *   `untrustedIdleTimeoutMs`; one that was authenticated keeps the keep-alive timeout.
 */
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { EndOfTurn, fastPathInFront, type FastHttp } from "../src/http/fast-http.js";

let server: http.Server;
let fast: FastHttp;
let port: number;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end("node"));
  fast = fastPathInFront(server, {
    accepts: (method) => method === "POST",
    handle: async (_m, target, _h, _b, respond) => respond({ status: 200, headers: {}, body: target, authenticated: target === "/signed" }),
    maxBodyBytes: 1024,
    headersTimeoutMs: 300,
    untrustedIdleTimeoutMs: 300,
    requestTimeoutMs: 600,
    keepAliveTimeoutMs: 30_000,
    turns: new EndOfTurn(),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  fast.closeAll();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A client socket and when the server closed it (ms after connecting), or undefined. */
async function open(): Promise<{ socket: net.Socket; data: () => string; closedAfter: Promise<number> }> {
  const socket = net.connect(port, "127.0.0.1");
  sockets.push(socket);
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString()));
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  const t0 = Date.now();
  const closedAfter = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - t0)));
  return { socket, data: () => text, closedAfter };
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | "still open"> =>
  Promise.race([p, new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms).unref())]);

test("a connection that never sends a byte is closed at the headers timeout, not the keep-alive timeout", async () => {
  const c = await open();
  const closed = await within(c.closedAfter, 5000);
  expect(closed).not.toBe("still open");
  expect(closed as number).toBeGreaterThanOrEqual(250);
  expect(c.data()).toBe("");
});

test("after an unauthenticated answer the connection is held only for the short idle timeout; after an authenticated one, for the keep-alive timeout", async () => {
  const req = (target: string) => `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`;
  const anon = await open();
  const signed = await open();
  anon.socket.write(req("/unsigned"));
  signed.socket.write(req("/signed"));
  expect(await within(anon.closedAfter, 5000)).not.toBe("still open");
  expect(anon.data()).toContain("/unsigned");
  // the authenticated connection outlives several sweeps
  expect(await within(signed.closedAfter, 2500)).toBe("still open");
  signed.socket.write(req("/again"));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(signed.data()).toContain("/again");
});
