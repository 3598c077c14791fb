// Creates a throw-away SoftHSM2 token for one jest run (no mocked HSM anywhere).
// The token lives in a private directory (on /dev/shm when it exists: key creation is ~20x faster
// than on disk) with its own softhsm2.conf, so the machine's global SoftHSM config is never touched.
// Exposes: SOFTHSM2_CONF, CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN, CIOP_TEST_SO_PIN, CIOP_TEST_DIR.
// Next to it, a throw-away NSS softokn database (issue 16, "Three tokens in CI") in CIOP_TEST_DIR/nss:
// CIOP_TEST_NSS_LIB, CIOP_TEST_NSS_PARAMS (C_Initialize library parameters), CIOP_TEST_NSS_TOKEN
// (label of the persistent token, the module's second slot), CIOP_TEST_NSS_PIN; or, when
// libsoftokn3.so is missing or the set-up fails, CIOP_TEST_NSS_SKIP with the reason (NSS tests skip).
//
// The token under test (issue 16, "Three tokens in CI"): CIOP_TEST_TOKEN=softhsm2 (default) | nss |
// p11-kit-rpc. The standard names CIOP_TEST_LIB, CIOP_TEST_LIB_PARAMS (C_Initialize library
// parameters, empty when none), CIOP_TEST_TOKEN_LABEL, CIOP_TEST_PIN and CIOP_TEST_TOKEN_KIND point
// at that token; the SoftHSM token stays reachable as CIOP_TEST_SOFTHSM_LIB / _LABEL / _PIN (plus
// SOFTHSM2_CONF) for tests that need SoftHSM itself. p11-kit-rpc: `p11-kit server` is started here
// in front of the SoftHSM token (stopped in global-teardown.cjs) and P11_KIT_SERVER_ADDRESS is set.
// A token that cannot be set up gives CIOP_TEST_TOKEN_SKIP=<reason>: tools/jest/token-skip.cjs
// then skips every test of the run, printing the reason.
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
  Object.assign(process.env, setUpNss(dir));
  Object.assign(process.env, {
    SOFTHSM2_CONF: conf,
    CIOP_TEST_DIR: dir,
    CIOP_TEST_LIB: lib,
    CIOP_TEST_LIB_PARAMS: "",
    CIOP_TEST_TOKEN_LABEL: label,
    CIOP_TEST_PIN: pin,
    CIOP_TEST_SO_PIN: soPin,
    CIOP_TEST_SOFTHSM_LIB: lib,
    CIOP_TEST_SOFTHSM_LABEL: label,
    CIOP_TEST_SOFTHSM_PIN: pin,
    CIOP_TEST_TOKEN_KIND: "softhsm2",
  });
  await selectTokenUnderTest(dir);
  // CI installs every token (CIOP_TEST_REQUIRE_TOKENS=1 in .ci/run): there a token that cannot be
  // set up fails the run instead of skipping its tests, so a lost package cannot turn green.
  if (process.env.CIOP_TEST_REQUIRE_TOKENS === "1") {
    const missing = process.env.CIOP_TEST_TOKEN_SKIP || process.env.CIOP_TEST_NSS_SKIP;
    if (missing) throw new Error(`CIOP_TEST_REQUIRE_TOKENS=1 and a test token is unavailable: ${missing}`);
  }
  // run-bounded.cjs asks for the skip reason, to record it in the token run's results file.
  if (process.env.CIOP_TEST_TOKEN_SKIP && process.env.CIOP_TEST_SKIP_FILE) fs.writeFileSync(process.env.CIOP_TEST_SKIP_FILE, process.env.CIOP_TEST_TOKEN_SKIP);
};

const TOKEN_KINDS = ["softhsm2", "nss", "p11-kit-rpc"];

