/**
 * Issue 14, item 2: a key the parser does not read is refused, in every table of ciop's TOML and
 * of the AWS sample proxy's settings format, with its table and the nearest accepted key.
 *
 * Before the fix every one of these files loaded: `allowed_principal = [...]` and `region = [...]`
 * silently switched the principal and region checks off, `client_ca = ...` left mTLS off, and the
 * sample format took any key at all.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fromCiopToml, parseConfig } from "../src/proxy-config.js";
import { editDistance, nearest } from "../src/config/tracked.js";
import { testDir } from "./proxy-helpers.js";

const dir = testDir("config-unknown");
const SECRET = "s".repeat(44);
writeFileSync(path.join(dir, "ca.pem"), "not read by the parser\n");

/** A complete ciop config; `edit` puts one line into the table named (after its header line). */
function ciop(edit: { table?: string; line?: string } = {}): string {
  const tables: Array<[string, string[]]> = [
    [
      "[server]",
      [
        'ip = "127.0.0.1"',
        "port = 0",
        "keep_alive_timeout_secs = 330",
        "tcp_keepalive_secs = 60",
        "max_body_bytes = 65536",
        "processes = 1",
        "fast_path = true",
      ],
    ],
    ["[server.ping]", ["enabled = true", "port = 0"]],
    ["[server.tls]", ['cert_file = "c.pem"', 'key_file = "k.pem"', 'client_ca_file = "ca.pem"', 'client_subject = "cks.kms.eu-west-1.amazonaws.com"']],
    [
      "[hsm]",
      [
        'library = "/nonexistent/lib.so"',
        'token = "t"',
        'pin_env = "PIN"',
        "session_pool = 4",
        "timeout_ms = 200",
        "key_state_ttl_ms = 500",
        'call_mode = "auto"',
        'session_key_copies = "auto"',
        "allow_host_fallback = false",
      ],
    ],
    ["[health]", ['key = "h"', "create_key = true", "fleet_size = 1", 'vendor = "v"', "interval_secs = 15"]],
    ["[compat]", ["sample_proxy_aad = false", 'sample_proxy_metadata_b64 = ""']],
    ["[limits]", ["max_plaintext_bytes = 4300", "max_aad_bytes = 8192"]],
    ["[logging]", ['level = "info"']],
    ["[metrics]", ["enabled = true", 'ip = "127.0.0.1"', "port = 0"]],
    ["[fleet]", ['redis_url = "redis://127.0.0.1:6379"', 'key_prefix = "p"', "command_timeout_ms = 250"]],
    [
      "[[stores]]",
      [
        'name = "a"',
        'uri_prefix = "/a/xks"',
        'keys = ["k1"]',
        'regions = ["us-east-1"]',
        "rate_limit_rps = 10",
        "rate_limit_burst = 20",
        'allowed_principals = ["arn:aws:iam::123456789012:user/Alice"]',
        "allow_weak_keys = false",
      ],
    ],
    ["[[stores.credentials]]", ['access_key_id = "AAAAAAAAAAAAAAAAAAAAAAAA"', `secret_access_key = "${SECRET}"`]],
  ];
  return (
    tables.map(([h, lines]) => [h, ...lines, ...(h === edit.table && edit.line ? [edit.line] : [])].join("\n")).join("\n\n") +
    (edit.table === undefined && edit.line ? `\n\n${edit.line}\n` : "\n")
  );
}

const load = (text: string) => parseConfig(text, { dir, env: { PIN: "1234" } });

test("every documented key of ciop's TOML loads", async () => {
  const cfg = await load(ciop());
  expect(cfg.stores[0]).toMatchObject({
    regions: ["us-east-1"],
    allowedPrincipals: ["arn:aws:iam::123456789012:user/Alice"],
    rateLimit: { rps: 10, burst: 20 },
  });
  expect(cfg.server.tls?.clientCaFile).toBe(path.join(dir, "ca.pem"));
  expect(cfg.metrics).toEqual({ enabled: true, ip: "127.0.0.1", port: 0 });
  expect(cfg.fleet?.redisUrl).toBe("redis://127.0.0.1:6379");
});

