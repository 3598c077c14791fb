/**
 * The xks-proxy command line (src/main.ts in its own process) and issue 15's one exit-code rule
 * for both apps (src/exit-code.ts; citool's is apps/citool/src/errors.ts): --help exits 0; usage
 * errors and a missing or invalid configuration exit 2 (before issue 15 `serve` exited 1 on an
 * invalid config, where citool exits 2); a failure while running, such as a PKCS#11 library that
 * cannot be loaded, exits 1. Each with one line on stderr and no secrets.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { SUPPORT, ciopToml, storeToml, testDir } from "./proxy-helpers.js";

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(SUPPORT, "run-proxy.cjs"), ...args],
      { env: { ...process.env, XKS_PROXY_CONFIG: undefined, XKS_PROXY_SETTINGS_TOML: undefined, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

test("--help exits 0; unknown options and commands exit 2 with the usage", async () => {
  const help = await cli(["--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/usage: xks-proxy \[serve\] \[--config FILE\]/);
  for (const args of [["serve", "--bogus"], ["frobnicate"], ["serve", "--config"]]) {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: xks-proxy/);
  }
});

test("a missing or invalid configuration exits 2 with the reason, without echoing secrets", async () => {
  const dir = testDir("cli");
  const missing = await cli(["serve", "--config", path.join(dir, "nope.toml")]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/ERR_CONFIG_INVALID: cannot read the configuration file/);
  const bad = path.join(dir, "bad.toml");
  const secret = "s3cr3t/s3cr3t/s3cr3t/s3cr3t/s3cr3t/s3cr3t/AB=";
  writeFileSync(
    bad,
    `[[stores]]\nuri_prefix = "/a/xks"\nkeys = ["k"]\n[[stores.credentials]]\naccess_key_id = "not-base32"\nsecret_access_key = "${secret}"\n`,
  );
  const invalid = await cli(["serve", "--config", bad]);
  expect(invalid.code).toBe(2);
  expect(invalid.stderr).toMatch(/ERR_CONFIG_INVALID: stores\[0\]\.credentials\[0\]: an access key id must be/);
  expect(invalid.stderr).not.toContain(secret);
  const viaEnv = await cli([], { XKS_PROXY_SETTINGS_TOML: path.join(dir, "also-missing.toml") });
  expect(viaEnv.code).toBe(2);
  expect(viaEnv.stderr).toContain("also-missing.toml");
});

test("a valid configuration whose PKCS#11 library cannot be loaded is a runtime failure: exit 1", async () => {
  const dir = testDir("cli-runtime");
  const file = path.join(dir, "no-lib.toml");
  const { generateXksCredential } = await import("@ciop/xks");
  writeFileSync(
    file,
    ciopToml({ stores: storeToml("s", "", ["k"], [generateXksCredential()]), healthKey: "cli-health" }).replace(
      /library = "[^"]*"/,
      `library = "${path.join(dir, "no-such-pkcs11.so")}"`,
    ),
  );
  const r = await cli(["serve", "--config", file]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ERR_HSM_LIBRARY/);
});
