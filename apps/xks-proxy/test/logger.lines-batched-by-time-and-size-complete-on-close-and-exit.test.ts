/**
 * The request log is written in batches (LOG_FLUSH_MS after the first pending line, or at
 * LOG_FLUSH_CHARS), many lines per write, and every line is still a complete JSON object with time,
 * level and pid first; close() and process exit write what is pending; records below the level are
 * dropped.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { LOG_FLUSH_CHARS, LOG_FLUSH_MS, Logger } from "../src/logger.js";

const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR ?? "/tmp", "logger-"));

test("lines logged together land together, complete, with time/level/pid, and close() flushes them", async () => {
  const file = path.join(dir, "a.log");
  const logger = new Logger({ level: "info", file });
  logger.log("info", { msg: "request", status: 200, key: "k1" });
  logger.log("debug", { msg: "dropped" });
  logger.log("warn", { msg: "request", status: 503, errorName: "DependencyTimeoutException" });
  logger.log("info", {});
  await logger.close();
  const lines = readFileSync(file, "utf8").split("\n");
  expect(lines.pop()).toBe("");
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(recs.map((r) => r.msg)).toEqual(["request", "request", undefined]);
  expect(Object.keys(recs[0]!)).toEqual(["time", "level", "pid", "msg", "status", "key"]);
  expect(recs[1]).toMatchObject({ level: "warn", pid: process.pid, status: 503, errorName: "DependencyTimeoutException" });
  expect(Object.keys(recs[2]!)).toEqual(["time", "level", "pid"]);
  expect(Date.parse(recs[0]!.time as string)).not.toBeNaN();
});

test("a hundred lines logged in one turn all reach the log file without close()", async () => {
  const file = path.join(dir, "b.log");
  const logger = new Logger({ level: "info", file });
  for (let i = 0; i < 100; i++) logger.log("info", { msg: "request", i });
  // the batch is due LOG_FLUSH_MS later; give the stream its own write after that
  await new Promise((r) => setTimeout(r, LOG_FLUSH_MS + 50));
  expect(readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(100);
  await logger.close();
});

/** Runs `f` with process.stdout.write captured: `writes` gets one entry per write call. */
async function withStdoutWrites(f: (writes: string[]) => Promise<void>): Promise<void> {
  const writes: string[] = [];
  const spy = jest.spyOn(process.stdout, "write").mockImplementation(((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  try {
    await f(writes);
  } finally {
    spy.mockRestore();
  }
}

test("lines logged over several turns are written LOG_FLUSH_MS after the first, all in one write, not one write per line or per turn", async () => {
  await withStdoutWrites(async (writes) => {
    const logger = new Logger({ level: "info" });
    for (let i = 0; i < 100; i++) {
      logger.log("info", { msg: "request", i });
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    expect(writes).toHaveLength(0);
    await new Promise((r) => setTimeout(r, LOG_FLUSH_MS + 20));
    expect(writes).toHaveLength(1);
    const lines = writes[0]!
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { i: number });
    expect(lines.map((l) => l.i)).toEqual([...Array(100).keys()]);
    await logger.close();
  });
});

test("pending lines reaching LOG_FLUSH_CHARS are written at once, without waiting for the timer", async () => {
  await withStdoutWrites(async (writes) => {
    const logger = new Logger({ level: "info" });
    const pad = "x".repeat(1000);
    const n = Math.ceil(LOG_FLUSH_CHARS / 1000) + 5;
    for (let i = 0; i < n; i++) logger.log("info", { msg: "request", i, pad });
    expect(writes).toHaveLength(1); // written synchronously when the threshold was crossed
    expect(writes[0]!.length).toBeGreaterThanOrEqual(LOG_FLUSH_CHARS);
    await logger.close();
    const all = writes
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { i: number }).i);
    expect(all).toEqual([...Array(n).keys()]);
  });
});

test("a process that exits right after logging still writes the line (file and stdout)", () => {
  const file = path.join(dir, "c.log");
  const script = `
    require(${JSON.stringify(path.join(__dirname, "../../../tools/jest/ts-register.cjs"))});
    const { Logger } = require(${JSON.stringify(path.join(__dirname, "../src/logger.ts"))});
    new Logger({ level: "info", file: process.argv[1] }).log("error", { msg: "startup-failed" });
    new Logger({ level: "info" }).log("error", { msg: "to-stdout" });
    process.exit(1);`;
  const r = spawnSync(process.execPath, ["-e", script, file], { encoding: "utf8" });
  expect(r.status).toBe(1);
  expect(JSON.parse(readFileSync(file, "utf8").trim())).toMatchObject({ level: "error", msg: "startup-failed" });
  expect(JSON.parse(r.stdout.trim())).toMatchObject({ msg: "to-stdout" });
});
