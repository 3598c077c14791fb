/**
 * Issue 14 "Proof" (fault runs) and item 9, against a running proxy (its own process) whose
 * PKCS#11 library is the fault-injecting module (tools/pkcs11-fault) over the test token. For a
 * device error, a token that vanishes, a call that hangs past `[hsm] timeout_ms`, and a token
 * that answers key reads as SoftHSM does with no file descriptor left: every answer is a 500/503
 * within 250 ms, GetHealthStatus goes UNAVAILABLE or DEGRADED, and within 5 s of the fault ending
 * the proxy serves again, without a restart.
 *
 * `call_mode = "async"`: GCM calls run on the libuv threadpool, so a hanging C_Encrypt does not
 * block the event loop (with "sync", SoftHSM's default, a hanging call would hold the whole
 * process, timeout included). Key lookups are synchronous calls in either mode, so the hang is
 * injected into the GCM calls.
 *
 * Item 9 (last test) failed before the fix: the key read answered CKR_OBJECT_HANDLE_INVALID and the
 * search found nothing, and the proxy answered 404 KeyNotFoundException for an existing key.
 */
import { generateXksCredential } from "@ciop/xks";
import type { FaultControl } from "../../../tools/pkcs11-fault/fault.cjs";
import { type FaultProxy, b64, md, post, sleep, startFaultProxy, storeToml, timed } from "./proxy-helpers.js";

const C = generateXksCredential();
const KEY = `fault-${process.pid}`;
const HEALTH = `fault-health-${process.pid}`;
const API = "/f/kms/xks/v1";
let proxy: FaultProxy | undefined;
let url = "";
let control: FaultControl;

beforeAll(async () => {
  proxy = await startFaultProxy({
    name: "faults",
    keys: [KEY],
    stores: storeToml("f", "/f", [KEY], [C]),
    healthKey: HEALTH,
    hsm: 'timeout_ms = 100\ncall_mode = "async"',
    healthInterval: 1,
  });
  ({ url, control } = proxy);
  expect(await untilServing()).toBeLessThan(30_000);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
});

const encrypt = () =>
  timed(post(url, `${API}/keys/${KEY}/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64("fault run"), encryptionAlgorithm: "AES_GCM" }, { cred: C }));
const health = async (): Promise<string> => {
  const r = await post(url, `${API}/health`, { requestMetadata: { kmsRequestId: "h", kmsOperation: "KmsHealthCheck" } }, { cred: C });
  return r.json?.ekmFleetDetails?.[0]?.healthStatus ?? `status ${r.status}`;
};

/** Waits (up to 30 s) until encrypt answers 200 and health says ACTIVE; returns how long that took (ms). */
async function untilServing(limitMs = 30_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if ((await encrypt()).r.status === 200 && (await health()) === "ACTIVE") return Date.now() - t0;
    await sleep(50);
  }
  return Infinity;
}

/** Waits (up to 10 s) for health to leave ACTIVE; returns what it said. */
async function healthLeavesActive(): Promise<string> {
  let h = "ACTIVE";
  for (let i = 0; i < 100 && h === "ACTIVE"; i++) {
    h = await health();
    if (h === "ACTIVE") await sleep(100);
  }
  return h;
}

/** Several requests during the fault: each a 500/503 within 250 ms (never 404 or a success). */
async function expectFastRetryable(n = 5): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const { r, ms } = await encrypt();
    expect([500, 503]).toContain(r.status);
    expect(["InternalException", "DependencyTimeoutException"]).toContain(r.json?.errorName);
    expect(ms).toBeLessThan(250);
    statuses.push(r.status);
    await sleep(120);
  }
  return statuses;
}

test("baseline: the proxy serves through the fault-injecting module", async () => {
  const { r } = await encrypt();
  expect(r.status).toBe(200);
  expect(await health()).toBe("ACTIVE");
});

test("a device error on every GCM call: 500 fast, health UNAVAILABLE, serving again within 5 s of the fault ending", async () => {
  control.set("C_Encrypt* fail CKR_DEVICE_ERROR", "C_Decrypt* fail CKR_DEVICE_ERROR");
  await expectFastRetryable();
  expect(["UNAVAILABLE", "DEGRADED"]).toContain(await healthLeavesActive());
  control.clear();
  expect(await untilServing(5000)).toBeLessThan(5000);
});

test("one device error in the middle of a request: that request gets a 500 fast, the next ones are served", async () => {
  control.set("C_Encrypt fail CKR_DEVICE_ERROR times 1");
  const { r, ms } = await encrypt();
  expect([r.status, r.json?.errorName]).toEqual([500, "InternalException"]);
  expect(ms).toBeLessThan(250);
  expect(await untilServing(5000)).toBeLessThan(5000);
});

test("a token that vanishes (CKR_TOKEN_NOT_PRESENT from every token call): 500/503 fast, health UNAVAILABLE/DEGRADED, back within 5 s", async () => {
  control.set(
    ...["C_Get*", "C_Open*", "C_Close*", "C_Login", "C_Find*", "C_Encrypt*", "C_Decrypt*", "C_Generate*", "C_Copy*", "C_Destroy*"].map(
      (f) => `${f} fail CKR_TOKEN_NOT_PRESENT`,
    ),
  );
  await expectFastRetryable();
  expect(["UNAVAILABLE", "DEGRADED"]).toContain(await healthLeavesActive());
  control.clear();
  expect(await untilServing(5000)).toBeLessThan(5000);
});

test("GCM calls that hang past timeout_ms (100 ms): 503 DependencyTimeoutException fast, health DEGRADED, back within 5 s", async () => {
  control.set("C_Encrypt hang", "C_Decrypt hang");
  const statuses = await expectFastRetryable(3);
  expect(statuses).toEqual([503, 503, 503]);
  expect(["UNAVAILABLE", "DEGRADED"]).toContain(await healthLeavesActive());
  control.clear();
  expect(await untilServing(5000)).toBeLessThan(5000);
});

test("item 9: key reads refused and searches empty (SoftHSM with no descriptor left): 500, not 404 KeyNotFoundException; health UNAVAILABLE; back within 5 s", async () => {
  control.set(
    "C_GetAttributeValue fail CKR_OBJECT_HANDLE_INVALID",
    "C_EncryptInit fail CKR_OBJECT_HANDLE_INVALID",
    "C_DecryptInit fail CKR_OBJECT_HANDLE_INVALID",
    "C_FindObjects empty",
  );
  // past the key-state cache (500 ms), so the request reads the key from the token
  await sleep(600);
  const { r, ms } = await encrypt();
  expect([r.status, r.json?.errorName]).not.toEqual([404, "KeyNotFoundException"]);
  expect([500, 503]).toContain(r.status);
  expect(ms).toBeLessThan(250);
  await expectFastRetryable(3);
  expect(["UNAVAILABLE", "DEGRADED"]).toContain(await healthLeavesActive());
  control.clear();
  expect(await untilServing(5000)).toBeLessThan(5000);
});
