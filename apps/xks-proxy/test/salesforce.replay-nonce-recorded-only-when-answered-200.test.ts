/**
 * Issue 14, item 13 (one process). Before: the nonce was recorded as soon as it was read, so a
 * callout that failed (423 KeyDisabled here; 500 or 503 alike) burned it and Salesforce's retry
 * with the same nonce got 409 ReplayDetected. Now it is reserved while the callout is served,
 * recorded only when the answer is 200, and released otherwise; concurrent callouts with one
 * nonce still cannot both succeed (the reservation; that part held before too, as the nonce was
 * recorded up front).
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { callout, sfSetup, type SfSetup } from "./fleet-helpers.js";

const kid = `replay200${process.pid}`;
let sf: SfSetup;
let server: RunningServer;

beforeAll(async () => {
  sf = await sfSetup("sf-replay200", [kid]);
  server = await startServer(await loadConfig(sf.config("one.toml")), { logSink: () => undefined });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

test("a callout answered 423 does not burn its nonce: the retry with the same nonce is served, a third use is a replay", async () => {
  const nonce = randomBytes(16).toString("hex");
  expect(await sf.admin("keys", "disable", kid)).toBe(0);
  expect(await callout(server.url, `/sf/${kid}?requestId=${nonce}`)).toMatchObject({ status: 423, json: { error: "KeyDisabled" } });
  expect(await sf.admin("keys", "enable", kid)).toBe(0);
  const retry = await callout(server.url, `/sf/${kid}?requestId=${nonce}`);
  expect(retry.status).toBe(200);
  expect(JSON.parse(Buffer.from(String(retry.json!.jwe).split(".")[0]!, "base64url").toString())).toMatchObject({ jti: nonce });
  expect(await callout(server.url, `/sf/${kid}?requestId=${nonce}`)).toMatchObject({ status: 409, json: { error: "ReplayDetected" } });
});

test("an unknown kid (404) does not burn the nonce either", async () => {
  const nonce = randomBytes(16).toString("hex");
  expect((await callout(server.url, `/sf/${kid}-absent?requestId=${nonce}`)).status).toBe(404);
  expect((await callout(server.url, `/sf/${kid}?requestId=${nonce}`)).status).toBe(200);
});

test("six concurrent callouts with one nonce: exactly one 200, the others 409", async () => {
  const nonce = randomBytes(16).toString("hex");
  const answers = await Promise.all(Array.from({ length: 6 }, () => callout(server.url, `/sf/${kid}?requestId=${nonce}`)));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
});
