/**
 * The fault-injecting PKCS#11 module (tools/pkcs11-fault, issue 14 "Proof") through @ciop/hsm on
 * the real SoftHSM token: with no rule every call reaches SoftHSM (key generation, GCM sync and on
 * the libuv threadpool, lookups); a delay rule slows the chosen function; a fail rule returns its
 * CKR after N calls and only as often as told, also under concurrent async calls; a hang rule
 * holds the call until the control file changes, without blocking the event loop.
 */
import { randomBytes } from "node:crypto";
import { HsmError, type Hsm, type HsmKey } from "../src/index.js";
import { useFaultModuleHsm } from "./fault-hsm.js";

const fx = useFaultModuleHsm("fault-module-", "fault");
const { control } = fx;
const aad = Buffer.from("aad");
let hsm: Hsm;
let key: HsmKey;
beforeAll(() => ({ hsm, key } = fx));

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

test("with no rule every call reaches the real module: the token, a new key, GCM sync and async, a lookup", async () => {
  expect(hsm.token.label).toBe(process.env.CIOP_TEST_TOKEN_LABEL);
  expect(hsm.token.manufacturer).toMatch(/SoftHSM/);
  expect(hsm.capabilities().asyncCalls).toBe(true);
  const iv = randomBytes(12);
  const ct = hsm.encryptAesGcm(key, iv, Buffer.from("through the shim"), aad);
  expect((await hsm.decryptAesGcmAsync(key, iv, ct, aad)).toString()).toBe("through the shim");
  const ct2 = await hsm.encryptAesGcmAsync(key, iv, Buffer.from("through the shim"), aad);
  expect(Buffer.from(ct2)).toEqual(Buffer.from(ct));
  expect(hsm.listKeys().map((k) => k.name)).toContain(key.name);
});

test("a delay rule adds its latency to the chosen function only", () => {
  control.set("C_Encrypt delay 30000");
  let t0 = process.hrtime.bigint();
  hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("slow"), aad);
  expect(ms(t0)).toBeGreaterThanOrEqual(30);
  control.set("C_Decrypt delay 30000");
  const iv = randomBytes(12);
  t0 = process.hrtime.bigint();
  const ct = hsm.encryptAesGcm(key, iv, Buffer.from("x"), aad);
  const encryptMs = ms(t0);
  t0 = process.hrtime.bigint();
  hsm.decryptAesGcm(key, iv, ct, aad);
  expect(ms(t0)).toBeGreaterThanOrEqual(30);
  expect(encryptMs).toBeLessThan(30);
});

test("a fail rule lets N calls through, then returns its CKR as often as told; a prefix pattern matches a family", () => {
  control.set("C_Encrypt fail CKR_DEVICE_ERROR after 2 times 2");
  const enc = () => hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("n"), aad);
  enc();
  enc();
  for (let i = 0; i < 2; i++) {
    let err: unknown;
    try {
      enc();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HsmError);
    expect(err).toMatchObject({ ckr: "CKR_DEVICE_ERROR", ckrCode: 0x30, fn: "C_Encrypt" });
  }
  expect(enc()).toHaveLength(17);
  // numbers work as well as names, and "C_Find*" covers C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal
  control.set("C_Find* fail 0xe0");
  expect(() => hsm.listKeys()).toThrow(expect.objectContaining({ ckr: "CKR_TOKEN_NOT_PRESENT", fn: "C_FindObjects" }));
});

test("under concurrent async calls (threadpool) the counters are exact: 'after 10 times 5' fails exactly five of 60", async () => {
  control.set("C_Encrypt delay 200", "C_Encrypt fail CKR_SESSION_HANDLE_INVALID after 10 times 5");
  const results = await Promise.allSettled(Array.from({ length: 60 }, () => hsm.encryptAesGcmAsync(key, randomBytes(12), Buffer.from("c"), aad)));
  const failed = results.filter((r) => r.status === "rejected");
  expect(failed).toHaveLength(5);
  for (const f of failed) expect((f as PromiseRejectedResult).reason).toMatchObject({ ckr: "CKR_SESSION_HANDLE_INVALID" });
});

test("a hang rule holds the call until the control file changes, with the event loop free meanwhile; 'hang <ms>' ends by itself", async () => {
  control.set("C_Encrypt hang");
  const iv = randomBytes(12);
  let done = false;
  const call = hsm.encryptAesGcmAsync(key, iv, Buffer.from("held"), aad).then((ct) => {
    done = true;
    return ct;
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  await new Promise((r) => setTimeout(r, 400));
  clearInterval(timer);
  expect(done).toBe(false);
  expect(ticks).toBeGreaterThan(10);
  const t0 = process.hrtime.bigint();
  control.clear();
  const ct = await call;
  expect(ms(t0)).toBeLessThan(2000);
  expect(hsm.decryptAesGcm(key, iv, ct, aad).toString()).toBe("held");

  control.set("C_Encrypt hang 150");
  const t1 = process.hrtime.bigint();
  await hsm.encryptAesGcmAsync(key, randomBytes(12), Buffer.from("timed"), aad);
  expect(ms(t1)).toBeGreaterThanOrEqual(150);
});
