/**
 * Issue 14, item 13 (one host, several processes). Before: each worker of `[server] processes = 2`
 * kept its own nonces, so a replayed callout was served once per worker. Now the workers reserve
 * and record nonces in the primary (over IPC): a nonce answered by one worker is refused by the
 * other, and a failed callout's nonce is free again on both.
 */
import { randomBytes } from "node:crypto";
import { ProxyProcess, type LogRecord } from "./cluster-helpers.js";
import { callout, sfSetup } from "./fleet-helpers.js";

const kid = `cluster${process.pid}`;
let proxy: ProxyProcess;
const waitFor = (pred: (r: LogRecord) => boolean, count = 1): Promise<LogRecord[]> => proxy.waitFor(pred, count);

let url: string;
let admin: (...argv: string[]) => Promise<number>;

beforeAll(async () => {
  const sf = await sfSetup("sf-cluster", [kid]);
  admin = sf.admin;
  proxy = new ProxyProcess(sf.config("cluster.toml", { server: "processes = 2" }));
  url = (await waitFor((r) => r.msg === "listening", 2))[0]!.url as string;
}, 60_000);

afterAll(() => proxy?.stop());

test("one nonce sent eight times over new connections (spread over both workers): one 200, seven 409", async () => {
  const nonce = randomBytes(16).toString("hex");
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await callout(url, `/sf/${kid}?requestId=${nonce}`)).status);
  const served = await waitFor((r) => r.msg === "request" && r.group === "salesforce", 8);
  expect(new Set(served.map((r) => r.pid)).size).toBe(2);
  expect(statuses.filter((s) => s === 200)).toHaveLength(1);
  expect(statuses.filter((s) => s === 409)).toHaveLength(7);
}, 60_000);

test("a nonce whose callout failed (423) is served on the retry, whichever worker takes it", async () => {
  const nonce = randomBytes(16).toString("hex");
  expect(await admin("keys", "disable", kid)).toBe(0);
  const failed: number[] = [];
  for (let i = 0; i < 4; i++) failed.push((await callout(url, `/sf/${kid}?requestId=${nonce}`)).status);
  expect(failed).toEqual([423, 423, 423, 423]);
  expect(await admin("keys", "enable", kid)).toBe(0);
  const after: number[] = [];
  for (let i = 0; i < 4; i++) after.push((await callout(url, `/sf/${kid}?requestId=${nonce}`)).status);
  expect(after).toEqual([200, 409, 409, 409]);
}, 60_000);