// [table, the stray line, what the message must name, the suggestion]
const CASES: Array<[string, string, string, string | undefined]> = [
  [
    "[[stores]]",
    'allowed_principal = ["arn:aws:iam::123456789012:user/Mallory"]',
    "'allowed_principal' in [[stores]] (stores[0].allowed_principal)",
    "allowed_principals",
  ],
  ["[[stores]]", 'region = ["eu-west-1"]', "'region' in [[stores]] (stores[0].region)", "regions"],
  ["[server.tls]", 'client_ca = "ca.pem"', "'client_ca' in [server.tls] (server.tls.client_ca)", "client_ca_file"],
  ["[server]", "prot = 443", "'prot' in [server] (server.prot)", "port"],
  ["[server.ping]", "enable = false", "'enable' in [server.ping] (server.ping.enable)", "enabled"],
  ["[hsm]", 'pin_fle = "pin"', "'pin_fle' in [hsm] (hsm.pin_fle)", "pin_file"],
  ["[health]", 'keys = "h2"', "'keys' in [health] (health.keys)", "key"],
  ["[compat]", "sample_proxy_add = true", "'sample_proxy_add' in [compat]", "sample_proxy_aad"],
  ["[limits]", "max_aad = 9000", "'max_aad' in [limits]", "max_aad_bytes"],
  ["[logging]", 'levle = "debug"', "'levle' in [logging]", "level"],
  ["[metrics]", "prot = 9000", "'prot' in [metrics]", "port"],
  ["[fleet]", 'redis_ur = "redis://x:1"', "'redis_ur' in [fleet]", "redis_url"],
  [
    "[[stores.credentials]]",
    'secret_acces_key_env = "X"',
    "'secret_acces_key_env' in [[stores.credentials]] (stores[0].credentials[0].secret_acces_key_env)",
    "secret_access_key_env",
  ],
  ["the top level", '[sever]\nip = "0.0.0.0"', "unknown table [sever]", "server"],
  ["the top level", "[totally_new]\nx = 1", "unknown table [totally_new]", undefined],
];

test.each(CASES)("ciop %s: %j is refused, naming the key and the nearest accepted one", async (table, line, names, near) => {
  const err = await load(ciop(table === "the top level" ? { line } : { table, line })).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err?.code).toBe("ERR_CONFIG_INVALID");
  expect(err?.message).toContain(names);
  if (near !== undefined) expect(err?.message).toContain(`did you mean '${near}'?`);
  else expect(err?.message).not.toContain("did you mean");
});

test("a key another parser adds later is known as soon as it is read (no list to keep in step)", async () => {
  // fromCiopToml reads [fleet] redis_url itself; the tracked reader knows every key it reads
  const doc = {
    stores: [{ keys: [], credentials: [{ access_key_id: "AAAAAAAAAAAAAAAAAAAAAAAA", secret_access_key: SECRET }] }],
    fleet: { redis_url: "redis://h:1" },
  };
  await expect(fromCiopToml(doc, dir)).resolves.toMatchObject({ fleet: { redisUrl: "redis://h:1" } });
  await expect(fromCiopToml({ ...doc, fleet: { redis_url: "redis://h:1", redis_password: "x" } }, dir)).rejects.toThrow(/'redis_password' in \[fleet\]/);
});

// (passed before the fix too: a guard that the main parser does not take over [salesforce])
test("[salesforce] is left to its own strict parser (the route group's), so the main parser passes it on as it is", async () => {
  const cfg = await load(ciop({ line: '[salesforce]\npath_prefix = "/sf"\nwhatever = 1' }));
  expect(cfg.routeGroups.salesforce).toEqual({ path_prefix: "/sf", whatever: 1 });
});

test("the nearest-key suggestion", () => {
  expect(editDistance("kitten", "sitting")).toBe(3);
  expect(nearest("allowed_principal", ["allowed_principals", "keys", "regions"])).toBe("allowed_principals");
  expect(nearest("zzzzzz", ["allowed_principals", "keys"])).toBeUndefined();
});

