/**
 * Issue 14 ("A hang in @ciop/wrap's software engine"): the software engine checked a fresh EC key
 * by reading KeyObject.asymmetricKeyDetails. On Node 20.20.2 that read can deadlock the main thread
 * for good (GetEcKeyDetail holds the key's mutex, allocates, the allocation runs a GC, the GC
 * finalises the EC KeyGenJob that made the key, and its destructor waits for that same mutex).
 *
 * This runs the EC generate + check path (generateSoftwareKey, softwareKey on copies of a fresh
 * key) and the wrapping-key parse of EC and RSA keys ~30,000 times in a child jest whose node has a
 * 1 MiB young generation, so that native allocations run GCs often. Explicit gc() calls would not
 * help: they run outside the mutex and only finalise the jobs harmlessly; it is the collections that
 * an allocation triggers that hit the window. The child must finish within CHILD_TIMEOUT_MS.
 *
 * Before the fix (both reads of asymmetricKeyDetails restored), on Node 20.20.2, the child hung in
 * 4 of 4 runs, between round 0 and round 200, with the stack above (this test then failed on its
 * timeout); with the fix it finishes the 300 rounds in about 15 s.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROUNDS = 300;
const CHILD_TIMEOUT_MS = 150_000;
const pkg = path.resolve(__dirname, "..");
const jestBin = require.resolve("jest/bin/jest", { paths: [pkg] });

interface ChildResult {
  code: number | null;
  timedOut: boolean;
  output: string;
}

function runStress(progressFile: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--max-semi-space-size=1", jestBin, "--runInBand", "--ci", "--testMatch", "**/support/ec-keygen-under-gc.stress.ts"],
      {
        cwd: pkg,
        env: { ...process.env, CIOP_GC_STRESS_ROUNDS: String(ROUNDS), CIOP_GC_STRESS_PROGRESS: progressFile },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    const keep = (b: Buffer) => {
      output = (output + b.toString("utf8")).slice(-8000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, CHILD_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output });
    });
  });
}

it(
  "EC key generation + check and EC/RSA wrapping-key parsing finish under GC pressure (no deadlock)",
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ciop-gc-stress-"));
    try {
      const progress = path.join(dir, "progress");
      const r = await runStress(progress);
      let last = "none";
      try {
        last = readFileSync(progress, "utf8").trim();
      } catch {
        /* the child never got to round 0 */
      }
      if (r.timedOut) {
        throw new Error(
          `the stress child did not finish within ${CHILD_TIMEOUT_MS / 1000} s (last progress: round ${last}); ` +
            `a hang here is the asymmetricKeyDetails deadlock. Child output:\n${r.output}`,
        );
      }
      expect({ code: r.code, output: r.code === 0 ? "" : r.output }).toEqual({ code: 0, output: "" });
      expect(last).toBe(`done ${ROUNDS}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  CHILD_TIMEOUT_MS + 30_000,
);
