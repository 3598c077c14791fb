/**
 * Session and handle discipline: one login per token shared by every Hsm of the process (a second
 * Hsm must still present the right PIN), stale object handles re-found by CKA_ID, a bounded session
 * pool for async work, close() waiting for work in flight, and RSA generation off the event loop.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Hsm } from "../src/index.js";
import { openTestHsm, runChild, uniqueName } from "./helpers.js";

const base = uniqueName("sess");
const testOptions = () => ({ library: process.env.CIOP_TEST_LIB, token: process.env.CIOP_TEST_TOKEN_LABEL, pin: { value: process.env.CIOP_TEST_PIN } });

test("a second Hsm on the token shares the login but a wrong PIN is still refused; closing one leaves the other working", async () => {
  const a = await openTestHsm();
  const key = await a.generateKey(`${base}-shared`, "AES-256");
  // the token would accept any PIN now (CKR_USER_ALREADY_LOGGED_IN): ciop checks it against the first login
  await expect(openTestHsm({ pin: { value: "wrong-pin-123" } })).rejects.toMatchObject({ code: "ERR_PIN_INCORRECT" });
  const b = await openTestHsm();
  const kb = b.findKey(key.name)!;
  await a.close();
  expect(b.encryptAesGcm(kb, randomBytes(12), Buffer.from("still logged in"))).toHaveLength(31);
  await b.close();
  // after the last one closed, a fresh open logs in again (and checks the PIN in the token)
  await expect(openTestHsm({ pin: { value: "wrong-pin-123" } })).rejects.toMatchObject({ code: "ERR_PIN_INCORRECT", ckr: "CKR_PIN_INCORRECT" });
  const c = await openTestHsm();
  expect(c.findKey(key.name)?.id).toBe(key.id);
  await c.close();
});

describe("one Hsm", () => {
  let hsm: Hsm;
  beforeAll(async () => {
    hsm = await openTestHsm({ sessionPoolSize: 2 });
  });
  afterAll(() => hsm?.close());

  test("findKey answers from the handle cache; a stale handle (CKR_OBJECT_HANDLE_INVALID) is re-found by CKA_ID, sync and async", async () => {
    const key = await hsm.generateKey(`${base}-stale`, "AES-256");
    expect(hsm.findKey(key.name)).toBe(key);
    const good = key.handle;
    // a handle number the token never issued
    key.handle = Buffer.from("ffffff7f00000000", "hex");
    expect(hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"))).toHaveLength(17);
    expect(key.handle.equals(good)).toBe(true);
    key.handle = Buffer.from("feffff7f00000000", "hex");
    expect(await hsm.encryptAesGcmAsync(key, randomBytes(12), Buffer.from("x"))).toHaveLength(17);
    expect(key.handle.equals(good)).toBe(true);
    key.handle = Buffer.from("fdffff7f00000000", "hex");
    expect(hsm.keyInfo(key).enabled).toBe(true);
  });

  test("a key deleted by another process: the cached handle fails with ERR_KEY_NOT_FOUND and leaves the cache", async () => {
    const key = await hsm.generateKey(`${base}-gone`, "AES-128");
    hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"));
    const r = await runChild({ options: testOptions(), delete: key.name }, process.env);
    expect(r.json?.error).toBeUndefined();
    expect(() => hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x"))).toThrow(expect.objectContaining({ code: "ERR_KEY_NOT_FOUND" }));
    expect(hsm.findKey(key.name)).toBeUndefined();
  });

  test("more async operations than pooled sessions queue and all complete; close() waits for work in flight", async () => {
    const key = await hsm.generateKey(`${base}-pool`, "AES-256");
    const h2 = await openTestHsm({ sessionPoolSize: 2 });
    const k2 = h2.findKey(key.name)!;
    const work = Array.from({ length: 40 }, (_, i) => h2.encryptAesGcmAsync(k2, randomBytes(12), Buffer.from(`message ${i}`)));
    const closing = h2.close();
    const results = await Promise.all(work);
    await closing;
    expect(results.every((r, i) => r.length === `message ${i}`.length + 16)).toBe(true);
    expect(() => h2.findKey(key.name)).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  });

  test("after a library restart (the cure for SoftHSM's poisoned token state) keys and public keys handed out before still work, each naming its own object", async () => {
    const a = await hsm.generateKey(`${base}-ra`, "AES-256");
    const b = await hsm.generateKey(`${base}-rb`, "AES-256");
    const iv = randomBytes(12);
    const ctA = hsm.encryptAesGcm(a, iv, Buffer.from("sealed by A"));
    const spki = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" });
    const pub = hsm.importPublicKey(spki);
    expect((hsm as unknown as { recoverLibrary(): boolean }).recoverLibrary()).toBe(true);
    expect(a.handle.equals(Buffer.alloc(8))).toBe(true);
    // handle numbers restart after C_Initialize: B must not open A's ciphertext, A must
    expect(() => hsm.decryptAesGcm(b, iv, ctA)).toThrow(expect.objectContaining({ code: "ERR_DECRYPTION_FAILED" }));
    expect(hsm.decryptAesGcm(a, iv, ctA).toString()).toBe("sealed by A");
    expect(hsm.wrapRsaOaep(pub, a, "sha1").bytes).toHaveLength(256);
    expect(await hsm.encryptAesGcmAsync(b, randomBytes(12), Buffer.from("x"))).toHaveLength(17);
    expect((await hsm.generateKey(`${base}-rc`, "AES-128")).type).toBe("AES-128");
    hsm.releasePublicKey(pub);
  });

  test("RSA-3072 generation runs off the event loop: timers keep firing and other HSM work completes before it ends", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    let generated = false;
    try {
      const gen = hsm.generateKey(`${base}-rsa3072`, "RSA-3072").then((k) => {
        generated = true;
        return k;
      });
      await new Promise((r) => setTimeout(r, 25));
      const aes = await hsm.generateKey(`${base}-during`, "AES-256");
      const ct = hsm.encryptAesGcm(aes, randomBytes(12), Buffer.from("while RSA is being generated"));
      expect(generated).toBe(false);
      expect(ct.length).toBeGreaterThan(16);
      const key = await gen;
      expect(key.type).toBe("RSA-3072");
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      clearInterval(timer);
    }
  }, 60_000);
});
