/**
 * The command line itself: help for each command, version, no arguments, the config file and env
 * vars selecting the HSM, --out-dir and --force.
 */
import { testToken } from "@ciop/testkit";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, makeWrappingKeys, pyVerify, runCli, tempDir, type WrappingKeys } from "./helpers.js";

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
  expect(r.stdout).not.toContain("\u001b[");
  const short = await runCli(["-h"], { cwd, noHsmArgs: true });
  expect(short.stdout).toBe(r.stdout);
});

test.each([
  ["inspect", /citool inspect <wrapKey>/],
  ["keys", /citool keys list/],
])("citool %s --help", async (cmd, re) => {
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
  const t = testToken();
  const cwd = tempDir("cfg");
  writeFileSync(join(cwd, "pin.txt"), `${t.pin}\n`, { mode: 0o600 });
  writeFileSync(
    join(cwd, "citool.toml"),
    `[hsm]\nlibrary = "${t.lib}"\ntoken = "${t.label}"\npin_file = "pin.txt"\n\n[output]\ndir = "out"\n\n[audit]\nlog = "audit.log"\n`,
  );
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(cwd, "out"));
  const r = await runCli(["--config", "citool.toml", "aws", "cfg-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], {
    cwd,
    noHsmArgs: true,
    env: { CIOP_PIN: undefined },
  });
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(existsSync(join(cwd, "out", "cfg-1-wrapped"))).toBe(true);
  expect(readFileSync(join(cwd, "audit.log"), "utf8")).toContain('"operation":"export"');

  const cwd2 = tempDir("env");
  const r2 = await runCli(["aws", "cfg-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], {
    cwd: cwd2,
    noHsmArgs: true,
    env: { CIOP_PKCS11_LIB: t.lib, CIOP_TOKEN: t.label, CIOP_PIN: undefined, CIOP_PIN_FILE: join(cwd, "pin.txt") },
  });
  expect([r2.code, r2.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(r2.stdout).toMatch(/Reused AES-256 key 'cfg-1'/);
});

test("-m selects the token by label; --out-dir and --force", async () => {
  const t = testToken();
  const cwd = tempDir("mod");
  const first = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", "."], {
    cwd,
    noHsmArgs: true,
  });
  expect(first.code).toBe(0);
  const before = readFileSync(join(cwd, "mod-1-wrapped"));
  const refused = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], { cwd, noHsmArgs: true });
  expect(refused.code).toBe(2);
  const forced = await runCli(["--hsm-lib", t.lib, "-m", t.label, "aws", "mod-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--force"], {
    cwd,
    noHsmArgs: true,
  });
  expect(forced.code).toBe(0);
  const after = readFileSync(join(cwd, "mod-1-wrapped"));
  expect(after.equals(before)).toBe(false); // OAEP is randomised: a new file...
  const a = await pyVerify({ file: join(cwd, "mod-1-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  writeFileSync(join(cwd, "old"), before);
  const b = await pyVerify({ file: join(cwd, "old"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  expect(a.kcv).toBe(b.kcv); // ...of the same key
});

async function tokenSerial(): Promise<string> {
  const t = testToken();
  const { execFileP } = await import("./helpers.js");
  const { stdout } = await execFileP("pkcs11-tool", ["--module", t.lib, "-L"]);
  const block = stdout.split(/\n(?=Slot )/).find((b) => new RegExp(`token label\\s*:\\s*${t.label}\\s*$`, "m").test(b));
  const serial = /serial num\s*:\s*(\S+)/.exec(block ?? "")?.[1];
  if (!serial) throw new Error(`pkcs11-tool -L shows no serial for ${t.label}:\n${stdout}`);
  return serial;
}

test("the token by serial (--token), by seed module number (-m 1), by softcard name (-S); long option names", async () => {
  const t = testToken();
  const serial = await tokenSerial();
  const runs: string[][] = [
    ["--hsm-lib", t.lib, "--token", serial, "aws", "sel-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"],
    // module numbers count from 1; the test library has one initialised token
    ["--hsm-lib", t.lib, "-m", "1", "aws", "sel-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"],
    ["--hsm-lib", t.lib, "-S", t.label, "aws", "sel-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"],
    [
      "--hsm-lib",
      t.lib,
      "--module",
      t.label,
      "--module-protection",
      "microsoft-azure",
      "sel-2",
      keys.pubPem[2048]!,
      "--azure-kek",
      "https://citool-cli.managedhsm.azure.net/keys/kek/0123456789abcdef0123456789abcdef",
      "--key-type",
      "RSA-2048",
    ],
  ];
  for (const args of runs) {
    const r = await runCli([...args, "--json"], { cwd: tempDir("sel"), noHsmArgs: true });
    expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
    const doc = JSON.parse(r.stdout);
    expect(doc.key.token).toEqual({ label: t.label, serial });
  }
});

test("--pin-file, --out-dir into another directory, CIOP_CONFIG, and the default config path under $XDG_CONFIG_HOME", async () => {
  const t = testToken();
  const cwd = tempDir("pinfile");
  writeFileSync(join(cwd, "pin"), `${t.pin}\n`, { mode: 0o600 });
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(cwd, "exports"));
  const r = await runCli(["aws", "pf-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--pin-file", "pin", "--out-dir", "exports"], {
    cwd,
    env: { CIOP_PIN: undefined },
  });
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(existsSync(join(cwd, "exports", "pf-1-wrapped"))).toBe(true);
  expect(existsSync(join(cwd, "pf-1-wrapped"))).toBe(false);
  expect(r.stdout).toContain("./exports/pf-1-wrapped");

  // CIOP_CONFIG names the file; without it, $XDG_CONFIG_HOME/ciop/citool.toml is read
  const toml = `[hsm]\nlibrary = "${t.lib}"\ntoken = "${t.label}"\npin_file = "${join(cwd, "pin")}"\n`;
  writeFileSync(join(cwd, "elsewhere.toml"), toml);
  const envOut = tempDir("pf-env");
  const viaEnv = await runCli(["aws", "pf-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], {
    cwd,
    noHsmArgs: true,
    env: { CIOP_PIN: undefined, CIOP_CONFIG: join(cwd, "elsewhere.toml"), CIOP_OUT_DIR: envOut, CIOP_AUDIT_LOG: join(envOut, "env-audit.log") },
  });
  expect([viaEnv.code, viaEnv.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(existsSync(join(envOut, "pf-1-wrapped"))).toBe(true);
  expect(readFileSync(join(envOut, "env-audit.log"), "utf8")).toContain('"key":"pf-1"');
  mkdirSync(join(cwd, ".xdg-config", "ciop"), { recursive: true });
  writeFileSync(join(cwd, ".xdg-config", "ciop", "citool.toml"), toml);
  const viaXdg = await runCli(["aws", "pf-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", tempDir("pf-xdg")], {
    cwd,
    noHsmArgs: true,
    env: { CIOP_PIN: undefined },
  });
  expect([viaXdg.code, viaXdg.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(viaXdg.stdout).toMatch(/Reused AES-256 key 'pf-1' on token 'ciop-test'/);
});

test("citool help <command> is the same as <command> --help", async () => {
  const cwd = tempDir("help3");
  for (const cmd of ["keys", "inspect"]) {
    const a = await runCli(["help", cmd], { cwd, noHsmArgs: true });
    const b = await runCli([cmd, "--help"], { cwd, noHsmArgs: true });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  }
});

test("no HSM settings at all: the embedded token is made under $XDG_DATA_HOME/ciop (or --data-dir) and used", async () => {
  const cwd = tempDir("embedded");
  const env = { SOFTHSM2_CONF: undefined, CIOP_PIN: undefined };
  const r1 = await runCli(["aws", "emb-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--json"], { cwd, noHsmArgs: true, env });
  expect([r1.code, r1.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  const d1 = JSON.parse(r1.stdout);
  expect(d1.key.status).toBe("created");
  expect(d1.key.token.label).toBe("ciop");
  expect(existsSync(join(cwd, ".xdg-data", "ciop", "softhsm2.conf"))).toBe(true);
  const v1 = await pyVerify({ file: join(cwd, "emb-1-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  expect(v1.len).toBe(32);
  // the same token next time: the key is reused
  const out2 = tempDir("embedded-2");
  const r2 = await runCli(["aws", "emb-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--json", "--out-dir", out2], { cwd, noHsmArgs: true, env });
  expect(JSON.parse(r2.stdout).key.status).toBe("reused");
  const v2 = await pyVerify({ file: join(out2, "emb-1-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  expect(v2.kcv).toBe(v1.kcv);
  // --data-dir: another embedded token, which does not have that key yet
  const r3 = await runCli(
    ["aws", "emb-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--json", "--data-dir", "other-token", "--out-dir", tempDir("embedded-3")],
    { cwd, noHsmArgs: true, env },
  );
  expect(JSON.parse(r3.stdout).key.status).toBe("created");
  expect(existsSync(join(cwd, "other-token", "softhsm2.conf"))).toBe(true);
});
