/**
 * Found by CI: two citool processes exporting at once for the first time both created the audit
 * log's directory; the one that lost the race got EEXIST from mkdir and refused the export as a bad
 * --audit-log (ERR_CONFIG_INVALID). ensureDir now accepts a level another process made meanwhile.
 * Eight processes create the same five-level path at the same moment, twenty times over.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import path from "node:path";

const SOURCE = path.join(__dirname, "..", "src", "commands", "export-files.ts");
const REGISTER = path.join(__dirname, "..", "..", "..", "tools", "jest", "ts-register.cjs");

function racer(dir: string, at: number): Promise<{ code: number | null; stderr: string }> {
  const script = `const { ensureDir } = require(${JSON.stringify(SOURCE)});
const wait = ${at} - Date.now(); if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
ensureDir(${JSON.stringify(dir)});`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ["-r", REGISTER, "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("exit", (code) => resolve({ code, stderr }));
  });
}

test("eight processes making the same new directory path at once all succeed", async () => {
  const base = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "ensure-dir-"));
  for (let round = 0; round < 20; round++) {
    const dir = path.join(base, `r${round}`, "a", "b", "c", "d");
    const at = Date.now() + 400;
    const results = await Promise.all(Array.from({ length: 8 }, () => racer(dir, at)));
    expect(results.map((r) => (r.code === 0 ? "ok" : (r.stderr.split("\n").find((l) => l.includes("Error")) ?? `exit ${r.code}`)))).toEqual(
      Array(8).fill("ok"),
    );
    expect(statSync(dir).isDirectory()).toBe(true);
  }
}, 120_000);
