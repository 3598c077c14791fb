// A jest reporter that keeps a small JSON file up to date with what is running: each test file in
// flight and the test it is in, plus counts of finished tests. tools/jest/run-bounded.cjs reads it
// when it has to stop a jest that hangs, to name the hung test and to write a results file that
// counts it. The file is CIOP_JEST_PROGRESS_FILE (nothing is written without it); it is replaced
// atomically (write + rename) so a reader never sees half of it.
const fs = require("node:fs");
const path = require("node:path");

class ProgressReporter {
  constructor(globalConfig) {
    this.file = process.env.CIOP_JEST_PROGRESS_FILE;
    this.rootDir = globalConfig?.rootDir ?? process.cwd();
    this.state = { running: {}, passed: 0, failed: 0, filesDone: 0, filesFailed: 0, updatedAt: Date.now() };
  }

  rel(p) {
    return path.relative(this.rootDir, p) || p;
  }

  write() {
    if (!this.file) return;
    this.state.updatedAt = Date.now();
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(this.state));
      fs.renameSync(tmp, this.file);
    } catch {
      /* progress is best effort: never fail a test run over it */
    }
  }

  onTestFileStart(test) {
    this.state.running[this.rel(test.path)] = { test: null, since: Date.now() };
    this.write();
  }

  onTestCaseStart(test, info) {
    const file = this.rel(test.path);
    const lastFinished = this.state.running[file]?.lastFinished;
    this.state.running[file] = { test: info.fullName, since: info.startedAt ?? Date.now(), lastFinished };
    this.write();
  }

  onTestCaseResult(test, result) {
    if (result.status === "passed") this.state.passed++;
    else if (result.status === "failed") this.state.failed++;
    const entry = this.state.running[this.rel(test.path)];
    if (entry) {
      entry.lastFinished = result.fullName;
      entry.test = null;
    }
    this.write();
  }

  onTestFileResult(test, testResult) {
    delete this.state.running[this.rel(test.path)];
    this.state.filesDone++;
    if (testResult.numFailingTests > 0 || testResult.testExecError) this.state.filesFailed++;
    this.write();
  }

  getLastError() {
    return undefined;
  }
}

module.exports = ProgressReporter;
