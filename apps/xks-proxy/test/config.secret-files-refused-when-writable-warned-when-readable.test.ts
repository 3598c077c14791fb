/**
 * Issue 14, item 4: a `pin_file` or `secret_access_key_file` that anyone but its owner can write is
 * refused (whoever writes it chooses the secret); one every user can read, and a config file every
 * user can read while it holds secrets inline, are logged as warnings at start (and on reload).
 *
 * Before the fix all of these loaded without a word: a 0666 PIN file, a 0620 secret file, a 0644
 * config with inline secrets.
 */
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkSecretFile, loadConfig } from "../src/proxy-config.js";
import { startServer } from "../src/server.js";
import { ciopToml, replaceOrThrow, storeToml, testDir } from "./proxy-helpers.js";

const dir = testDir("config-secret-files");
const SECRET = "f".repeat(44);
const AKID = "BBBBBBBBBBBBBBBBBBBBBBBB";

function file(name: string, text: string, mode: number): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, mode); // (not through writeFileSync's mode, which the umask would trim)
  return f;
}

/** A config reading the PIN and the store secret from files, itself 0600. */
function configWith(pinMode: number, secretMode: number, name: string): string {
  file(`${name}.pin`, `${process.env.CIOP_TEST_PIN}\n`, pinMode);
  file(`${name}.secret`, `${SECRET}\n`, secretMode);
  const text = [
    "[hsm]",
    `library = "${process.env.CIOP_TEST_LIB}"`,
    `token = "${process.env.CIOP_TEST_TOKEN_LABEL}"`,
    `pin_file = "${name}.pin"`,
    "[[stores]]",
    'keys = ["k"]',
    "[[stores.credentials]]",
    `access_key_id = "${AKID}"`,
    `secret_access_key_file = "${name}.secret"`,
  ].join("\n");
  return file(`${name}.toml`, text, 0o600);
}

test.each([
  ["group-writable PIN file", 0o620, 0o600, /hsm\.pin_file: .*\.pin is group-writable \(mode 0620\)/],
  ["world-writable PIN file", 0o602, 0o600, /hsm\.pin_file: .*\.pin is world-writable \(mode 0602\)/],
  ["group-writable secret file", 0o600, 0o660, /stores\[0\]\.credentials\[0\]\.secret_access_key_file: .*\.secret is group-writable/],
  ["world-writable secret file", 0o600, 0o666, /secret_access_key_file: .*\.secret is world-writable/],
])("a %s is refused", async (_what, pinMode, secretMode, message) => {
  await expect(loadConfig(configWith(pinMode, secretMode, `w${pinMode}-${secretMode}`))).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringMatching(message),
  });
});

test("files readable by every user load with a warning each; owner-only and group-readable files without", async () => {
  const open = await loadConfig(configWith(0o644, 0o604, "readable"));
  expect(open.warnings).toEqual([
    expect.stringMatching(/^hsm\.pin_file: .*readable\.pin is readable by every user on this host \(mode 0644\)/),
    expect.stringMatching(/^stores\[0\]\.credentials\[0\]\.secret_access_key_file: .*readable\.secret is readable by every user/),
  ]);
  expect(open.stores[0]!.credentials[0]!.secretAccessKey).toBe(SECRET);
  expect((await loadConfig(configWith(0o600, 0o640, "private"))).warnings).toEqual([]);
});

test("checkSecretFile (for other secret files, e.g. the Salesforce route group's) refuses, warns or passes", () => {
  expect(() => checkSecretFile(file("h1", "x", 0o664), "[salesforce.auth] password hash file")).toThrow(
    /\[salesforce\.auth\] password hash file: .*h1 is group-writable/,
  );
  expect(checkSecretFile(file("h2", "x", 0o644), "hash")).toMatch(/readable by every user/);
  expect(checkSecretFile(file("h3", "x", 0o600), "hash")).toBeUndefined();
  expect(() => checkSecretFile(path.join(dir, "missing"), "hash")).toThrow(/hash: cannot read .*missing: ENOENT/);
});

test("a config file every user can read is warned about when it holds secrets inline, refused when anyone can write it", async () => {
  const inline = replaceOrThrow(
    ciopToml({ stores: storeToml("s", "/s", ["k"], [{ accessKeyId: AKID, secretAccessKey: SECRET }]) }),
    'pin_env = "CIOP_TEST_PIN"',
    `pin = "${process.env.CIOP_TEST_PIN}"`,
  );
  const readable = await loadConfig(file("inline.toml", inline, 0o644));
  expect(readable.warnings).toEqual([
    expect.stringMatching(
      /inline\.toml is readable by every user on this host \(mode 0644\) and holds secrets inline \(hsm\.pin, stores\[0\]\.credentials\[0\]\.secret_access_key\)/,
    ),
  ]);
  expect((await loadConfig(file("inline-private.toml", inline, 0o640))).warnings).toEqual([]);
  await expect(loadConfig(file("inline-open.toml", inline, 0o646))).rejects.toMatchObject({
    message: expect.stringMatching(/inline-open\.toml is world-writable/),
  });
  // the AWS sample format has its secrets inline by design: the same warning
  const sample = [
    "[server]",
    'ip = "127.0.0.1"',
    "port = 0",
    "[security]",
    "is_sigv4_auth_enabled = true",
    "is_tls_enabled = false",
    "is_mtls_enabled = false",
    "[[external_key_stores]]",
    'uri_path_prefix = ""',
    `sigv4_access_key_id = "${AKID}"`,
    `sigv4_secret_access_key = "${SECRET}"`,
    'xks_key_id_set = ["k"]',
    "[pkcs11]",
    'user_pin = "1234"',
  ].join("\n");
  expect((await loadConfig(file("settings.toml", sample, 0o604))).warnings).toEqual([
    expect.stringMatching(
      /settings\.toml is readable by every user .* \(pkcs11\.user_pin, external_key_stores\[0\]\.sigv4_secret_access_key\): restrict it \(chmod o-r\)$/,
    ),
  ]);
});

test("the server logs the warnings when it starts and after a reload", async () => {
  const inline = ciopToml({ stores: storeToml("s", "/s", ["k"], [{ accessKeyId: AKID, secretAccessKey: SECRET }]), healthKey: "secret-files-health" });
  const f = file("served.toml", inline, 0o644);
  const lines: string[] = [];
  const srv = await startServer(await loadConfig(f), { logSink: (l) => lines.push(l) });
  try {
    const warnings = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === "config-warning");
    expect(warnings()).toEqual([expect.objectContaining({ level: "warn", warning: expect.stringContaining("served.toml is readable by every user") })]);
    await srv.reload();
    expect(warnings()).toHaveLength(2);
    // never the secret itself
    expect(lines.join("\n")).not.toContain(SECRET);
  } finally {
    await srv.close();
  }
});
