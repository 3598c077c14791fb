#!/usr/bin/env node
// Every package's `test` script: runs the package's jest with a time bound, so that one hung test
// cannot eat the whole CI budget.
//
//   node ../../tools/jest/run-bounded.cjs [jest arguments…]     (from the package directory)
//
// It runs `jest --json --outputFile=.jest-results.json` (plus any arguments given) with the
// progress reporter (tools/jest/progress-reporter.cjs) next to the default one. When jest has not
// finished after CIOP_JEST_TIMEOUT_SECS seconds (default 900 = 15 minutes), or when this runner is
// told to stop (SIGTERM/SIGINT, e.g. by the CI's overall timeout), it
//   - prints which package it stopped and, for each test file still running, the test it was in,
//   - stops jest and everything it started (jest runs in a process group of its own),
//   - writes .jest-results.json with the tests that finished plus one failed test per hung file,
//     so that the CI summary counts the package as failed, and exits 1.
// When jest exits non-zero without writing .jest-results.json (it crashed), a failed results file
// is written too. For `jest --watch`, run jest directly.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const DEFAULT_LIMIT_SECS = 900;
const KILL_GRACE_MS = 5000;

function limitSecs() {
  const raw = process.env.CIOP_JEST_TIMEOUT_SECS;
  if (raw === undefined || raw === "") return DEFAULT_LIMIT_SECS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`run-bounded: CIOP_JEST_TIMEOUT_SECS must be a positive number of seconds, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

function packageName(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name || path.basename(dir);
  } catch {
    return path.basename(dir);
  }
}

function readProgress(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return { running: {}, passed: 0, failed: 0, filesDone: 0, filesFailed: 0 };
  }
}

function main() {
  const pkgDir = process.cwd();
  const name = packageName(pkgDir);
  const limit = limitSecs();
  const resultsFile = path.join(pkgDir, ".jest-results.json");
  fs.rmSync(resultsFile, { force: true });
  const progressDir = fs.mkdtempSync(path.join(os.tmpdir(), "ciop-jest-progress-"));
  const progressFile = path.join(progressDir, "progress.json");
  const jestBin = require.resolve("jest/bin/jest", { paths: [pkgDir, __dirname] });
  // The arguments given come first: jest's --reporters takes every word after it as a reporter.
  const args = [
    jestBin,
    ...process.argv.slice(2),
    "--json",
    `--outputFile=${resultsFile}`,
    "--reporters=default",
    `--reporters=${path.join(__dirname, "progress-reporter.cjs")}`,
  ];
  const started = Date.now();
  // detached: jest and its workers (and whatever the tests started) get a process group of their
  // own, which is stopped as a whole.
  const child = spawn(process.execPath, args, {
    cwd: pkgDir,
    stdio: "inherit",
    detached: true,
    env: { ...process.env, CIOP_JEST_PROGRESS_FILE: progressFile },
  });

  let stopReason;
  let killTimer;
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };

  const stop = (reason) => {
    if (stopReason || child.exitCode !== null) return;
    stopReason = reason;
    const p = readProgress(progressFile);
    const running = Object.entries(p.running || {});
    const lines = [`run-bounded: ${name}: jest ${reason}; stopping it.`];
    if (running.length === 0) lines.push(`run-bounded: ${name}: no test file was reported as running (jest may have hung starting up or shutting down).`);
    for (const [file, r] of running) {
      const test = r.test
        ? `"${r.test}"`
        : r.lastFinished
          ? `(between tests, after "${r.lastFinished}": in a hook or in the file's own code)`
          : "(no test started yet: loading the file or in a beforeAll)";
      const forSecs = r.since ? ` for ${Math.round((Date.now() - r.since) / 1000)} s` : "";
      lines.push(`run-bounded: ${name}: still running: ${file} › ${test}${forSecs}`);
    }
    lines.push(`run-bounded: ${name}: before that: ${p.passed} passed, ${p.failed} failed; .jest-results.json records the package as failed.`);
    console.error(lines.join("\n"));
    killGroup("SIGTERM");
    killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
  };

  const limitTimer = setTimeout(() => stop(`did not finish within ${limit} s`), limit * 1000);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.on(sig, () => stop(`was stopped from outside (${sig}) after ${Math.round((Date.now() - started) / 1000)} s`));
  }

  child.on("exit", (code, signal) => {
    clearTimeout(limitTimer);
    // Anything the tests left behind in jest's group goes too.
    killGroup("SIGKILL");
    clearTimeout(killTimer);
    const p = readProgress(progressFile);
    fs.rmSync(progressDir, { recursive: true, force: true });
    let exitCode = code ?? 1;
    if (stopReason) {
      writeFailedResults(resultsFile, name, p, { reason: stopReason, limitSecs: limit });
      exitCode = 1;
    } else if (exitCode !== 0 && !fs.existsSync(resultsFile)) {
      const why = `exited with ${signal ? `signal ${signal}` : `code ${code}`} without writing results`;
      console.error(`run-bounded: ${name}: jest ${why}; .jest-results.json records the package as failed.`);
      writeFailedResults(resultsFile, name, p, { reason: why, limitSecs: limit });
    }
    process.exit(exitCode);
  });
}

/** A results file in the shape of jest's --json output (the fields the CI summary reads). */
function writeFailedResults(file, name, p, { reason, limitSecs }) {
  const running = Object.entries(p.running || {}).map(([testFile, r]) => ({ file: testFile, test: r.test ?? null, lastFinished: r.lastFinished ?? null }));
  const hung = Math.max(running.length, 1);
  const results = {
    success: false,
    numPassedTests: p.passed || 0,
    numFailedTests: (p.failed || 0) + hung,
    numPendingTests: 0,
    numTotalTests: (p.passed || 0) + (p.failed || 0) + hung,
    numPassedTestSuites: Math.max((p.filesDone || 0) - (p.filesFailed || 0), 0),
    numFailedTestSuites: (p.filesFailed || 0) + hung,
    numRuntimeErrorTestSuites: 0,
    numTotalTestSuites: (p.filesDone || 0) + hung,
    testResults: [],
    ciopStopped: { package: name, reason, limitSecs, running },
  };
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

main();
