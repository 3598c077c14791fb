/**
 * Issue 14 ("a CI that must never hang"): every package's `test` script runs jest through
 * tools/jest/run-bounded.cjs. Here it runs on a fixture package (tools/jest/fixtures/hung-package)
 * whose test blocks its thread for good (Atomics.wait: no CPU, no JavaScript ever again, like the
 * native deadlock seen in @ciop/wrap). With a tiny bound the runner must name the package and the
 * test that hung, stop jest and everything in its process group, and write a .jest-results.json
 * that the CI summary counts as failed. Before this change the test scripts were plain
 * `jest --json --outputFile=.jest-results.json`: such a package ran until the CI's overall timeout,
 * named nothing and left no results file, so the summary did not count it at all.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(__dirname, "../../..");
const runner = path.join(root, "tools/jest/run-bounded.cjs");
const fixture = path.join(root, "tools/jest/fixtures/hung-package");
const HUNG_TEST = "a deadlock waits forever on a lock nobody releases";

interface Run {
  code: number | null;
  stderr: string;
  /** .jest-results.json parsed, or {} when the runner left none. */
  results: Record<string, unknown>;
  dir: string;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the runner in a fresh copy of the fixture package; `signalAfterMs` sends it SIGTERM. */
function runBounded(env: Record<string, string>, args: string[] = [], signalAfterMs?: number): Promise<Run> {
  const dir = mkdtempSync(path.join(tmpdir(), "ciop-run-bounded-"));
  dirs.push(dir);
  cpSync(fixture, dir, { recursive: true });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stdout.resume();
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    // SIGTERM after signalAfterMs: by then the hung test has started (jest starts in 1-2 s).
    const timer = signalAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGTERM"), signalAfterMs);
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      const file = path.join(dir, ".jest-results.json");
      resolve({ code, stderr, dir, results: existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {} });
    });
  });
}

/** Processes whose working directory is inside `dir` (jest and its workers ran there). */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) found.push(Number(pid));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

it("stops a jest that hangs past CIOP_JEST_TIMEOUT_SECS, names the package and the test, records a failure", async () => {
  const r = await runBounded({ CIOP_JEST_TIMEOUT_SECS: "12" });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("@ciop/fixture-hung-package: jest did not finish within 12 s");
  expect(r.stderr).toContain(`still running: test/hangs.fixture.cjs › "${HUNG_TEST}"`);
  expect(r.results).toMatchObject({
    success: false,
    numFailedTests: 1,
    numFailedTestSuites: 1,
    ciopStopped: {
      package: "@ciop/fixture-hung-package",
      limitSecs: 12,
      running: [{ file: "test/hangs.fixture.cjs", test: HUNG_TEST, lastFinished: "passes before the hang" }],
    },
  });
  // The test that finished before the hang is still counted as passed.
  expect(r.results.numPassedTests).toBeGreaterThanOrEqual(1);
  expect(processesIn(r.dir)).toEqual([]);
}, 60_000);

it("when stopped from outside (the CI's overall timeout sends SIGTERM) it also names the test and records a failure", async () => {
  const r = await runBounded({ CIOP_JEST_TIMEOUT_SECS: "600" }, [], 8_000);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("@ciop/fixture-hung-package: jest was stopped from outside (SIGTERM)");
  expect(r.stderr).toContain(`test/hangs.fixture.cjs › "${HUNG_TEST}"`);
  expect(r.results).toMatchObject({ success: false, numFailedTests: 1, ciopStopped: { running: [{ test: HUNG_TEST }] } });
  expect(processesIn(r.dir)).toEqual([]);
}, 60_000);

it("a jest run that finishes is left alone: jest's own results, jest's exit code", async () => {
  const r = await runBounded({ CIOP_JEST_TIMEOUT_SECS: "120" }, ["test/passes.fixture.cjs"]);
  expect(r.code).toBe(0);
  expect(r.results).toMatchObject({ success: true, numPassedTests: 1, numFailedTests: 0 });
  expect(r.results.ciopStopped).toBeUndefined();
}, 60_000);

it("refuses a bound that is not a positive number of seconds", async () => {
  const r = await runBounded({ CIOP_JEST_TIMEOUT_SECS: "15m" });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('CIOP_JEST_TIMEOUT_SECS must be a positive number of seconds, got "15m"');
}, 30_000);