/** Points the standard CIOP_TEST_* names at the token named by CIOP_TEST_TOKEN (see the header). */
async function selectTokenUnderTest(dir) {
  const kind = process.env.CIOP_TEST_TOKEN || "softhsm2";
  if (!TOKEN_KINDS.includes(kind)) throw new Error(`CIOP_TEST_TOKEN must be one of ${TOKEN_KINDS.join(", ")}, got "${kind}"`);
  process.env.CIOP_TEST_TOKEN_KIND = kind;
  delete process.env.CIOP_TEST_TOKEN_SKIP;
  if (kind === "nss") {
    if (process.env.CIOP_TEST_NSS_SKIP) {
      process.env.CIOP_TEST_TOKEN_SKIP = process.env.CIOP_TEST_NSS_SKIP;
      return;
    }
    Object.assign(process.env, {
      CIOP_TEST_LIB: process.env.CIOP_TEST_NSS_LIB,
      CIOP_TEST_LIB_PARAMS: process.env.CIOP_TEST_NSS_PARAMS,
      CIOP_TEST_TOKEN_LABEL: process.env.CIOP_TEST_NSS_TOKEN,
      CIOP_TEST_PIN: process.env.CIOP_TEST_NSS_PIN,
    });
  } else if (kind === "p11-kit-rpc") {
    const { startP11KitServer, findP11Kit } = require("../p11-kit-rpc/start.cjs");
    const why = findP11Kit();
    if (why) {
      process.env.CIOP_TEST_TOKEN_SKIP = why;
      return;
    }
    try {
      const srv = await startP11KitServer({
        module: process.env.CIOP_TEST_SOFTHSM_LIB,
        token: process.env.CIOP_TEST_SOFTHSM_LABEL,
        dir: path.join(dir, "p11-kit"),
        env: { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF },
      });
      globalThis.__ciopP11KitServer = srv;
      Object.assign(process.env, srv.env, { CIOP_TEST_LIB: srv.clientLibrary, CIOP_TEST_LIB_PARAMS: "" });
    } catch (err) {
      process.env.CIOP_TEST_TOKEN_SKIP = `p11-kit server could not be started: ${err.message}`;
    }
  }
}

const NSS_LIB_CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
  "/usr/lib/aarch64-linux-gnu/libsoftokn3.so",
  "/usr/lib64/libsoftokn3.so",
  "/usr/lib/libsoftokn3.so",
];

// Initialises a fresh NSS database without certutil, as the PKCS#11 reference shows: RW session on
// the persistent slot, SO login with the empty password, C_InitPIN, then a user login to check it.
// Runs in a child process so this (jest's) process never loads the module.
const NSS_INIT = `
const P = require(process.env.PKCS11JS);
const p = new P.PKCS11();
p.load(process.env.NSS_LIB);
p.C_Initialize({ libraryParameters: process.env.NSS_PARAMS, flags: P.CKF_OS_LOCKING_OK });
try {
  const slots = p.C_GetSlotList(true);
  if (slots.length < 2) throw new Error("NSS softokn shows " + slots.length + " slot(s), expected 2");
  const slot = slots[1];
  const s = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  p.C_Login(s, P.CKU_SO, "");
  p.C_InitPIN(s, process.env.NSS_PIN);
  p.C_Logout(s);
  p.C_Login(s, P.CKU_USER, process.env.NSS_PIN);
  p.C_Logout(s);
  p.C_CloseSession(s);
  process.stdout.write(p.C_GetTokenInfo(slot).label.replace(/[\\s\\0]+$/, ""));
} finally {
  p.C_Finalize();
}
`;

function setUpNss(dir) {
  const lib = NSS_LIB_CANDIDATES.find((p) => fs.existsSync(p));
  if (!lib) return { CIOP_TEST_NSS_SKIP: "NSS softokn (libsoftokn3.so, Debian libnss3) is not installed" };
  try {
    const nssDir = path.join(dir, "nss");
    fs.mkdirSync(nssDir, { mode: 0o700 });
    const params = `configdir='sql:${nssDir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=noModDB`;
    const pin = crypto.randomBytes(8).toString("hex");
    const pkcs11js = require.resolve("pkcs11js", { paths: [path.join(__dirname, "../../packages/hsm")] });
    const label = execFileSync(process.execPath, ["-e", NSS_INIT], {
      env: { ...process.env, PKCS11JS: pkcs11js, NSS_LIB: lib, NSS_PARAMS: params, NSS_PIN: pin },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    }).toString();
    return { CIOP_TEST_NSS_LIB: lib, CIOP_TEST_NSS_PARAMS: params, CIOP_TEST_NSS_TOKEN: label, CIOP_TEST_NSS_PIN: pin };
  } catch (err) {
    const detail = String(err.stderr || err.message || err)
      .trim()
      .split("\n")
      .slice(-3)
      .join(" ");
    return { CIOP_TEST_NSS_SKIP: `the NSS softokn test database could not be created: ${detail}` };
  }
}
