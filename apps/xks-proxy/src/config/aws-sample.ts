/**
 * The AWS sample proxy's settings TOML (aws-samples/aws-kms-xks-proxy, xks-axum/src/settings.rs),
 * read as-is and normalised to {@link ProxyConfig}. Exactly that proxy's keys are accepted; any
 * other key is refused (see tracked.ts). Keys it has that change nothing here are listed in one
 * warning; those that would change security behaviour are enforced, refused, or reported as not
 * enforced.
 */
import { DEFAULT_XKS_LIMITS } from "@ciop/xks";
import { bad, bool, decodeB64, num, resolvePath, str, strList, table, type Table } from "./fields.js";
import { checkCredential, checkPrefix, checkReservedStoreKeys, checkStores } from "./stores.js";
import { refuseUnread, track } from "./tracked.js";
import { GCM_PROFILE_IV_SOURCE, gcmProfileSetting, sampleIvSource } from "./gcm-profile.js";
import { defaults, type ProxyConfig } from "./types.js";

/** Is this parsed TOML the AWS sample proxy's settings format? */
export function isAwsSampleSettings(doc: Table): boolean {
  return "external_key_stores" in doc || "pkcs11" in doc || "security" in doc || "hsm_capabilities" in doc;
}

/**
 * Marks keys of the sample's format that ciop accepts but does not use; returns those present, as
 * "table.key" (for the warning).
 */
function noEffect(t: Table, where: string, keys: string[]): string[] {
  return keys.filter((k) => t[k] !== undefined).map((k) => `${where}.${k}`);
}

/**
 * Normalises the AWS sample proxy's settings TOML (aws-samples/aws-kms-xks-proxy), read as-is.
 * Decrypt compatibility with that proxy's ciphertexts is switched on, with its static
 * `ciphertext_metadata_b64`; a health key is created on the token if missing. That proxy has no
 * metrics, and neither has ciop when it reads its file (move to ciop's TOML for `[metrics]`).
 */
