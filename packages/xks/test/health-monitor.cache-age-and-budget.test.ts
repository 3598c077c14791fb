/**
 * HealthMonitor: answers within its budget, serves cached deep-probe results no older than the
 * maximum age (60 s at most), reports a failing probe as UNAVAILABLE and an unknown state as
 * DEGRADED. Uses a fake clock for ages and real (short) timers for the budget.
 */
import { HealthMonitor } from "../src/index.js";

describe("HealthMonitor", () => {
  test("caps the cache age at the spec's 60 s and re-probes once results are stale", async () => {
    let now = 0;
    let probes = 0;
    const m = new HealthMonitor(
      async () => {
        probes++;
        return "ACTIVE";
      },
      { maxAgeMs: 120_000, freshMs: 10_000, now: () => now },
    );
    expect((await m.status()).status).toBe("ACTIVE");
    expect(probes).toBe(1);
    now = 5_000;
    expect(await m.status()).toEqual({ status: "ACTIVE", ageMs: 5_000 });
    expect(probes).toBe(1);
    now = 20_000;
    await m.status();
    expect(probes).toBe(2);
  });

  test("a slow probe: the caller gets the last result within the budget, or DEGRADED when there is none fresh enough", async () => {
    let now = 0;
    let release: (() => void) | undefined;
    let slow = false;
    const m = new HealthMonitor(
      () =>
        slow
          ? new Promise((resolve) => {
              release = () => resolve("ACTIVE");
            })
          : Promise.resolve("ACTIVE"),
      { freshMs: 1_000, budgetMs: 30, now: () => now },
    );
    await m.status();
    slow = true;
    now = 30_000; // stale for freshness, still within 60 s
    expect(await m.status()).toEqual({ status: "ACTIVE", ageMs: 30_000 });
    now = 61_000; // older than 60 s: never served
    expect((await m.status()).status).toBe("DEGRADED");
    release?.();
  });

  test("a failing probe is UNAVAILABLE", async () => {
    const m = new HealthMonitor(async () => {
      throw new Error("token gone");
    });
    expect((await m.status()).status).toBe("UNAVAILABLE");
  });

  test("start() probes in the background and stop() ends it", async () => {
    let probes = 0;
    const m = new HealthMonitor(async () => {
      probes++;
      return "ACTIVE";
    });
    m.start(10);
    await new Promise((r) => setTimeout(r, 60));
    m.stop();
    const seen = probes;
    expect(seen).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 40));
    expect(probes).toBe(seen);
  });
});