/** The AWS sample proxy's own settings_softhsmv2.toml (aws-samples/aws-kms-xks-proxy), every key it has. */
function sample(extra: { table?: string; line?: string } = {}): string {
  const tables: Array<[string, string[]]> = [
    [
      "[server]",
      ['ip = "0.0.0.0"', "port = 80", "port_http_ping = 80", 'region = "us-east-1"', 'service = "kms-xks-proxy"', 'ciphertext_metadata_b64 = "djAuMC4x"'],
    ],
    ["[server.tcp_keepalive]", ["tcp_keepalive_secs = 60", "tcp_keepalive_retries = 3", "tcp_keepalive_interval_secs = 1"]],
    [
      "[tracing]",
      [
        "is_stdout_writer_enabled = true",
        "is_file_writer_enabled = true",
        'level = "DEBUG"',
        'directory = "/var/local/xks-proxy/logs"',
        'file_prefix = "xks-proxy.log"',
        'rotation_kind = "HOURLY"',
      ],
    ],
    ["[security]", ["is_sigv4_auth_enabled = true", "is_tls_enabled = false", "is_mtls_enabled = false"]],
    ["[security.oso]", ['polar_file_path = "configuration/oso.polar"']],
    [
      "[tls]",
      [
        'tls_cert_pem = "tls/server_cert.pem"',
        'tls_key_pem = "tls/server_key.pem"',
        'mtls_client_ca_pem = "tls/client_ca.pem"',
        'mtls_client_dns_name = "us-east-1.alpha.cks.kms.aws.internal.amazonaws.com"',
      ],
    ],
    [
      "[[external_key_stores]]",
      [
        'uri_path_prefix = "/example/uri/path/prefix"',
        'sigv4_access_key_id = "AKIA4GBY3I6JCE5M2HPM"',
        `sigv4_secret_access_key = "${SECRET}"`,
        'xks_key_id_set = ["foo", "bar"]',
      ],
    ],
    [
      "[pkcs11]",
      [
        "session_pool_max_size = 30",
        "session_pool_timeout_milli = 0",
        "session_eager_close = false",
        'user_pin = "1234"',
        'PKCS11_HSM_MODULE = "/usr/local/lib/softhsm/libsofthsm2.so"',
        "context_read_timeout_milli = 10",
      ],
    ],
    [
      "[pkcs11_logger]",
      ['PKCS11_LOGGER_LIBRARY_PATH = "/usr/local/lib/softhsm/libsofthsm2.so"', 'PKCS11_LOGGER_LOG_FILE_PATH = "/tmp/p11.log"', 'PKCS11_LOGGER_FLAGS = "0"'],
    ],
    ["[limits]", ["max_plaintext_in_base64 = 8192", "max_aad_in_base64 = 16384"]],
    ["[hsm_capabilities]", ["can_generate_iv = false", "is_zero_iv_required = false"]],
  ];
  return `${tables.map(([h, lines]) => [h, ...lines, ...(h === extra.table && extra.line ? [extra.line] : [])].join("\n")).join("\n\n")}\n`;
}

test("every key of the AWS sample proxy's settings loads; those without effect here are named in one warning", async () => {
  const cfg = await parseConfig(sample(), { dir, env: {} });
  expect(cfg.source.format).toBe("aws-sample");
  expect(cfg.stores[0]).toMatchObject({ uriPrefix: "/example/uri/path/prefix", keys: ["foo", "bar"], regions: ["us-east-1"] });
  expect(cfg.notEnforced).toEqual([]);
  const w = cfg.warnings.find((x) => x.startsWith("settings of the AWS sample proxy that have no effect"));
  for (const k of ["server.tcp_keepalive.tcp_keepalive_retries", "pkcs11.session_eager_close", "tracing.directory"]) expect(w).toContain(k);
  // the sample proxy has no /metrics, and ciop serves none from its file
  expect(cfg.metrics.enabled).toBe(false);
});

test.each([
  ["[[external_key_stores]]", 'xks_key_ids = ["baz"]', "'xks_key_ids' in [[external_key_stores]] (external_key_stores[0].xks_key_ids)", "xks_key_id_set"],
  ["[security]", "is_mtls_enable = true", "'is_mtls_enable' in [security]", "is_mtls_enabled"],
  ["[tls]", 'mtls_client_dns = "x"', "'mtls_client_dns' in [tls]", "mtls_client_dns_name"],
  ["[server]", 'regions = ["eu-west-1"]', "'regions' in [server]", "region"],
  ["[pkcs11]", 'user_pin_file = "pin"', "'user_pin_file' in [pkcs11]", "user_pin"],
  ["[server.tcp_keepalive]", "tcp_keepalive_sec = 5", "'tcp_keepalive_sec' in [server.tcp_keepalive]", "tcp_keepalive_secs"],
])("AWS sample %s: %s is refused like in ciop's TOML", async (table, line, names, near) => {
  const err = await parseConfig(sample({ table, line }), { dir, env: {} }).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err?.code).toBe("ERR_CONFIG_INVALID");
  expect(err?.message).toMatch(/^AWS sample proxy settings: unknown key /);
  expect(err?.message).toContain(names);
  expect(err?.message).toContain(`did you mean '${near}'?`);
});
