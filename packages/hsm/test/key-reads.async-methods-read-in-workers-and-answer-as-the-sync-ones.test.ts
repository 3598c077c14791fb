/**
 * Issue 16, key-state reads on a network HSM: findKeyAsync, keyUsageAsync, keyInfoAsync and
 * listKeysAsync make their token reads in the worker threads (src/offload/reads.ts), so a token
 * that takes long per call (the fault module's `delay` in front of SoftHSM) does not hold the event
 * loop, and they answer exactly as the synchronous methods, the "confirm an empty search" rule included.
 *
 * Before this change there were only the synchronous reads: a search for a missing name behind
 * `C_FindObjects* delay 200000` held the loop for the three searches (≥ 600 ms), so the 50 ms timer
 * below fired that late.
 */
import { HsmError } from "../src/index.js";
import { useFaultModuleHsm } from "./fault-hsm.js";

const fx = useFaultModuleHsm("key-reads-async-", "kra");

function timerLateness(dueMs: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => setTimeout(() => resolve(Number(process.hrtime.bigint() - t0) / 1e6 - dueMs), dueMs));
}

test("same answers as the synchronous reads", async () => {
  expect(await fx.hsm.keyUsageAsync(fx.key)).toEqual(fx.hsm.keyUsage(fx.key));
  expect(await fx.hsm.keyInfoAsync(fx.key)).toEqual(fx.hsm.keyInfo(fx.key));
  expect(await fx.hsm.listKeysAsync()).toEqual(fx.hsm.listKeys());
  expect(await fx.hsm.findKeyAsync(fx.key.name)).toBe(fx.hsm.findKey(fx.key.name));
  expect(await fx.hsm.findKeyAsync(`missing-${process.pid}`)).toBeUndefined();
});

test("a search behind a 200 ms C_FindObjects*: a 50 ms timer fires on time, the answer is the same", async () => {
  await fx.hsm.startGcmWorkers();
  fx.control.set("C_FindObjects* delay 200000");
  const t0 = process.hrtime.bigint();
  const found = fx.hsm.findKeyAsync(`missing-slow-${process.pid}`);
  const late = await timerLateness(50);
  expect(await found).toBeUndefined();
  const took = Number(process.hrtime.bigint() - t0) / 1e6;
  fx.control.clear();
  // generous for a loaded 2-core machine; on the event loop it was ≥ 550 ms late
  expect(late).toBeLessThan(150);
  // the searches did wait for the token
  expect(took).toBeGreaterThanOrEqual(500);
});

test("an empty search that cannot be trusted (the token shows no object at all) is a resource error, not 'no such key'", async () => {
  fx.control.set("C_FindObjects empty");
  const err = await fx.hsm.findKeyAsync(`missing-empty-${process.pid}`).catch((e: unknown) => e);
  fx.control.clear();
  expect(err).toBeInstanceOf(HsmError);
  expect((err as HsmError).unavailable).toBe(true);
});
