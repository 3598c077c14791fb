/**
 * The lock files that serialise key and embedded-token creation across processes: a lock left by a
 * process that died is broken at once, a live holder is waited for, and two holders never overlap.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withFileLock } from "../src/lock.js";

const dir = () => mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "lock-"));

test("a lock file whose owner process is gone is broken, and removed after use", async () => {
  const lock = path.join(dir(), "k.lock");
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const deadPid = Number(dead.stdout);
  expect(deadPid).toBeGreaterThan(0);
  writeFileSync(lock, `${deadPid}\n${Date.now()}\n`);
  const ran = await withFileLock(lock, async () => "ran", { timeoutMs: 5_000 });
  expect(ran).toBe("ran");
  expect(existsSync(lock)).toBe(false);
});

test("a lock held by a live process is waited for (and times out with ERR_TIMEOUT), never broken", async () => {
  const lock = path.join(dir(), "k.lock");
  writeFileSync(lock, `${process.ppid}\n${Date.now()}\n`); // jest's parent: alive
  await expect(withFileLock(lock, async () => "ran", { timeoutMs: 300 })).rejects.toMatchObject({ code: "ERR_TIMEOUT" });
  expect(existsSync(lock)).toBe(true);
});

test("holders in one process never overlap", async () => {
  const lock = path.join(dir(), "k.lock");
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: 8 }, () =>
      withFileLock(lock, async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
      }),
    ),
  );
  expect(maxInside).toBe(1);
});
