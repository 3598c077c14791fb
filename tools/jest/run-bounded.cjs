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
//
// Token runs (issue 16, "Three tokens in CI"): after that normal run (SoftHSM2 in process), the test
// files the package lists under `"ciop": { "tokenTests": [...] }` in its package.json run again once
// per token in CIOP_TEST_TOKENS (default "nss,p11-kit-rpc"; empty: none), each with CIOP_TEST_TOKEN
// set (tools/jest/global-setup.cjs points the test token at it) and its results in
// .jest-results.<token>.json. Arguments given to this runner apply to the normal run only; the
// time bound covers all runs together.
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

const TOKEN_KINDS = ["softhsm2", "nss", "p11-kit-rpc"];

/** The extra tokens to run the package's token tests on (CIOP_TEST_TOKENS). */
function extraTokens() {
  const raw = process.env.CIOP_TEST_TOKENS ?? "nss,p11-kit-rpc";
  const tokens = raw
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  for (const t of tokens) {
    if (!TOKEN_KINDS.includes(t)) {
      console.error(`run-bounded: CIOP_TEST_TOKENS lists "${t}"; the tokens are ${TOKEN_KINDS.join(", ")}`);
      process.exit(2);
    }
  }
  return tokens.filter((t) => t !== "softhsm2");
}

/** The package's token test files (package.json "ciop".tokenTests), each checked to exist. */
function tokenTests(dir) {
  let list;
  try {
    list = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).ciop?.tokenTests;
  } catch {
    return [];
  }
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((f) => typeof f !== "string")) {
    console.error(`run-bounded: ${dir}/package.json: "ciop".tokenTests must be a list of test file paths`);
    process.exit(2);
  }
  for (const f of list) {
    if (!fs.existsSync(path.join(dir, f))) {
      console.error(`run-bounded: ${dir}/package.json: "ciop".tokenTests lists ${f}, which does not exist`);
      process.exit(2);
    }
  }
  return list;
}

function main() {
  const pkgDir = process.cwd();
  const name = packageName(pkgDir);
  const limit = limitSecs();
  const started = Date.now();
  const tokens = extraTokens();
  const files = tokenTests(pkgDir);
  for (const f of fs.readdirSync(pkgDir)) if (/^\.jest-results(\.[a-z0-9-]+)?\.json$/.test(f)) fs.rmSync(path.join(pkgDir, f), { force: true });
  const runs = [{ label: name, args: process.argv.slice(2), resultsFile: path.join(pkgDir, ".jest-results.json"), env: {} }];
  if (files.length > 0) {
    for (const token of tokens) {
      runs.push({
        label: `${name} on ${token}`,
        // Exact paths: jest treats its positional arguments as patterns.
        args: ["--runTestsByPath", ...files],
        resultsFile: path.join(pkgDir, `.jest-results.${token}.json`),
        env: { CIOP_TEST_TOKEN: token },
      });
    }
  }
  let exitCode = 0;
  let stopped = false;
  const next = (i) => {
    if (i >= runs.length || stopped) process.exit(exitCode);
    const run = runs[i];
    if (i > 0) console.error(`run-bounded: ${run.label}: ${files.length} token test file(s) with CIOP_TEST_TOKEN=${run.env.CIOP_TEST_TOKEN}`);
    const remaining = limit - (Date.now() - started) / 1000;
    runJest(pkgDir, run, Math.max(remaining, 1), limit, (code, wasStopped) => {
      if (code !== 0) exitCode = 1;
      stopped = wasStopped;
      next(i + 1);
    });
  };
  next(0);
}

/** One bounded jest run; calls done(exitCode, stoppedFromOutsideOrByTheBound). */
function runJest(pkgDir, run, limit, totalLimit, done) {
  const name = run.label;
  const resultsFile = run.resultsFile;
  const resultsName = path.basename(resultsFile);
  fs.rmSync(resultsFile, { force: true });
  const progressDir = fs.mkdtempSync(path.join(os.tmpdir(), "ciop-jest-progress-"));
  const progressFile = path.join(progressDir, "progress.json");
  const skipFile = path.join(progressDir, "token-skip.txt");
  const jestBin = require.resolve("jest/bin/jest", { paths: [pkgDir, __dirname] });
  // The arguments given come first: jest's --reporters takes every word after it as a reporter.
  const args = [
    jestBin,
    ...run.args,
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
    env: { ...process.env, ...run.env, CIOP_JEST_PROGRESS_FILE: progressFile, CIOP_TEST_SKIP_FILE: skipFile },
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
    lines.push(`run-bounded: ${name}: before that: ${p.passed} passed, ${p.failed} failed; ${resultsName} records the package as failed.`);
    console.error(lines.join("\n"));
    killGroup("SIGTERM");
    killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
  };

  const limitTimer = setTimeout(() => stop(`did not finish within ${totalLimit} s`), limit * 1000);
  const onSignal = (sig) => stop(`was stopped from outside (${sig}) after ${Math.round((Date.now() - started) / 1000)} s`);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, onSignal);

  child.on("exit", (code, signal) => {
    clearTimeout(limitTimer);
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.off(sig, onSignal);
    // Anything the tests left behind in jest's group goes too.
    killGroup("SIGKILL");
    clearTimeout(killTimer);
    const p = readProgress(progressFile);
    const tokenSkip = fs.existsSync(skipFile) ? fs.readFileSync(skipFile, "utf8") : undefined;
    fs.rmSync(progressDir, { recursive: true, force: true });
    let exitCode = code ?? 1;
    // A token that could not be set up: the reason goes into the results for the CI summary.
    if (tokenSkip !== undefined && fs.existsSync(resultsFile)) {
      try {
        const r = JSON.parse(fs.readFileSync(resultsFile, "utf8"));
        r.ciopTokenSkip = tokenSkip;
        fs.writeFileSync(resultsFile, `${JSON.stringify(r)}\n`);
      } catch {
        /* a results file jest left half-written is reported by the summary as it is */
      }
    }
    if (stopReason) {
      writeFailedResults(resultsFile, name, p, { reason: stopReason, limitSecs: totalLimit });
      exitCode = 1;
    } else if (exitCode !== 0 && !fs.existsSync(resultsFile)) {
      const why = `exited with ${signal ? `signal ${signal}` : `code ${code}`} without writing results`;
      console.error(`run-bounded: ${name}: jest ${why}; ${resultsName} records the package as failed.`);
      writeFailedResults(resultsFile, name, p, { reason: why, limitSecs: totalLimit });
    }
    done(exitCode, stopReason !== undefined);
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
