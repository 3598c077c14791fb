/**
 * Issue 16, "The network-HSM path measured": `[hsm] workers` (the worker threads that run the async
 * GCM calls) is a whole number from 0 to session_pool, refused with call_mode "sync", and reaches
 * @ciop/hsm as `gcmWorkers`; unset, @ciop/hsm runs one per pooled session. Before it existed the key
 * was refused as unknown.
 */
import { serverHsmOptions } from "../src/hsm-options.js";
import { parseConfig } from "../src/proxy-config.js";
import { testDir } from "./proxy-helpers.js";

const dir = testDir("config-workers");

function config(...hsmLines: string[]): string {
  return [
    "[hsm]",
    'pin_env = "PIN"',
    ...hsmLines,
    "",
    "[[stores]]",
    'name = "a"',
    'uri_prefix = "/a/xks"',
    'keys = ["k1"]',
    "[[stores.credentials]]",
    'access_key_id = "AAAAAAAAAAAAAAAAAAAAAAAA"',
    `secret_access_key = "${"s".repeat(44)}"`,
    "",
  ].join("\n");
}
const load = (text: string) => parseConfig(text, { dir, env: { PIN: "1234" } });

test("workers within 0..session_pool is read and passed to the server's HSM options as gcmWorkers", async () => {
  for (const n of [0, 3, 8]) {
    const cfg = await load(config("session_pool = 8", 'call_mode = "async"', `workers = ${n}`));
    expect(cfg.hsm.workers).toBe(n);
    expect(serverHsmOptions(cfg.hsm).gcmWorkers).toBe(n);
  }
  const unset = await load(config("session_pool = 8"));
  expect(unset.hsm.workers).toBeUndefined();
  expect(serverHsmOptions(unset.hsm).gcmWorkers).toBeUndefined();
});

test.each([
  ["workers = -1", /hsm\.workers/],
  ["workers = 2.5", /hsm\.workers must be a whole number/],
  ['workers = "4"', /hsm\.workers/],
  ["workers = 9", /must not exceed hsm\.session_pool \(8\)/],
])("%s is refused", async (line, message) => {
  await expect(load(config("session_pool = 8", line))).rejects.toThrow(message);
});

test('workers with call_mode = "sync" is refused (GCM runs on the event loop there)', async () => {
  await expect(load(config('call_mode = "sync"', "workers = 2"))).rejects.toThrow(/"sync" runs GCM on the event loop/);
});
