/**
 * A long-running server does one host-side fallback per request on some tokens, so the Hsm keeps only
 * the most recent events (default 100, `hostFallbackHistory` to change) while `hostFallbackCount`
 * stays exact and every event still reaches `onHostFallback` and the "host-fallback" listeners.
 */
import { CiopError, zeroize } from "@ciop/core";
import type { Hsm, HostFallbackEvent } from "../src/index.js";
import { openTestHsm, uniqueName } from "./helpers.js";

const name = uniqueName("fbcap");

beforeAll(async () => {
  const h = await openTestHsm();
  await h.generateKey(name, "AES-256");
  await h.close();
});

/** `n` host exports (each one a recorded fallback), with the index in the reason. */
async function fallbacks(hsm: Hsm, n: number, from = 0): Promise<void> {
  const key = hsm.findKey(name)!;
  for (let i = from; i < from + n; i++) zeroize(await hsm.exportKeyToHost(key, `test #${i}`));
}

test("default: the last 100 events are kept, oldest first; the count and the callbacks see all 130", async () => {
  const seen: HostFallbackEvent[] = [];
  const emitted: HostFallbackEvent[] = [];
  const hsm = await openTestHsm({ onHostFallback: (e) => seen.push(e) });
  hsm.on("host-fallback", (e) => emitted.push(e));
  try {
    expect({ used: hsm.hostFallbackUsed, count: hsm.hostFallbackCount, kept: hsm.hostFallbacks.length }).toEqual({ used: false, count: 0, kept: 0 });
    await fallbacks(hsm, 1);
    expect({ used: hsm.hostFallbackUsed, count: hsm.hostFallbackCount, kept: hsm.hostFallbacks.length }).toEqual({ used: true, count: 1, kept: 1 });
    await fallbacks(hsm, 129, 1);
    const kept = hsm.hostFallbacks;
    expect({ used: hsm.hostFallbackUsed, count: hsm.hostFallbackCount, kept: kept.length }).toEqual({ used: true, count: 130, kept: 100 });
    expect(kept[0]!.reason).toBe("test #30");
    expect(kept.at(-1)!.reason).toBe("test #129");
    expect(kept.map((e) => e.reason)).toEqual(Array.from({ length: 100 }, (_, i) => `test #${i + 30}`));
    expect(seen.length).toBe(130);
    expect(emitted.length).toBe(130);
    // a copy: callers cannot change what the Hsm keeps
    (kept as HostFallbackEvent[]).length = 0;
    expect(hsm.hostFallbacks.length).toBe(100);
  } finally {
    await hsm.close();
  }
});

test("hostFallbackHistory sets the cap (0 keeps none but still counts); invalid values are refused at open", async () => {
  const three = await openTestHsm({ hostFallbackHistory: 3 });
  const none = await openTestHsm({ hostFallbackHistory: 0 });
  try {
    await fallbacks(three, 5);
    expect({ count: three.hostFallbackCount, kept: three.hostFallbacks.map((e) => e.reason) }).toEqual({ count: 5, kept: ["test #2", "test #3", "test #4"] });
    await fallbacks(none, 2);
    expect({ used: none.hostFallbackUsed, count: none.hostFallbackCount, kept: none.hostFallbacks.length }).toEqual({ used: true, count: 2, kept: 0 });
  } finally {
    await three.close();
    await none.close();
  }
  for (const bad of [-1, 1.5, Number.NaN]) {
    const err = await openTestHsm({ hostFallbackHistory: bad }).then(
      async (h) => {
        await h.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect({ bad, code: CiopError.isInstance(err) ? (err as CiopError).code : String(err) }).toEqual({ bad, code: "ERR_CONFIG_INVALID" });
  }
});
