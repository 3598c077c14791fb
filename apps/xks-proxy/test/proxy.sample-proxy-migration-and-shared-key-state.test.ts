/**
 * Migration from the AWS sample proxy and stateless scale-out:
 * - its settings TOML is read as-is (directly and via XKS_PROXY_SETTINGS_TOML);
 * - ciphertexts made with its hashed-AAD scheme (computed here with python3-cryptography from a
 *   known key imported into the token with raw PKCS#11) decrypt when compatibility is on;
 * - a key disabled through one instance's Hsm is refused by a second proxy process sharing the
 *   token within 1 s, and re-enabled the same way; SIGHUP reloads that process's credentials.
 * Issue 16: runs on every token. Before, on NSS softokn the proxies started from the sample settings
 * failed (C_Initialize CKR_ARGUMENTS_BAD: that format has no library parameters, so they are added
 * to the loaded config here, as for the token label); on p11-kit-rpc every proxy refused to start
 * without CKM_AES_GCM (now: the file is skipped, with the probe's reason printed).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { generateXksCredential, type XksCredential } from "@ciop/xks";
import { loadConfig, type ProxyConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { SUPPORT, b64, ciopToml, createRawAesKey, md, post, replaceOrThrow, skipFileWithoutGcm, sleep, storeToml, testDir } from "./proxy-helpers.js";

skipFileWithoutGcm("sample-proxy migration and shared key state");

/** The token under test's C_Initialize library parameters (NSS softokn), which the sample format cannot name. */
function withTokenParameters(cfg: ProxyConfig): void {
  if (process.env.CIOP_TEST_LIB_PARAMS) cfg.hsm.libraryParameters = process.env.CIOP_TEST_LIB_PARAMS;
}

const SAMPLE_AKID = "AKIA4GBY3I6JCE5M2HPM";
const SAMPLE_SECRET = randomBytes(32).toString("base64");
const SAMPLE_METADATA = Buffer.from("v0.0.1");
const KEY_HEX = randomBytes(32).toString("hex");

/** A settings file in the AWS sample proxy's own format (its section and key names). */
function sampleSettings(port: number, ping: number): string {
  return `[server]
ip = "127.0.0.1"
port = ${port}
port_http_ping = ${ping}
region = "us-east-1"
service = "kms-xks-proxy"
ciphertext_metadata_b64 = "${b64(SAMPLE_METADATA)}"

[server.tcp_keepalive]
tcp_keepalive_secs = 60
tcp_keepalive_retries = 3
tcp_keepalive_interval_secs = 1

[tracing]
is_stdout_writer_enabled = true
is_file_writer_enabled = false
level = "INFO"
directory = "/var/local/xks-proxy/logs"
file_prefix = "xks-proxy.log"
rotation_kind = "HOURLY"

[security]
is_sigv4_auth_enabled = true
is_tls_enabled = false
is_mtls_enabled = false

[tls]
tls_cert_pem = "tls/server_cert.pem"
tls_key_pem = "tls/server_key.pem"
mtls_client_ca_pem = "tls/client_ca.pem"
mtls_client_dns_name = "cks.kms.us-east-1.amazonaws.com"

[[external_key_stores]]
uri_path_prefix = "/example/uri/path/prefix"
sigv4_access_key_id = "${SAMPLE_AKID}"
sigv4_secret_access_key = "${SAMPLE_SECRET}"
xks_key_id_set = ["mig-foo", "mig-bar"]

[pkcs11]
session_pool_max_size = 30
session_pool_timeout_milli = 0
session_eager_close = false
user_pin = "${process.env.CIOP_TEST_PIN}"
PKCS11_HSM_MODULE = "${process.env.CIOP_TEST_LIB}"
context_read_timeout_milli = 10

[limits]
max_plaintext_in_base64 = 8192
max_aad_in_base64 = 16384

[hsm_capabilities]
can_generate_iv = false
is_zero_iv_required = false
`;
}

/** The sample proxy's AES-GCM input AAD, computed independently in Python. */
function sampleProxyEncrypt(plaintext: Buffer, aad: Buffer | undefined, ctm: Buffer | undefined): Record<string, string> {
  const py = `
import sys, os, json, base64, hashlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes.fromhex(sys.argv[1]); pt = base64.b64decode(sys.argv[2])
aad = None if sys.argv[3] == "-" else base64.b64decode(sys.argv[3])
ctm = b"" if sys.argv[4] == "-" else base64.b64decode(sys.argv[4])
full = len(aad or b"").to_bytes(2, "big") + (hashlib.sha256(aad).digest() if aad is not None else b"") + bytes([len(ctm)]) + ctm
iv = os.urandom(12)
out = AESGCM(key).encrypt(iv, pt, full)
print(json.dumps({"ciphertext": base64.b64encode(out[:-16]).decode(), "authenticationTag": base64.b64encode(out[-16:]).decode(), "initializationVector": base64.b64encode(iv).decode()}))
`;
  const out = execFileSync("/usr/bin/python3", ["-c", py, KEY_HEX, b64(plaintext), aad ? b64(aad) : "-", ctm ? b64(ctm) : "-"]).toString();
  return JSON.parse(out) as Record<string, string>;
}

