/**
 * Issue 14 item 10: the logger respects back-pressure. A child process logs 40 MB of lines to a
 * stdout pipe nobody reads: the bytes waiting in the stream stay under LOG_MAX_BUFFERED_CHARS (plus
 * one batch), the rest are dropped and counted; once the reader catches up, one line says how many
 * were dropped and logging goes on. Before the fix every line was queued in the stream (the child's
 * writableLength reached ~40 MB) and nothing was counted.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { LOG_FLUSH_CHARS, LOG_MAX_BUFFERED_CHARS } from "../src/logger.js";

const script = `
  require(${JSON.stringify(path.join(__dirname, "../../../tools/jest/ts-register.cjs"))});
  const { Logger } = require(${JSON.stringify(path.join(__dirname, "../src/logger.ts"))});
  const logger = new Logger({ level: "info" });
  const pad = "x".repeat(180);
  let i = 0;
  let maxBuffered = 0;
  // 200,000 lines of ~250 bytes, 2,000 per turn, so the logger's timer and the stream both run
  const burst = () => {
    for (let j = 0; j < 2000; j++) logger.log("info", { msg: "request", i: i++, pad });
    maxBuffered = Math.max(maxBuffered, process.stdout.writableLength);
    if (i < 200000) return setImmediate(burst);
    process.stderr.write(JSON.stringify({ maxBuffered, dropped: logger.droppedLines }) + "\\n");
    // the parent starts reading now: the logger reports the drop once the pipe drains, then goes on
    process.stdin.once("data", () => {
      process.stdin.destroy();
      const after = () => {
        logger.log("info", { msg: "after" });
        // no process.exit(): it would cut off what is still in the stdout pipe
        void logger.close();
      };
      // the logger's own 'drain' listener (registered first) reports the drop before this runs
      if (process.stdout.writableLength > 0) process.stdout.once("drain", after);
      else after();
    });
  };
  burst();`;

test("a logger whose stdout nobody reads keeps at most LOG_MAX_BUFFERED_CHARS waiting, drops and counts the rest, and reports the drop when the reader catches up", async () => {
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.pause(); // nobody reads
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const stats = await new Promise<{ maxBuffered: number; dropped: number }>((resolve, reject) => {
    child.stderr.on("data", () => {
      const line = err.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as { maxBuffered: number; dropped: number });
    });
    child.on("exit", (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  expect(stats.maxBuffered).toBeLessThanOrEqual(LOG_MAX_BUFFERED_CHARS + LOG_FLUSH_CHARS);
  expect(stats.dropped).toBeGreaterThan(100_000);

  // now read everything: the drop is reported, and lines logged afterwards arrive
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stdout.resume();
  child.stdin.write("go\n");
  await new Promise((resolve) => child.on("exit", resolve));
  const lines = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const report = lines.find((l) => l.msg === "log-lines-dropped");
  expect(report).toMatchObject({ level: "warn", dropped: expect.any(Number) });
  const requests = lines.filter((l) => l.msg === "request").length;
  expect(requests + (report!.dropped as number)).toBe(200_000);
  expect(lines[lines.length - 1]).toMatchObject({ msg: "after" });
}, 60_000);