export async function fromAwsSampleToml(rawDoc: Table, dir: string, file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  const tracker = track(rawDoc);
  const doc = tracker.doc;
  const cfg = defaults(dir, file, "aws-sample");
  cfg.metrics = { enabled: false };
  const inline: string[] = [];
  const unused: string[] = [];
  const s = table(doc.server, "[server]");
  const sec = table(doc.security, "[security]");
  const tls = table(doc.tls, "[tls]");
  const tlsOn = bool(sec, "is_tls_enabled", "security") ?? false;
  const mtlsOn = bool(sec, "is_mtls_enabled", "security") ?? false;
  if (bool(sec, "is_sigv4_auth_enabled", "security") === false) bad("security.is_sigv4_auth_enabled = false is not supported: ciop always verifies SigV4");
  cfg.server.ip = str(s, "ip", "server") ?? cfg.server.ip;
  cfg.server.port = num(s, "port", "server", 0, 65535) ?? (tlsOn ? 443 : 80);
  const pingPort = num(s, "port_http_ping", "server", 0, 65535) ?? 80;
  if (pingPort !== cfg.server.port) cfg.server.pingPort = pingPort;
  // The sample's optional secondary authorization evaluates an Oso (Polar) policy, which ciop
  // cannot do. Starting without it would let through requests that policy refuses, so that takes
  // an explicit choice outside the file (which stays as the sample proxy reads it).
  const secondary = str(sec, "secondary_auth", "security");
  const polar = str(table(sec.oso, "[security.oso]"), "polar_file_path", "security.oso");
  if (secondary !== undefined && secondary !== "") {
    const what = `security.secondary_auth = "${secondary}"${polar !== undefined ? ` (policy ${polar})` : ""}`;
    if (env.XKS_PROXY_WITHOUT_SECONDARY_AUTH !== "1") {
      bad(
        `${what}: ciop cannot evaluate the sample proxy's Oso policies, and running without one would accept requests it refuses. ` +
          "Set XKS_PROXY_WITHOUT_SECONDARY_AUTH=1 to run without it, or move to ciop's TOML and list the callers of each store in allowed_principals",
      );
    }
    cfg.notEnforced.push(`${what} is not enforced (XKS_PROXY_WITHOUT_SECONDARY_AUTH=1): every authenticated request for an allowed key is served`);
  }
  const service = str(s, "service", "server");
  if (service !== undefined && service !== "kms-xks-proxy") bad(`server.service must be kms-xks-proxy (is '${service}')`);
  const region = str(s, "region", "server");
  const md = str(s, "ciphertext_metadata_b64", "server");
  cfg.compat.sampleProxyAad = true;
  if (md !== undefined && md !== "") {
    const bytes = decodeB64(md, "server.ciphertext_metadata_b64");
    if (bytes.length > 20) bad("server.ciphertext_metadata_b64 decodes to more than 20 bytes");
    cfg.compat.sampleProxyMetadata = bytes;
  }
  const ka = table(s.tcp_keepalive, "[server.tcp_keepalive]");
  const kaSecs = num(ka, "tcp_keepalive_secs", "server.tcp_keepalive", 1, 86400);
  if (kaSecs !== undefined) cfg.server.tcpKeepAliveMs = kaSecs * 1000;
  unused.push(...noEffect(ka, "server.tcp_keepalive", ["tcp_keepalive_interval_secs", "tcp_keepalive_retries"]));

  // [tls] is read whether TLS is on or not (the sample's own files keep it with TLS off)
  const certFile = resolvePath(dir, str(tls, "tls_cert_pem", "tls"));
  const keyFile = resolvePath(dir, str(tls, "tls_key_pem", "tls"));
  const ca = resolvePath(dir, str(tls, "mtls_client_ca_pem", "tls"));
  const dns = str(tls, "mtls_client_dns_name", "tls");
  if (tlsOn) {
    if (!certFile || !keyFile) bad("[tls] needs tls_cert_pem and tls_key_pem when is_tls_enabled = true");
    cfg.server.tls = { certFile, keyFile };
    if (mtlsOn) {
      if (!ca) bad("[tls] needs mtls_client_ca_pem when is_mtls_enabled = true");
      cfg.server.tls.clientCaFile = ca;
      if (dns !== undefined) cfg.server.tls.clientSubject = dns;
    }
  } else if (mtlsOn) {
    bad("security.is_mtls_enabled needs is_tls_enabled");
  }

  const p = table(doc.pkcs11, "[pkcs11]");
  const fileLib = str(p, "PKCS11_HSM_MODULE", "pkcs11");
  const lib = env.PKCS11_HSM_MODULE ?? fileLib;
  if (lib !== undefined) cfg.hsm.library = lib;
  cfg.hsm.token = "#0"; // the sample proxy always uses the first slot with a token
  const pin = str(p, "user_pin", "pkcs11");
  if (pin !== undefined) {
    cfg.hsm.pin = { value: pin };
    inline.push("pkcs11.user_pin");
  }
  const pool = num(p, "session_pool_max_size", "pkcs11", 1, 1024);
  if (pool !== undefined) cfg.hsm.sessionPool = Math.min(pool, 64);
  num(p, "session_pool_timeout_milli", "pkcs11");
  bool(p, "session_eager_close", "pkcs11");
  num(p, "context_read_timeout_milli", "pkcs11");
  unused.push(...noEffect(p, "pkcs11", ["session_pool_timeout_milli", "session_eager_close", "context_read_timeout_milli"]));

  const logger = table(doc.pkcs11_logger, "[pkcs11_logger]");
  const loggerEnv: Record<string, string> = {};
  for (const k of ["PKCS11_LOGGER_LIBRARY_PATH", "PKCS11_LOGGER_LOG_FILE_PATH", "PKCS11_LOGGER_FLAGS"]) {
    const v = str(logger, k, "pkcs11_logger");
    if (v !== undefined) loggerEnv[k] = v;
  }
  if (Object.keys(loggerEnv).length > 0) cfg.hsm.env = loggerEnv;

  const lim = table(doc.limits, "[limits]");
  const ptB64 = num(lim, "max_plaintext_in_base64", "limits", 1);
  const aadB64 = num(lim, "max_aad_in_base64", "limits", 1);
  if (ptB64 !== undefined) cfg.limits.maxPlaintextBytes = Math.max(DEFAULT_XKS_LIMITS.maxPlaintextBytes, Math.floor((ptB64 * 3) / 4));
  if (aadB64 !== undefined) cfg.limits.maxAadBytes = Math.min(65535, Math.max(DEFAULT_XKS_LIMITS.maxAadBytes, Math.floor((aadB64 * 3) / 4)));

  // who makes the GCM IV, as that proxy's do_encrypt reads it; checked against the token at start
  const caps = table(doc.hsm_capabilities, "[hsm_capabilities]");
  const canGenerateIv = bool(caps, "can_generate_iv", "hsm_capabilities");
  const zeroIv = bool(caps, "is_zero_iv_required", "hsm_capabilities");
  if (canGenerateIv !== undefined || zeroIv !== undefined) cfg.hsm.gcmIvSource = sampleIvSource(canGenerateIv ?? false, zeroIv ?? false);
  const profile = env.CIOP_HSM_PROFILE;
  if (profile !== undefined && profile !== "") {
    cfg.hsm.profile = gcmProfileSetting(profile, "CIOP_HSM_PROFILE");
    const implied = cfg.hsm.profile === "auto" ? undefined : GCM_PROFILE_IV_SOURCE[cfg.hsm.profile];
    if (implied !== undefined && cfg.hsm.gcmIvSource !== undefined && implied !== cfg.hsm.gcmIvSource)
      bad(
        `CIOP_HSM_PROFILE=${profile} means IV source "${implied}", but [hsm_capabilities] (can_generate_iv = ${canGenerateIv ?? false}, ` +
          `is_zero_iv_required = ${zeroIv ?? false}) means "${cfg.hsm.gcmIvSource}": make them agree or drop one`,
      );
  }

  const tr = table(doc.tracing, "[tracing]");
  const lvl = str(tr, "level", "tracing")?.toLowerCase();
  if (lvl !== undefined) cfg.logging.level = lvl === "trace" || lvl === "debug" ? "debug" : lvl === "warn" ? "warn" : lvl === "error" ? "error" : "info";
  bool(tr, "is_stdout_writer_enabled", "tracing");
  bool(tr, "is_file_writer_enabled", "tracing");
  for (const k of ["directory", "file_prefix", "rotation_kind"]) str(tr, k, "tracing");
  // ciop writes its JSON log lines to stdout here (ciop's TOML has [logging] file)
  unused.push(...noEffect(tr, "tracing", ["is_stdout_writer_enabled", "is_file_writer_enabled", "directory", "file_prefix", "rotation_kind"]));

  const stores = doc.external_key_stores;
  if (!Array.isArray(stores)) bad("[[external_key_stores]] is required");
  for (const [i, raw] of (stores as unknown[]).entries()) {
    const where = `external_key_stores[${i}]`;
    const st = table(raw, where);
    const uriPrefix = checkPrefix(str(st, "uri_path_prefix", where) ?? "", where);
    const accessKeyId = str(st, "sigv4_access_key_id", where);
    const secretAccessKey = str(st, "sigv4_secret_access_key", where);
    const keys = strList(st, "xks_key_id_set", where) ?? [];
    if (accessKeyId === undefined || secretAccessKey === undefined) bad(`${where}: sigv4_access_key_id and sigv4_secret_access_key are required`);
    inline.push(`${where}.sigv4_secret_access_key`);
    cfg.stores.push({
      name: uriPrefix === "" ? "default" : uriPrefix,
      uriPrefix,
      keys,
      credentials: [checkCredential({ accessKeyId, secretAccessKey }, where)],
      regions: region !== undefined ? [region] : [],
    });
  }
  refuseUnread(tracker, "AWS sample proxy settings");
  checkReservedStoreKeys(cfg, []);
  if (unused.length > 0) cfg.warnings.push(`settings of the AWS sample proxy that have no effect in ciop: ${unused.join(", ")}`);
  cfg.source.inlineSecrets = inline;
  checkStores(cfg.stores);
  return cfg;
}