let dir: string;
let sampleFile: string;
let migrated: RunningServer;
/** The migrated proxy's log lines. */
const migrationLog: string[] = [];

beforeAll(async () => {
  dir = testDir("migration");
  sampleFile = path.join(dir, "settings_softhsmv2.toml");
  writeFileSync(sampleFile, sampleSettings(80, 80));
  createRawAesKey("mig-foo", KEY_HEX, { encrypt: true, decrypt: true });
});

afterAll(async () => {
  await migrated?.close();
});

/** The sample settings with the sample's Oso secondary authorization on, written to oso.toml; returns the path. */
function writeOsoSettings(): string {
  const withOso = replaceOrThrow(
    sampleSettings(80, 80),
    "is_mtls_enabled = false\n",
    'is_mtls_enabled = false\nsecondary_auth = "Oso"\n\n[security.oso]\npolar_file_path = "configuration/oso.polar"\n',
  );
  expect(withOso).toContain('secondary_auth = "Oso"');
  const file = path.join(dir, "oso.toml");
  writeFileSync(file, withOso);
  return file;
}

describe("the AWS sample proxy's settings TOML", () => {
  test("is read as-is, directly or through XKS_PROXY_SETTINGS_TOML, and normalised", async () => {
    for (const cfg of [
      await loadConfig(sampleFile),
      await loadConfig(undefined, { ...process.env, XKS_PROXY_CONFIG: undefined, XKS_PROXY_SETTINGS_TOML: sampleFile }),
    ]) {
      expect(cfg.source.format).toBe("aws-sample");
      expect(cfg.server).toEqual(expect.objectContaining({ ip: "127.0.0.1", port: 80, tcpKeepAliveMs: 60_000 }));
      expect(cfg.server.tls).toBeUndefined();
      expect(cfg.stores).toEqual([
        {
          name: "/example/uri/path/prefix",
          uriPrefix: "/example/uri/path/prefix",
          keys: ["mig-foo", "mig-bar"],
          credentials: [{ accessKeyId: SAMPLE_AKID, secretAccessKey: SAMPLE_SECRET }],
          regions: ["us-east-1"],
        },
      ]);
      expect(cfg.hsm).toEqual(expect.objectContaining({ library: process.env.CIOP_TEST_LIB, token: "#0", pin: { value: process.env.CIOP_TEST_PIN } }));
      expect(cfg.compat.sampleProxyAad).toBe(true);
      expect(Buffer.from(cfg.compat.sampleProxyMetadata!).equals(SAMPLE_METADATA)).toBe(true);
      expect(cfg.limits).toEqual({ maxPlaintextBytes: 6144, maxAadBytes: 12288 });
    }
  });

  test("with is_tls_enabled it needs the certificate files it names; bad values are refused", async () => {
    const tlsOn = replaceOrThrow(sampleSettings(443, 80), "is_tls_enabled = false", "is_tls_enabled = true");
    writeFileSync(path.join(dir, "tls.toml"), tlsOn);
    const cfg = await loadConfig(path.join(dir, "tls.toml"));
    expect(cfg.server.tls).toEqual({ certFile: path.join(dir, "tls/server_cert.pem"), keyFile: path.join(dir, "tls/server_key.pem") });
    writeFileSync(
      path.join(dir, "bad.toml"),
      replaceOrThrow(sampleSettings(80, 80), `sigv4_access_key_id = "${SAMPLE_AKID}"`, 'sigv4_access_key_id = "lowercase-is-wrong"'),
    );
    await expect(loadConfig(path.join(dir, "bad.toml"))).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  test('secondary_auth = "Oso" is refused, naming the policy and the way out, unless XKS_PROXY_WITHOUT_SECONDARY_AUTH=1; then it loads and is listed as not enforced', async () => {
    const osoFile = writeOsoSettings();
    const env = { ...process.env, XKS_PROXY_WITHOUT_SECONDARY_AUTH: undefined };
    await expect(loadConfig(osoFile, env)).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringMatching(/secondary_auth = "Oso" \(policy configuration\/oso\.polar\).*XKS_PROXY_WITHOUT_SECONDARY_AUTH=1.*allowed_principals/),
    });
    // only "1" opts out
    await expect(loadConfig(osoFile, { ...env, XKS_PROXY_WITHOUT_SECONDARY_AUTH: "true" })).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    const cfg = await loadConfig(osoFile, { ...env, XKS_PROXY_WITHOUT_SECONDARY_AUTH: "1" });
    expect(cfg.notEnforced).toEqual([expect.stringContaining('security.secondary_auth = "Oso" (policy configuration/oso.polar) is not enforced')]);
    expect((await loadConfig(sampleFile, env)).notEnforced).toEqual([]);
  });

  test("a proxy started from it decrypts the sample proxy's hashed-AAD ciphertexts and serves ciop's own", async () => {
    writeFileSync(sampleFile, sampleSettings(0, 0));
    const cfg: ProxyConfig = await loadConfig(sampleFile);
    cfg.hsm.token = process.env.CIOP_TEST_TOKEN_LABEL; // other test files may add tokens to the shared test directory
    withTokenParameters(cfg);
    cfg.health.keyName = "mig-health";
    migrated = await startServer(cfg, { logSink: (line) => migrationLog.push(line) });
    const api = "/example/uri/path/prefix/kms/xks/v1/keys/mig-foo";
    const cred = { accessKeyId: SAMPLE_AKID, secretAccessKey: SAMPLE_SECRET };
    const pt = randomBytes(300);
    const aad = Buffer.from("project=nile,department=marketing");
    for (const [withAad, ctm] of [
      [true, SAMPLE_METADATA],
      [false, SAMPLE_METADATA],
      [true, undefined],
      [false, undefined],
    ] as const) {
      const c = sampleProxyEncrypt(pt, withAad ? aad : undefined, ctm);
      const body = {
        requestMetadata: md("Decrypt"),
        encryptionAlgorithm: "AES_GCM",
        ...c,
        ...(ctm ? { ciphertextMetadata: b64(ctm) } : {}),
        ...(withAad ? { additionalAuthenticatedData: b64(aad) } : {}),
      };
      const r = await post(migrated.url, `${api}/decrypt`, body, { cred });
      expect(r.status).toBe(200);
      expect(Buffer.from(r.json.plaintext, "base64").equals(pt)).toBe(true);
      const tampered = await post(migrated.url, `${api}/decrypt`, { ...body, additionalAuthenticatedData: b64("project=amazon") }, { cred });
      expect([tampered.status, tampered.json.errorName]).toEqual([400, "InvalidCiphertextException"]);
    }
    const enc = await post(migrated.url, `${api}/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64(pt), encryptionAlgorithm: "AES_GCM" }, { cred });
    expect(enc.status).toBe(200);
    expect(enc.json.ciphertextMetadata).not.toBe(b64(SAMPLE_METADATA));
    const dec = await post(
      migrated.url,
      `${api}/decrypt`,
      {
        requestMetadata: md("Decrypt"),
        encryptionAlgorithm: "AES_GCM",
        ciphertext: enc.json.ciphertext,
        initializationVector: enc.json.initializationVector,
        authenticationTag: enc.json.authenticationTag,
        ciphertextMetadata: enc.json.ciphertextMetadata,
      },
      { cred },
    );
    expect(Buffer.from(dec.json.plaintext, "base64").equals(pt)).toBe(true);
    const wrongRegion = await post(
      migrated.url,
      `${api}/encrypt`,
      { requestMetadata: md("Encrypt"), plaintext: b64(pt), encryptionAlgorithm: "AES_GCM" },
      { cred, region: "eu-west-1" },
    );
    expect(wrongRegion.status).toBe(401);
  });

  test("without compatibility, a sample-proxy ciphertext is refused as InvalidCiphertextException", async () => {
    const cfg = await loadConfig(sampleFile);
    cfg.hsm.token = process.env.CIOP_TEST_TOKEN_LABEL;
    withTokenParameters(cfg);
    cfg.health.keyName = "mig-health";
    cfg.compat.sampleProxyAad = false;
    await migrated.reload(cfg);
    const c = sampleProxyEncrypt(Buffer.from("hello"), undefined, SAMPLE_METADATA);
    const r = await post(
      migrated.url,
      "/example/uri/path/prefix/kms/xks/v1/keys/mig-foo/decrypt",
      { requestMetadata: md("Decrypt"), encryptionAlgorithm: "AES_GCM", ...c, ciphertextMetadata: b64(SAMPLE_METADATA) },
      { cred: { accessKeyId: SAMPLE_AKID, secretAccessKey: SAMPLE_SECRET } },
    );
    expect([r.status, r.json.errorName]).toEqual([400, "InvalidCiphertextException"]);
  });

  test("a setting accepted but not enforced is logged as a warning on (re)load", async () => {
    const notEnforced = (): unknown[] => migrationLog.map((l) => JSON.parse(l) as { msg?: string }).filter((r) => r.msg === "setting-not-enforced");
    expect(notEnforced()).toEqual([]);
    // the loader's own output for a settings file with Oso waived
    const cfg = await loadConfig(writeOsoSettings(), { ...process.env, XKS_PROXY_WITHOUT_SECONDARY_AUTH: "1" });
    cfg.hsm.token = process.env.CIOP_TEST_TOKEN_LABEL;
    withTokenParameters(cfg);
    cfg.health.keyName = "mig-health";
    await migrated.reload(cfg);
    expect(notEnforced()).toEqual([
      expect.objectContaining({
        level: "warn",
        setting: expect.stringContaining('security.secondary_auth = "Oso" (policy configuration/oso.polar) is not enforced'),
      }),
    ]);
  });
});

describe("two proxy instances sharing one token (stateless scale-out)", () => {
  const C1 = generateXksCredential();
  const C2 = generateXksCredential();
  let a: RunningServer;
  let child: ChildProcess | undefined;
  let bUrl: string;
  let bConfig: string;

  beforeAll(async () => {
    const stores = storeToml("s", "/s/xks", ["shared-k"], [C1]);
    a = await startServer((await loadConfigFrom("a.toml", ciopToml({ stores, healthKey: "shared-health" })))!, { logSink: () => undefined });
    await a.hsm.generateKey("shared-k", "AES-256", { extractable: false });
    bConfig = path.join(dir, "b.toml");
    writeFileSync(bConfig, ciopToml({ stores, healthKey: "shared-health" }));
    child = spawn(process.execPath, [path.join(SUPPORT, "run-proxy.cjs"), "serve", "--config", bConfig], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env },
    });
    bUrl = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child!.stdout! });
      rl.on("line", (line) => {
        try {
          const r = JSON.parse(line) as { msg?: string; url?: string };
          if (r.msg === "listening" && r.url) resolve(r.url);
        } catch {
          /* not JSON */
        }
      });
      child!.once("exit", (code) => reject(new Error(`second proxy exited with ${code}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await a?.close();
  });

  async function loadConfigFrom(name: string, text: string): Promise<ProxyConfig> {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return loadConfig(f);
  }

  const encrypt = (url: string, cred: XksCredential = C1) =>
    post(
      url,
      "/s/xks/kms/xks/v1/keys/shared-k/encrypt",
      { requestMetadata: md("Encrypt"), plaintext: b64("scale out"), encryptionAlgorithm: "AES_GCM" },
      { cred },
    );

  test("a ciphertext from one instance decrypts on the other", async () => {
    const enc = await encrypt(a.url);
    expect(enc.status).toBe(200);
    const dec = await post(
      bUrl,
      "/s/xks/kms/xks/v1/keys/shared-k/decrypt",
      {
        requestMetadata: md("Decrypt"),
        encryptionAlgorithm: "AES_GCM",
        ciphertext: enc.json.ciphertext,
        initializationVector: enc.json.initializationVector,
        authenticationTag: enc.json.authenticationTag,
        ciphertextMetadata: enc.json.ciphertextMetadata,
      },
      { cred: C1 },
    );
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.json.plaintext, "base64").toString()).toBe("scale out");
  });

  test("disable through instance A's Hsm: instance B (another process) refuses within 1 s; enable: B serves again within 1 s", async () => {
    expect((await encrypt(bUrl)).status).toBe(200);
    a.hsm.setKeyEnabled("shared-k", false);
    await sleep(1000);
    const refused = await encrypt(bUrl);
    expect([refused.status, refused.json.errorName]).toEqual([400, "InvalidStateException"]);
    const meta = await post(bUrl, "/s/xks/kms/xks/v1/keys/shared-k/metadata", { requestMetadata: md("CreateKey") }, { cred: C1 });
    expect(meta.json.keyStatus).toBe("DISABLED");
    expect((await encrypt(a.url)).json.errorName).toBe("InvalidStateException");
    a.hsm.setKeyEnabled("shared-k", true);
    await sleep(1000);
    expect((await encrypt(bUrl)).status).toBe(200);
  });

  test("SIGHUP makes the other process re-read its configuration (a second credential)", async () => {
    expect((await encrypt(bUrl, C2)).status).toBe(401);
    writeFileSync(bConfig, ciopToml({ stores: storeToml("s", "/s/xks", ["shared-k"], [C1, C2]), healthKey: "shared-health" }));
    child!.kill("SIGHUP");
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(100);
      status = (await encrypt(bUrl, C2)).status;
    }
    expect(status).toBe(200);
    expect(readFileSync(bConfig, "utf8")).toContain(C2.accessKeyId);
  });
});
