/**
 * The command line itself: help for each command, version, no arguments, the config file and env
 * vars selecting the HSM, --out-dir and --force.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, makeWrappingKeys, pyVerify, runCli, tempDir, testEnv, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;

beforeAll(async () => {
  assertBuilt();
  keys = await makeWrappingKeys(join(tempDir("cli"), "wk"), [2048]);
}, 120_000);

test("--help shows the seed's usage line, every provider, and examples; exit 0", async () => {
  const cwd = tempDir("help");
  const r = await runCli(["--help"], { cwd, noHsmArgs: true });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("[-m MODULE] [-O CARDSET | -S SOFTCARD | -M] [-a AZUREKEK] [-k KEYTYPE]");
  expect(r.stdout).toMatch(/provider keyName wrapKey \[wrapAlg\]/);
  for (const p of ["aws", "google-compute-engine", "google-cloud-key-management", "microsoft-azure", "salesforce", "alibaba"]) expect(r.stdout).toContain(p);
  expect(r.stdout).toMatch(/examples:/);
  expect(r.stdout).not.toMatch(/\u001b\[/);
  const short = await runCli(["-h"], { cwd, noHsmArgs: true });
  expect(short.stdout).toBe(r.stdout);
});

test.each([["inspect", /citool inspect <wrapKey>/], ["keys", /citool keys list/]])("citool %s --help", async (cmd, re) => {
  const r = await runCli([cmd, "--help"], { cwd: tempDir("help2"), noHsmArgs: true });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(re);
  expect(r.stdout).toMatch(/examples:/);
});

test("--version prints the version; no arguments prints usage on stderr with exit 2", async () => {
  const cwd = tempDir("ver");
  const v = await runCli(["--version"], { cwd, noHsmArgs: true });
  expect(v.code).toBe(0);
  expect(v.stdout).toMatch(/^citool \d+\.\d+\.\d+/);
  const n = await runCli([], { cwd, noHsmArgs: true });
  expect(n.code).toBe(2);
  expect(n.stderr).toMatch(/^usage: citool/);
});

test("HSM selection from a TOML config file and from env vars, PIN from a file", async () => {
  const t = testEnv();
  const cwd = tempDir("cfg");
  writeFileSync(join(cwd, "pin.txt"), `${t.pin}\n`, { mode: 0o600 });
  writeFileSync(join(cwd, "citool.toml"), `[hsm]\nlibrary = "${t.lib}"\ntoken = "${t.label}"\npin_file = "pin.txt"\n\n[output]\ndir = "out"\n\n[audit]\nlog = "audit.log"\n`);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(cwd, "out"));
  const r = await runCli(["--config", "citool.toml", "aws", "cfg-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], { cwd, noHsmArgs: true, env: { CIOP_PIN: undefined } });
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(existsSync(join(cwd, "out", "cfg-1-wrapped"))).toBe(true);
  expect(readFileSync(join(cwd, "audit.log"), "utf8")).toContain('"operation":"export"');

  const cwd2 = tempDir("env");
  const r2 = await runCli(["aws", "cfg-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], {
    cwd: cwd2, noHsmArgs: true,
    env: { CIOP_PKCS11_LIB: t.lib, CIOP_TOKEN: t.label, CIOP_PIN: undefined, CIOP_PIN_FILE: join(cwd, "pin.txt") },
  });
  expect([r2.code, r2.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(r2.stdout).toMatch(/Reused AES-256 key 'cfg-1'/);
});

test("-m selects the token by label; --out-dir and --force", async () => {
  const t = testEnv();
  const cwd = tempDir("mod");
  const first = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", "."], { cwd, noHsmArgs: true });
  expect(first.code).toBe(0);
  const before = readFileSync(join(cwd, "mod-1-wrapped"));
  const refused = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], { cwd, noHsmArgs: true });
  expect(refused.code).toBe(2);
  const forced = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--force"], { cwd, noHsmArgs: true });
  expect(forced.code).toBe(0);
  const after = readFileSync(join(cwd, "mod-1-wrapped"));
  expect(after.equals(before)).toBe(false); // OAEP is randomised: a new file...
  const a = await pyVerify({ file: join(cwd, "mod-1-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  writeFileSync(join(cwd, "old"), before);
  const b = await pyVerify({ file: join(cwd, "old"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  expect(a.kcv).toBe(b.kcv); // ...of the same key
});
