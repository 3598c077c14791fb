/**
 * Issue 16, key-state reads on a network HSM: with call_mode = "async", the proxy's key-state
 * reads (the search and usage-attribute read once per key per key_state_ttl_ms, the family probe
 * of the key-version index) run in @ciop/hsm's worker threads, and a request whose cached state is
 * stale is answered from it while one read per key runs in the background.
 *
 * The fault module in front of SoftHSM makes every C_GetAttributeValue slow (or fail). Before this
 * change the reads ran synchronously on the event loop: a stale key's request waited for the slow
 * read and every other request (another key's too) waited behind it, so the "answered within"
 * bounds below failed (each took ≥ the 800 ms delay), and a device error in the refresh answered
 * that request 500 instead of from the cached state.
 */
import { openTestHsm } from "@ciop/testkit";
import { generateXksCredential } from "@ciop/xks";
import type { FaultControl } from "../../../tools/pkcs11-fault/fault.cjs";
import { type FaultProxy, b64, md, post, sleep, startFaultProxy, storeToml, timed, type Resp } from "./proxy-helpers.js";

const C = generateXksCredential();
const A = `swr-a-${process.pid}`;
const B = `swr-b-${process.pid}`;
const HEALTH = `swr-health-${process.pid}`;
const API = "/s/kms/xks/v1";
const TTL = 300;
const SLOW_US = 800_000;
let proxy: FaultProxy | undefined;
let url = "";
let control: FaultControl;

beforeAll(async () => {
  proxy = await startFaultProxy({
    name: "swr",
    keys: [A, B],
    stores: storeToml("s", "/s", [A, B], [C]),
    healthKey: HEALTH,
    hsm: `timeout_ms = 3000\nkey_state_ttl_ms = ${TTL}\ncall_mode = "async"\nsession_pool = 4\nsession_key_copies = false`,
    healthInterval: 55,
  });
  ({ url, control } = proxy);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
});

function encrypt(key: string): Promise<{ r: Resp; ms: number }> {
  return timed(post(url, `${API}/keys/${key}/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64("swr"), encryptionAlgorithm: "AES_GCM" }, { cred: C }));
}

function metadata(key: string): Promise<{ r: Resp; ms: number }> {
  return timed(post(url, `${API}/keys/${key}/metadata`, { requestMetadata: md("GetKeyMetadata") }, { cred: C }));
}

/** Both keys served, their state cached (and the version index scanned) before a fault is armed. */
async function warm(): Promise<void> {
  control.clear();
  for (let i = 0; i < 50; i++) {
    const [a, b] = await Promise.all([encrypt(A), encrypt(B)]);
    if (a.r.status === 200 && b.r.status === 200 && a.ms < 200 && b.ms < 200) return;
    await sleep(100);
  }
  throw new Error("the proxy did not serve both keys quickly");
}

test("a slow key-state read (800 ms per attribute read): stale keys' requests are answered from the cached state at once, the reads run off the loop", async () => {
  await warm();
  control.set(`C_GetAttributeValue delay ${SLOW_US}`);
  // both keys' states go stale: each request below starts a background read of 800 ms
  await sleep(TTL + 50);
  const a = encrypt(A);
  await sleep(20);
  const b = await encrypt(B);
  const ra = await a;
  // bounds generous for a loaded 2-core box, far below the 800 ms each read takes
  expect(ra.r.status).toBe(200);
  expect(ra.ms).toBeLessThan(400);
  expect(b.r.status).toBe(200);
  expect(b.ms).toBeLessThan(400);
  // while the reads are still running, more requests (one read per key: no pile-up) are answered too
  const more = await Promise.all([encrypt(A), encrypt(B), encrypt(A)]);
  for (const m of more) {
    expect(m.r.status).toBe(200);
    expect(m.ms).toBeLessThan(400);
  }
  control.clear();
}, 30_000);

test("a disable on the token shows in GetKeyMetadata within key_state_ttl_ms plus one (slow) read; both keys' requests answered fast meanwhile", async () => {
  await warm();
  const h = await openTestHsm();
  try {
    control.set(`C_GetAttributeValue delay ${SLOW_US}`);
    h.setKeyEnabled(A, false);
    const t0 = Date.now();
    let seen = -1;
    while (Date.now() - t0 < 5000) {
      const [e, other] = await Promise.all([metadata(A), sleep(10).then(() => metadata(B))]);
      // answered from the cached state while the read runs (before: each stale request waited for
      // the 800 ms read on the event loop, and the other key's request waited behind it)
      expect([e.r.status, other.r.status]).toEqual([200, 200]);
      expect(e.ms).toBeLessThan(400);
      expect(other.ms).toBeLessThan(400);
      expect(other.r.json?.keyStatus).toBe("ENABLED");
      if (e.r.json?.keyStatus === "DISABLED") {
        seen = Date.now() - t0;
        break;
      }
      await sleep(25);
    }
    // TTL (300 ms) + one read (800 ms) + scheduling slack on a loaded box
    expect(seen).toBeGreaterThanOrEqual(0);
    expect(seen).toBeLessThan(TTL + SLOW_US / 1000 + 1500);
  } finally {
    control.clear();
    h.setKeyEnabled(A, true);
    await h.close();
  }
}, 30_000);

test("a device error in a background read is not 'key not found': requests get 200 or 5xx until the token answers, then 200", async () => {
  await warm();
  control.set("C_GetAttributeValue fail CKR_DEVICE_ERROR");
  await sleep(TTL + 50);
  // Usually answered from the cached state while the failing read runs in the background; but a
  // background read started by an earlier request (a key-version probe) may already have failed and
  // reset the context, and then this request gets the 5xx too. Either way never "key not found":
  // a background read that cached "no key" on a device error would answer KeyNotFoundException.
  const first = await encrypt(A);
  expect(first.r.json?.errorName).not.toBe("KeyNotFoundException");
  expect(first.r.status === 200 || first.r.status >= 500).toBe(true);
  const seen: Array<number | string> = [];
  for (let i = 0; i < 10; i++) {
    const e = await encrypt(A);
    seen.push(e.r.status === 200 ? 200 : `${e.r.status} ${e.r.json?.errorName}`);
    expect(e.r.json?.errorName).not.toBe("KeyNotFoundException");
    expect(e.r.status === 200 || e.r.status >= 500).toBe(true);
    await sleep(50);
  }
  // the failed read dropped the cached state: a request that needs a fresh state got the error
  expect(seen.some((s) => s !== 200)).toBe(true);
  control.clear();
  // serving again once the token answers (after the context reset)
  const t0 = Date.now();
  while ((await encrypt(A)).r.status !== 200) {
    expect(Date.now() - t0).toBeLessThan(10_000);
    await sleep(100);
  }
}, 30_000);
