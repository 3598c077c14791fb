// Creates a throw-away SoftHSM2 token for one jest run (no mocked HSM anywhere).
// The token lives in a private directory (on /dev/shm when it exists: key creation is ~20x faster
// than on disk) with its own softhsm2.conf, so the machine's global SoftHSM config is never touched.
// Exposes: SOFTHSM2_CONF, CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN, CIOP_TEST_SO_PIN, CIOP_TEST_DIR.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");
const { execFileSync } = require("node:child_process");

const SOFTHSM_LIB_CANDIDATES = [
  "/usr/lib/softhsm/libsofthsm2.so",
  "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
];

module.exports = async function globalSetup() {
  if (process.env.CIOP_TEST_DIR) return; // nested jest (e.g. a test spawning jest) reuses the outer token
  const lib = SOFTHSM_LIB_CANDIDATES.find((p) => fs.existsSync(p));
  if (!lib) throw new Error("SoftHSM2 is not installed: run `pnpm setup` (tools/setup.sh) first");
  const base = fs.existsSync("/dev/shm") && process.env.CIOP_TEST_TMPFS !== "0" ? "/dev/shm" : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, "ciop-test-"));
  const tokens = path.join(dir, "tokens");
  fs.mkdirSync(tokens, { mode: 0o700 });
  const conf = path.join(dir, "softhsm2.conf");
  fs.writeFileSync(
    conf,
    [
      `directories.tokendir = ${tokens}`,
      "objectstore.backend = file",
      "log.level = ERROR",
      "slots.removable = false",
      "slots.mechanisms = ALL",
      "library.reset_on_fork = false",
      "",
    ].join("\n"),
  );
  const label = "ciop-test";
  const pin = crypto.randomBytes(8).toString("hex");
  const soPin = crypto.randomBytes(8).toString("hex");
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", soPin, "--pin", pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: ["ignore", "ignore", "inherit"],
  });
  globalThis.__ciopCreatedTestDir = dir;
  Object.assign(process.env, {
    SOFTHSM2_CONF: conf,
    CIOP_TEST_DIR: dir,
    CIOP_TEST_LIB: lib,
    CIOP_TEST_TOKEN_LABEL: label,
    CIOP_TEST_PIN: pin,
    CIOP_TEST_SO_PIN: soPin,
  });
};
