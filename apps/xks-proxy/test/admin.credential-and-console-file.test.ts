/**
 * `xks-proxy credential new` and `xks-proxy store-json`: formats KMS demands, checked with regular
 * expressions written from the spec and with /usr/bin/python3 (json + base64), never by the code
 * under test; secrets go only where asked.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { admin, tempDir } from "./admin-helpers.js";

const AKID = /^[A-Z2-7]{20,30}$/;
const SECRET = /^[A-Za-z0-9+/=]{43,64}$/;

let dir: string;
beforeAll(() => {
  dir = tempDir("cred");
});

/** Independent parse + entropy check of a secret: python's base64 decoder, strict mode. */
function pythonSecretBytes(secret: string): number {
  const out = execFileSync("/usr/bin/python3", ["-c", "import base64,sys; print(len(base64.b64decode(sys.argv[1], validate=True)))", secret], {
    encoding: "utf8",
  });
  return Number(out.trim());
}

describe("credential new", () => {
  test("prints an access key id and a 256-bit secret in the formats KMS accepts, as TOML the proxy reads", async () => {
    const r = await admin(["credential", "new"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const akid = /^access_key_id = "([^"]+)"$/m.exec(r.out)?.[1];
    const secret = /^secret_access_key = "([^"]+)"$/m.exec(r.out)?.[1];
    expect(akid).toMatch(AKID);
    expect(secret).toMatch(SECRET);
    expect(pythonSecretBytes(secret!)).toBeGreaterThanOrEqual(32);
    expect(r.out).toContain("[[stores.credentials]]");
    // the sample-proxy spelling is offered too
    expect(r.out).toContain(`sigv4_access_key_id = "${akid}"`);
  });

  test("--json gives the pair; 20 runs give 20 different ids and secrets", async () => {
    const ids = new Set<string>();
    const secrets = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await admin(["credential", "new", "--json"]);
      expect(r.code).toBe(0);
      const py = execFileSync(
        "/usr/bin/python3",
        ["-c", "import json,sys; d=json.loads(sys.stdin.read()); print(d['accessKeyId']); print(d['secretAccessKey'])"],
        { input: r.out, encoding: "utf8" },
      )
        .trim()
        .split("\n");
      expect(py[0]).toMatch(AKID);
      expect(py[1]).toMatch(SECRET);
      ids.add(py[0]!);
      secrets.add(py[1]!);
    }
    expect(ids.size).toBe(20);
    expect(secrets.size).toBe(20);
  });

  test("--out writes a 0600 file, prints only the access key id, and refuses to overwrite", async () => {
    const f = join(dir, "store-a.credential");
    const r = await admin(["credential", "new", "--out", f, "--json"]);
    expect(r.code).toBe(0);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(f, "utf8")) as { accessKeyId: string; secretAccessKey: string };
    expect(r.out).toContain(doc.accessKeyId);
    expect(r.out + r.err).not.toContain(doc.secretAccessKey);
    const again = await admin(["credential", "new", "--out", f]);
    // issue 15's one exit-code rule (src/exit-code.ts, as citool): an output file in the way is the caller's to fix, 2 (before: 1)
    expect(again.code).toBe(2);
    expect(again.err).toContain("ERR_OUTPUT_EXISTS");
    expect(JSON.parse(readFileSync(f, "utf8"))).toEqual(doc);
  });

  test.each([
    ["no subcommand", ["credential"]],
    ["an unknown subcommand", ["credential", "rotate"]],
    ["an unknown option", ["credential", "new", "--bits", "512"]],
    ["an extra argument", ["credential", "new", "store-a"]],
  ])("%s is a usage error (exit 2)", async (_w, argv) => {
    const r = await admin(argv);
    expect(r.code).toBe(2);
  });
});

