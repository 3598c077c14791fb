/**
 * Issue 16, "The network-HSM path measured": `[hsm] workers` (the worker threads that run the async
 * GCM calls) is a whole number from 0 to session_pool, refused with call_mode "sync", and reaches
 * @ciop/hsm as `gcmWorkers`; unset, @ciop/hsm runs one per pooled session. Before it existed the key
 * was refused as unknown.
 */
import { HsmBackend } from "../src/hsm-backend.js";
import { serverHsmOptions } from "../src/hsm-options.js";
import { parseConfig } from "../src/proxy-config.js";
import { replaceOrThrow, testDir } from "./proxy-helpers.js";

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

// Review of issue 16: with call_mode "auto" on a software token GCM runs on the event loop and the
// workers never start; before, `workers` was then accepted and silently had no effect.
test('workers with call_mode "auto" on a software token is reported as not enforced; with "async" it is used', async () => {
  const hsmLines = (mode: string) => [
    `library = "${process.env.CIOP_TEST_LIB}"`,
    `token = "${process.env.CIOP_TEST_TOKEN_LABEL}"`,
    "session_pool = 4",
    `call_mode = "${mode}"`,
    "workers = 2",
  ];
  const events: Array<Record<string, unknown>> = [];
  for (const mode of ["auto", "async"]) {
    const cfg = await parseConfig(replaceOrThrow(config(...hsmLines(mode)), 'pin_env = "PIN"', 'pin_env = "CIOP_TEST_PIN"'), { dir });
    const b = await HsmBackend.open(cfg.hsm, { event: (r) => events.push({ mode, ...r }) });
    await b.close();
  }
  const notEnforced = events.filter((e) => e.msg === "setting-not-enforced");
  expect(notEnforced).toHaveLength(1);
  expect(notEnforced[0]).toMatchObject({ mode: "auto" });
  expect(String(notEnforced[0]!.setting)).toMatch(/\[hsm\] workers = 2: call_mode "auto" runs AES-GCM on the event loop/);
});
