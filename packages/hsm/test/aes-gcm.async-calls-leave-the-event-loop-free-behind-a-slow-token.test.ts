/**
 * Issue 16 ("The network-HSM path measured"): the async AES-GCM calls run their Init and their
 * Encrypt/Decrypt in worker threads (src/offload/), so a token that takes a long time per call —
 * a network HSM, imitated by the fault module's `delay` and `hang` rules in front of SoftHSM — never
 * holds the event loop.
 *
 * Before the worker threads, C_EncryptInit/C_DecryptInit ran on the event loop (pkcs11js has no
 * async Init): with `C_EncryptInit delay 200000` the four first of eight calls blocked the loop for
 * about 800 ms back to back, so a 50 ms timer fired some 750 ms late and the first test failed; a
 * hanging Init froze every timer until it returned (third test).
 */
import { randomBytes } from "node:crypto";
import { Hsm } from "../src/index.js";
import { useFaultModuleHsm } from "./fault-hsm.js";

const fx = useFaultModuleHsm("gcm-offload-", "offload");
const aad = Buffer.from("aad");

/** Resolves with how late (ms) a timer due in `dueMs` fired. */
function timerLateness(dueMs: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => setTimeout(() => resolve(Number(process.hrtime.bigint() - t0) / 1e6 - dueMs), dueMs));
}

test("8 encrypts behind a 200 ms C_EncryptInit: a 50 ms timer fires on time and every result decrypts", async () => {
  // warm the workers up first (a thread start is not what this test is about)
  const iv0 = randomBytes(12);
  await Promise.all(Array.from({ length: 4 }, () => fx.hsm.encryptAesGcmAsync(fx.key, iv0, Buffer.from("warm"), aad)));
  fx.control.set("C_EncryptInit delay 200000");
  const ivs = Array.from({ length: 8 }, () => randomBytes(12));
  const t0 = process.hrtime.bigint();
  const pending = ivs.map((iv, i) => fx.hsm.encryptAesGcmAsync(fx.key, iv, Buffer.from(`message ${i}`), aad));
  const late = await timerLateness(50);
  const cts = await Promise.all(pending);
  const took = Number(process.hrtime.bigint() - t0) / 1e6;
  fx.control.clear();
  // generous for a loaded 2-core machine; on the event loop it was ≥ 750 ms late
  expect(late).toBeLessThan(150);
  // two rounds of four (one worker per pooled session): the calls did wait for the token
  expect(took).toBeGreaterThanOrEqual(380);
  for (const [i, ct] of cts.entries()) expect(fx.hsm.decryptAesGcm(fx.key, ivs[i]!, ct, aad).toString()).toBe(`message ${i}`);
});

test("8 decrypts behind a 200 ms C_DecryptInit: the timer fires on time; a bad tag still fails as a bad tag", async () => {
  const ivs = Array.from({ length: 8 }, () => randomBytes(12));
  const cts = ivs.map((iv, i) => fx.hsm.encryptAesGcm(fx.key, iv, Buffer.from(`secret ${i}`), aad));
  fx.control.set("C_DecryptInit delay 200000");
  const pending = cts.map((ct, i) => fx.hsm.decryptAesGcmAsync(fx.key, ivs[i]!, ct, aad));
  const late = await timerLateness(50);
  const pts = await Promise.all(pending);
  expect(late).toBeLessThan(150);
  for (const [i, pt] of pts.entries()) expect(pt.toString()).toBe(`secret ${i}`);
  const bad = Buffer.from(cts[0]!);
  bad[bad.length - 1]! ^= 1;
  await expect(fx.hsm.decryptAesGcmAsync(fx.key, ivs[0]!, bad, aad)).rejects.toMatchObject({ code: "ERR_DECRYPTION_FAILED" });
  fx.control.clear();
});

test("an Init that hangs for 1.5 s holds only its own call: timers run and the other sessions keep serving", async () => {
  fx.control.set("C_EncryptInit hang 1500 times 1");
  const t0 = process.hrtime.bigint();
  const stuck = fx.hsm.encryptAesGcmAsync(fx.key, randomBytes(12), Buffer.from("stuck"), aad);
  const late = await timerLateness(50);
  // three more sessions (and workers) are free while one call hangs
  const others = await Promise.all(Array.from({ length: 3 }, () => fx.hsm.encryptAesGcmAsync(fx.key, randomBytes(12), Buffer.from("served"), aad)));
  const othersAt = Number(process.hrtime.bigint() - t0) / 1e6;
  expect(late).toBeLessThan(150);
  expect(othersAt).toBeLessThan(1000);
  expect(others).toHaveLength(3);
  await expect(stuck).resolves.toHaveLength(5 + 16);
});

test("a GCM worker count that is not a whole number from 0 to 256 is refused at open", async () => {
  for (const gcmWorkers of [-1, 1.5, 257]) {
    const opening = Hsm.open({
      library: process.env.CIOP_TEST_LIB!,
      token: process.env.CIOP_TEST_TOKEN_LABEL!,
      pin: { value: process.env.CIOP_TEST_PIN! },
      gcmWorkers,
    });
    await expect(opening).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(/gcmWorkers/) });
  }
});
