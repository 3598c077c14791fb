// What @ciop/hsm's probe finds on the jest run's token under test (Hsm.capabilities(): mechanisms,
// AES-GCM, AES key wraps, …), known while jest collects a file's tests, so a suite can skip what
// the token cannot do, with the reason printed, decided by the probe and never by the token's name
// (issue 16, "Three tokens in CI": Debian 12's p11-kit 0.24.1 RPC drops AES-GCM and the AES key wraps).
//
//   const { tokenCapabilities } = require("<root>/tools/jest/token-probe.cjs");
//   tokenCapabilities()  -> the capabilities as JSON data (mechanisms are numbers)
//
// The probe runs once per jest run and token, in a child process (`node token-probe.cjs --probe`)
// that loads @ciop/hsm from its TypeScript sources (never a stale dist/), and is cached in the run's
// CIOP_TEST_DIR. Token from CIOP_TEST_LIB, CIOP_TEST_LIB_PARAMS, CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN.
"use strict";
const { execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

function tokenCapabilities() {
  const key = [process.env.CIOP_TEST_LIB, process.env.CIOP_TEST_LIB_PARAMS ?? "", process.env.CIOP_TEST_TOKEN_LABEL].join("\0");
  const cache = path.join(process.env.CIOP_TEST_DIR, `probe-${crypto.createHash("sha256").update(key).digest("hex").slice(0, 16)}.json`);
  try {
    return JSON.parse(fs.readFileSync(cache, "utf8"));
  } catch {
    /* not probed yet in this run (or a parallel writer's half-written file): probe */
  }
  const out = execFileSync(process.execPath, [__filename, "--probe"], { env: process.env, encoding: "utf8", timeout: 60_000 });
  const caps = JSON.parse(out);
  const tmp = `${cache}.${process.pid}`;
  fs.writeFileSync(tmp, out);
  fs.renameSync(tmp, cache);
  return caps;
}

/** The child: @ciop/hsm from src (tools/jest/ts-register.cjs). */
async function probe() {
  require("./ts-register.cjs");
  const { Hsm } = require("@ciop/hsm");
  const params = process.env.CIOP_TEST_LIB_PARAMS;
  const hsm = await Hsm.open({
    library: process.env.CIOP_TEST_LIB,
    ...(params ? { libraryParameters: params } : {}),
    token: process.env.CIOP_TEST_TOKEN_LABEL,
    pin: { value: process.env.CIOP_TEST_PIN },
  });
  try {
    process.stdout.write(JSON.stringify(hsm.capabilities()));
  } finally {
    await hsm.close();
  }
}

if (require.main === module && process.argv[2] === "--probe") {
  probe().catch((err) => {
    process.stderr.write(`token probe failed: ${err?.message ?? err}\n`);
    process.exit(1);
  });
}

module.exports = { tokenCapabilities };
