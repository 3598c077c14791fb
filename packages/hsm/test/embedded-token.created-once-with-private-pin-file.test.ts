/**
 * With no configuration, the first use creates ciop's own SoftHSM2 token under the XDG data dir,
 * with its own softhsm2.conf and random PINs in a 0600 file; later uses reuse it, and two processes
 * starting at the same time still create exactly one token. Every case runs in child processes
 * (SoftHSM reads its config once per process) against a fresh temporary data dir.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { openTestHsm, runChild } from "./helpers.js";

const lib = () => process.env.CIOP_TEST_LIB!;

/** The environment of a user who configured nothing: no SoftHSM config, no ciop variables. */
function bareEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "SOFTHSM2_CONF" || k.startsWith("CIOP_") || k === "XDG_DATA_HOME") continue;
    env[k] = v;
  }
  return { ...env, CIOP_PKCS11_LIB: lib(), ...extra };
}
const tmp = (p: string) => mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, p));

test("two processes starting at once on an empty data dir create one token; PIN file 0600, dir 0700, own softhsm2.conf", async () => {
  const xdg = tmp("xdg-");
  const env = bareEnv({ XDG_DATA_HOME: xdg });
  const startAt = Date.now() + 1500;
  const [a, b] = await Promise.all([runChild({ startAt, countTokens: true }, env), runChild({ startAt, countTokens: true }, env)]);
  expect(a.json.error).toBeUndefined();
  expect(b.json.error).toBeUndefined();
  expect(a.json.token).toMatchObject({ embedded: true, label: "ciop", isSoftware: true });
  expect(b.json.token.serial).toBe(a.json.token.serial);
  expect(a.json.initialisedTokens).toEqual([{ label: "ciop", serial: a.json.token.serial }]);
  expect(b.json.initialisedTokens).toEqual([{ label: "ciop", serial: a.json.token.serial }]);

  const dir = path.join(xdg, "ciop");
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  const stateFile = path.join(dir, "token.json");
  expect(statSync(stateFile).mode & 0o777).toBe(0o600);
  const state = JSON.parse(readFileSync(stateFile, "utf8"));
  expect(state).toMatchObject({ version: 1, label: "ciop", serial: a.json.token.serial });
  expect(state.pin).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  expect(state.soPin).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  expect(state.pin).not.toBe(state.soPin);
  const conf = readFileSync(path.join(dir, "softhsm2.conf"), "utf8");
  expect(conf).toContain(`directories.tokendir = ${path.join(dir, "tokens")}`);

  // OpenSC's pkcs11-tool, pointed at that config, logs in with the stored user PIN and SO PIN
  const toolEnv = { ...bareEnv({}), SOFTHSM2_CONF: path.join(dir, "softhsm2.conf") };
  const user = execFileSync("pkcs11-tool", ["--module", lib(), "--token-label", "ciop", "--login", "--pin", state.pin, "--list-objects"], {
    env: toolEnv,
    encoding: "utf8",
  });
  expect(typeof user).toBe("string");
  expect(() =>
    execFileSync("pkcs11-tool", ["--module", lib(), "--token-label", "ciop", "--login", "--pin", "wrong-pin-000", "--list-objects"], {
      env: toolEnv,
      stdio: "pipe",
    }),
  ).toThrow(/CKR_PIN_INCORRECT/);
  // the SO PIN works too: the SO re-sets the user PIN (to the same value)
  execFileSync(
    "pkcs11-tool",
    ["--module", lib(), "--token-label", "ciop", "--login", "--login-type", "so", "--so-pin", state.soPin, "--init-pin", "--new-pin", state.pin],
    { env: toolEnv, stdio: "pipe" },
  );

  // a later use reuses the token and leaves the PIN file alone
  const before = readFileSync(stateFile, "utf8");
  const c = await runChild({ countTokens: true }, env);
  expect(c.json.token.serial).toBe(a.json.token.serial);
  expect(c.json.initialisedTokens).toHaveLength(1);
  expect(readFileSync(stateFile, "utf8")).toBe(before);
}, 60_000);

test("keys on the embedded token persist: one process creates, the next finds it", async () => {
  const env = bareEnv({ XDG_DATA_HOME: tmp("xdg-") });
  const first = await runChild({ getOrCreate: { name: "persisted", type: "AES-256" } }, env);
  expect(first.json).toMatchObject({ created: true, token: { embedded: true } });
  const second = await runChild({ find: "persisted", encrypt: "persisted" }, env);
  expect(second.json).toMatchObject({ found: { id: first.json.id, type: "AES-256" }, encrypt: { ok: true } });
}, 30_000);

test("without XDG_DATA_HOME the token lives in ~/.local/share/ciop; options.dataDir overrides both", async () => {
  const home = tmp("home-");
  const r = await runChild({}, bareEnv({ HOME: home }));
  expect(r.json.token.embedded).toBe(true);
  expect(existsSync(path.join(home, ".local/share/ciop/token.json"))).toBe(true);

  const xdg = tmp("xdg-");
  const dataDir = path.join(tmp("dd-"), "mine");
  const d = await runChild({ options: { dataDir } }, bareEnv({ XDG_DATA_HOME: xdg }));
  expect(d.json.token.embedded).toBe(true);
  expect(existsSync(path.join(dataDir, "token.json"))).toBe(true);
  expect(existsSync(path.join(xdg, "ciop"))).toBe(false);
}, 30_000);

test("a SOFTHSM2_CONF the user set wins over the embedded token (with CIOP_PIN)", async () => {
  const xdg = tmp("xdg-");
  const r = await runChild({}, bareEnv({ XDG_DATA_HOME: xdg, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, CIOP_PIN: process.env.CIOP_TEST_PIN }));
  expect(r.json.error).toBeUndefined();
  expect(r.json.token).toMatchObject({ embedded: false, label: process.env.CIOP_TEST_TOKEN_LABEL });
  expect(existsSync(path.join(xdg, "ciop"))).toBe(false);
  // the same from inside this process, for comparison
  const h = await openTestHsm();
  expect(h.token.serial).toBe(r.json.token.serial);
  await h.close();
}, 30_000);

test("a token whose PIN file was lost is reported, never silently replaced by a second token", async () => {
  const xdg = tmp("xdg-");
  const env = bareEnv({ XDG_DATA_HOME: xdg });
  const first = await runChild({}, env);
  expect(first.json.token.embedded).toBe(true);
  unlinkSync(path.join(xdg, "ciop", "token.json"));
  const second = await runChild({ countTokens: true }, env);
  expect(second.code).toBe(1);
  expect(second.json.error.code).toBe("ERR_CONFIG_INVALID");
  expect(second.json.error.message).toContain("PIN file is missing");
  expect(second.json.error.message).toContain(first.json.token.serial);
}, 30_000);