describe("store-json", () => {
  let ciopConfig: string;
  let sampleConfig: string;
  const credA1 = { id: "AAAAAAAAAAAAAAAAAAAAAAAA", secret: `${"a".repeat(43)}=` };
  const credA2 = { id: "BBBBBBBBBBBBBBBBBBBBBBBB", secret: "b".repeat(44) };
  const credB = { id: "CCCCCCCCCCCCCCCCCCCCCC22", secret: "c".repeat(64) };

  beforeAll(() => {
    ciopConfig = join(dir, "ciop.toml");
    writeFileSync(
      ciopConfig,
      `[hsm]\nlibrary = "${process.env.CIOP_TEST_LIB}"\ntoken = "${process.env.CIOP_TEST_TOKEN_LABEL}"\npin_env = "CIOP_TEST_PIN"\n\n` +
        `[[stores]]\nname = "tenant-a"\nuri_prefix = "/tenant-a/xks"\nkeys = ["k1"]\n` +
        `[[stores.credentials]]\naccess_key_id = "${credA1.id}"\nsecret_access_key = "${credA1.secret}"\n` +
        `[[stores.credentials]]\naccess_key_id = "${credA2.id}"\nsecret_access_key = "${credA2.secret}"\n\n` +
        `[[stores]]\nname = "root"\nuri_prefix = ""\nkeys = ["k2"]\n` +
        `[[stores.credentials]]\naccess_key_id = "${credB.id}"\nsecret_access_key = "${credB.secret}"\n`,
    );
    sampleConfig = join(dir, "settings_softhsmv2.toml");
    writeFileSync(
      sampleConfig,
      `[server]\nip = "0.0.0.0"\nport = 80\nregion = "us-east-1"\nservice = "kms-xks-proxy"\n\n[security]\nis_sigv4_auth_enabled = true\nis_tls_enabled = false\nis_mtls_enabled = false\n\n` +
        `[[external_key_stores]]\nuri_path_prefix = "/example/uri/path/prefix"\nsigv4_access_key_id = "${credB.id}"\nsigv4_secret_access_key = "${credB.secret}"\nxks_key_id_set = ["foo"]\n\n` +
        `[pkcs11]\nsession_pool_max_size = 30\nuser_pin = "1234"\nPKCS11_HSM_MODULE = "${process.env.CIOP_TEST_LIB}"\n`,
    );
  });

  /** The console file, parsed by python; exactly the fields KMS reads. */
  function consoleFile(text: string): { XksProxyUriPath: string; XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string } } {
    const out = execFileSync(
      "/usr/bin/python3",
      ["-c", "import json,sys; d=json.loads(sys.stdin.read()); print(json.dumps([sorted(d), sorted(d['XksProxyAuthenticationCredential']), d]))"],
      { input: text, encoding: "utf8" },
    );
    const [top, inner, doc] = JSON.parse(out) as [string[], string[], ReturnType<typeof consoleFile>];
    expect(top).toEqual(["XksProxyAuthenticationCredential", "XksProxyUriPath"]);
    expect(inner).toEqual(["AccessKeyId", "RawSecretAccessKey"]);
    expect(doc.XksProxyUriPath).toMatch(/^[A-Za-z0-9/_-]{1,128}$/);
    expect(doc.XksProxyUriPath).toMatch(/\/kms\/xks\/v1$/);
    return doc;
  }

  test("a store with two credentials: the newest (last) by default, the other with --access-key-id", async () => {
    const r = await admin(["store-json", "--config", ciopConfig, "--store", "tenant-a"]);
    expect(r.code).toBe(0);
    const d = consoleFile(r.out);
    expect(d.XksProxyUriPath).toBe("/tenant-a/xks/kms/xks/v1");
    expect(d.XksProxyAuthenticationCredential).toEqual({ AccessKeyId: credA2.id, RawSecretAccessKey: credA2.secret });
    const old = await admin(["store-json", "--config", ciopConfig, "--store", "/tenant-a/xks", "--access-key-id", credA1.id]);
    expect(consoleFile(old.out).XksProxyAuthenticationCredential.AccessKeyId).toBe(credA1.id);
  });

  test("a store without prefix gives /kms/xks/v1", async () => {
    const r = await admin(["store-json", "--config", ciopConfig, "--store", "root"]);
    expect(r.code).toBe(0);
    expect(consoleFile(r.out).XksProxyUriPath).toBe("/kms/xks/v1");
  });

  test("the AWS sample proxy's settings TOML (via XKS_PROXY_SETTINGS_TOML) works unchanged", async () => {
    const saved = process.env.XKS_PROXY_SETTINGS_TOML;
    process.env.XKS_PROXY_SETTINGS_TOML = sampleConfig;
    try {
      const r = await admin(["store-json"]);
      expect(r.code).toBe(0);
      const d = consoleFile(r.out);
      expect(d.XksProxyUriPath).toBe("/example/uri/path/prefix/kms/xks/v1");
      expect(d.XksProxyAuthenticationCredential).toEqual({ AccessKeyId: credB.id, RawSecretAccessKey: credB.secret });
    } finally {
      if (saved === undefined) delete process.env.XKS_PROXY_SETTINGS_TOML;
      else process.env.XKS_PROXY_SETTINGS_TOML = saved;
    }
  });

  test("--out writes a 0600 file and keeps the secret off stdout", async () => {
    const f = join(dir, "tenant-a.json");
    const r = await admin(["store-json", "--config", ciopConfig, "--store", "tenant-a", "--out", f]);
    expect(r.code).toBe(0);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(consoleFile(readFileSync(f, "utf8")).XksProxyAuthenticationCredential.RawSecretAccessKey).toBe(credA2.secret);
    expect(r.out + r.err).not.toContain(credA2.secret);
  });

  test.each([
    ["two stores and no --store", 2, ["--config", "CIOP"], "choose one with --store"],
    ["an unknown store", 2, ["--config", "CIOP", "--store", "nope"], "no key store 'nope'"],
    ["an access key id the store lacks", 2, ["--config", "CIOP", "--store", "root", "--access-key-id", "AAAAAAAAAAAAAAAAAAAAAAAA"], "no credential"],
    ["no config at all", 2, [], "needs the proxy config"],
    // issue 15's one exit-code rule: a missing or invalid configuration exits 2, as in citool (before: 1)
    ["a missing config file", 2, ["--config", "/nonexistent/x.toml"], "ERR_CONFIG_INVALID"],
  ])("%s: exit %i, no secret printed", async (_w, code, argv, msg) => {
    const saved = { a: process.env.XKS_PROXY_CONFIG, b: process.env.XKS_PROXY_SETTINGS_TOML };
    delete process.env.XKS_PROXY_CONFIG;
    delete process.env.XKS_PROXY_SETTINGS_TOML;
    try {
      const r = await admin(["store-json", ...argv.map((a) => (a === "CIOP" ? ciopConfig : a))]);
      expect(r.code).toBe(code);
      expect(r.err).toContain(msg);
      expect(r.out).toBe("");
      for (const s of [credA1.secret, credA2.secret, credB.secret]) expect(r.err).not.toContain(s);
    } finally {
      if (saved.a !== undefined) process.env.XKS_PROXY_CONFIG = saved.a;
      if (saved.b !== undefined) process.env.XKS_PROXY_SETTINGS_TOML = saved.b;
    }
  });
});

describe("help and dispatch", () => {
  test.each([["keys"], ["credential"], ["store-json"]])("'%s --help' explains the command with an example (exit 0)", async (cmd) => {
    const r = await admin([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`xks-proxy ${cmd}`);
    expect(r.out).toMatch(/Examples?:/);
  });

  test("'admin <command>' is the same command; 'admin' alone prints the overview with exit 2", async () => {
    const r = await admin(["admin", "credential", "new", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).accessKeyId).toMatch(AKID);
    const bare = await admin(["admin"]);
    expect(bare.code).toBe(2);
    expect(bare.out).toContain("xks-proxy keys create");
    const unknown = await admin(["admin", "frobnicate"]);
    expect(unknown.code).toBe(2);
  });
});
