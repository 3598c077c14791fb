// Test helpers for the fault-injecting PKCS#11 module (README.md in this directory).
"use strict";
const { execFileSync } = require("node:child_process");
const { copyFileSync, existsSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const DIR = __dirname;
const BUILT = path.join(DIR, "build", "libpkcs11-fault.so");
const SOURCES = ["pkcs11-fault.c", "pkcs11-min.h", "Makefile"].map((f) => path.join(DIR, f));

/** The built module; runs make first when it is missing or older than its source. */
function faultModule() {
  const built = existsSync(BUILT) ? statSync(BUILT).mtimeMs : 0;
  if (SOURCES.some((f) => statSync(f).mtimeMs > built)) execFileSync("make", ["-s", "-C", DIR], { stdio: ["ignore", "ignore", "inherit"] });
  return BUILT;
}

/**
 * A private copy of the module in `dir`, with `env` (see faultEnv) written beside it as
 * "<copy>.env". The module reads its settings once per load and a process loads one path once, so
 * a test file that opens its own copy gets settings of its own; and jest's process.env is a copy
 * that native code never sees, so in-process tests need the file.
 */
function faultModuleCopy(dir, env) {
  const file = path.join(dir, `libpkcs11-fault-${process.pid}-${Math.random().toString(36).slice(2, 8)}.so`);
  copyFileSync(faultModule(), file);
  if (env)
    writeFileSync(
      `${file}.env`,
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(""),
    );
  return file;
}

/** The control file: each write replaces it whole (rename), so the module never reads half a file. */
class FaultControl {
  constructor(file) {
    this.file = file;
    this.n = 0;
  }
  /** Replaces the rules in force (one rule per entry). */
  set(...rules) {
    const tmp = `${this.file}.${process.pid}.${++this.n}.tmp`;
    writeFileSync(tmp, `${rules.join("\n")}\n`);
    renameSync(tmp, this.file);
  }
  /** No rules: every call is forwarded as is (and a call hanging on a rule is released). */
  clear() {
    this.set("# no faults");
  }
  remove() {
    rmSync(this.file, { force: true });
  }
}

/** Environment for a process that loads the module. */
function faultEnv(o) {
  const env = { CIOP_FAULT_REAL_MODULE: o.realModule };
  if (o.control !== undefined) env.CIOP_FAULT_CONTROL = o.control;
  if (o.rules !== undefined) env.CIOP_FAULT_RULES = Array.isArray(o.rules) ? o.rules.join(";") : o.rules;
  return env;
}

module.exports = { faultModule, faultModuleCopy, FaultControl, faultEnv };
