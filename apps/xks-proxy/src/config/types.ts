/** The normalised configuration of one proxy process (both file formats end up here). */
import type { GcmIvSource, GcmProfileName, PinSource } from "@ciop/hsm";
import { DEFAULT_XKS_LIMITS, type XksCredential, type XksLimits } from "@ciop/xks";

/** TLS settings of the main listener. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** mTLS: CA bundle client certificates must chain to (enables client authentication). */
  clientCaFile?: string;
  /** mTLS: expected client subject (CN or a DNS SAN), e.g. cks.kms.eu-west-1.amazonaws.com. */
  clientSubject?: string;
}

export interface ServerConfig {
  ip: string;
  port: number;
  tls?: TlsConfig;
  /** Unauthenticated GET /ping on the main port; with `pingPort`, also on its own plain-HTTP port. */
  ping: boolean;
  pingPort?: number;
  /** HTTP keep-alive idle timeout (ms). KMS keeps connections open; default 330 s. */
  keepAliveTimeoutMs: number;
  /** TCP keep-alive probe delay (ms). */
  tcpKeepAliveMs: number;
  /** Largest request body (bytes). */
  maxBodyBytes: number;
  /**
   * Serve XKS API requests on the proxy's own strict HTTP/1.1 reader (src/http/fast-http.ts) instead of
   * node's HTTP server; every other request still goes to node's. Default true.
   */
  fastPath: boolean;
  /** Server processes sharing the port (node:cluster); each has its own HSM sessions. "auto" in the file = one per CPU. */
  processes: number;
  /** Connections at once on the main listener, per process; new ones past it are closed at accept. */
  maxConnections: number;
  /** Connections at once from one source address (IPv6: one /64), per process; 0 = no limit. */
  maxConnectionsPerSource: number;
  /**
   * Requests per second one source may send that fail before their signature is verified, per
   * process (past it: 429 and the connection closed); 0 = no limit.
   */
  unauthenticatedRpsPerSource: number;
  /** How many such requests a source may send at once. */
  unauthenticatedBurstPerSource: number;
}

export interface HsmConfig {
  /** PKCS#11 library (default: env CIOP_PKCS11_LIB, else SoftHSM2). */
  library?: string;
  /** Parameters for the library's C_Initialize, as NSS softokn needs (default: env CIOP_PKCS11_PARAMS). Never logged. */
  libraryParameters?: string;
  /** Token label, serial or "#index" (default: env CIOP_TOKEN / the embedded token). */
  token?: string;
  pin?: PinSource;
  /**
   * Let @ciop/hsm move key material through host memory when the token cannot do a step itself
   * (Hsm.open's allowHostFallback). Software tokens allow it anyway; on a hardware token without
   * AES-GCM key wrap the Salesforce cache-only route needs it. Default false. Needs a restart.
   */
  allowHostFallback: boolean;
  /** PKCS#11 sessions per worker. */
  sessionPool: number;
  /** Per-call HSM timeout (ms); expiry → 503 DependencyTimeoutException. */
  timeoutMs: number;
  /** How long a key's enabled/usage state is cached (ms, ≤ 1000). */
  keyStateTtlMs: number;
  /**
   * "async": AES-GCM on pooled sessions in worker threads (`workers`), off the event loop, with
   * the per-call timeout. "sync": on the event loop, no timeout possible; for a local, fast token
   * where the threadpool hop costs more than the call. "auto" (default): sync on a software token
   * (SoftHSM), async on anything else.
   */
  callMode: "auto" | "async" | "sync";
  /**
   * Worker threads that run the async GCM calls (Init + Encrypt/Decrypt off the event loop), 0 to
   * `sessionPool`; unset = one per pooled session. 0: pkcs11js's threadpool call, with each
   * C_EncryptInit/C_DecryptInit on the event loop (one token round trip each).
   */
  workers?: number;
  /**
   * Run AES-GCM on a session-object copy of each key (made in the HSM with C_CopyObject, still
   * sensitive) instead of the token object, refreshed with the key state. SoftHSM re-reads a token
   * object's file on every use; a copy avoids that. "auto" (default): on for software tokens.
   */
  sessionKeyCopies: "auto" | boolean;
  /**
   * How the token does AES-GCM (@ciop/hsm's GCM profile): "auto" (default) finds out at start;
   * "softhsm" | "nshield" | "luna" | "cloudhsm" is checked against the token at start (no start
   * when it does not match). Needs a restart.
   */
  profile: "auto" | GcmProfileName;
  /** The IV source the AWS sample proxy's [hsm_capabilities] asks for (its settings file only); checked at start. */
  gcmIvSource?: GcmIvSource;
  /** Environment set before the library loads (e.g. the sample proxy's [pkcs11_logger] variables; existing values win). */
  env?: Record<string, string>;
}

export interface RateLimitConfig {
  /** Sustained requests per second. */
  rps: number;
  /** Burst size (default = rps). */
  burst: number;
}

export interface StoreConfig {
  name: string;
  /** "" or "/segment[/segment...]" before /kms/xks/v1. */
  uriPrefix: string;
  keys: string[];
  /** One or two SigV4 credentials (two during a rotation). */
  credentials: XksCredential[];
  /** Accepted signing regions; empty = any. */
  regions: string[];
  rateLimit?: RateLimitConfig;
  /** Secondary authorization: awsPrincipalArn values allowed for key operations (absent = all). */
  allowedPrincipals?: string[];
  /**
   * Serve keys that are extractable or not sensitive (with a warning) instead of refusing them
   * (`allow_weak_keys`, default false). See src/store-key-policy.ts.
   */
  allowWeakKeys?: boolean;
}

export interface HealthConfig {
  /** Dedicated AES-256 key for the deep health check (created if missing when `createKey`). */
  keyName: string;
  createKey: boolean;
  fleetSize: number;
  vendor: string;
  model: string;
  /** Background probe period (ms). */
  intervalMs: number;
}

export interface CompatConfig {
  /** Decrypt also accepts ciphertexts made by the AWS sample proxy (hashed-AAD scheme). */
  sampleProxyAad: boolean;
  /** That proxy's static `ciphertext_metadata_b64`, decoded. */
  sampleProxyMetadata?: Uint8Array;
}

export interface LoggingConfig {
  level: "debug" | "info" | "warn" | "error";
  /** Log file; absent = stdout. */
  file?: string;
}

/** `[fleet]`: state shared by the proxies of a fleet through Redis/Valkey (src/fleet/). */
export interface FleetConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
  redisUrl: string;
  /** Prefix of every key the proxy writes (default "ciop-xks"). */
  keyPrefix: string;
  /** Longest wait for one Redis command (ms, default 250). */
  commandTimeoutMs: number;
}

/** Where /metrics listens when `[metrics]` does not say: loopback only, its own port. */
export const DEFAULT_METRICS_IP = "127.0.0.1";
export const DEFAULT_METRICS_PORT = 9464;

export interface MetricsConfig {
  enabled: boolean;
  /**
   * Address of the /metrics listener, a plain-HTTP listener of its own (never the KMS-facing one).
   * The loader always sets it (default {@link DEFAULT_METRICS_IP}); a config built in code may
   * leave it out for the default.
   */
  ip?: string;
  /** Its port (default {@link DEFAULT_METRICS_PORT}; 0 = any free port). Set by the loader like `ip`. */
  port?: number;
  /**
   * The port is the default, not one the file asked for: when it is taken (another proxy on the
   * host), the server logs `metrics-unavailable` and runs without /metrics instead of failing.
   */
  defaultPort?: boolean;
}

/** The address /metrics listens on under `m`. */
export function metricsAddress(m: MetricsConfig): { ip: string; port: number } {
  return { ip: m.ip ?? DEFAULT_METRICS_IP, port: m.port ?? DEFAULT_METRICS_PORT };
}

/** The normalised configuration of one proxy process. */
export interface ProxyConfig {
  /**
   * Where it came from; `inlineSecrets` names the settings that hold a secret in the file's own
   * text (the loader warns when others can read that file).
   */
  source: { file?: string; format: "ciop" | "aws-sample"; dir: string; inlineSecrets?: string[] };
  server: ServerConfig;
  hsm: HsmConfig;
  stores: StoreConfig[];
  health: HealthConfig;
  compat: CompatConfig;
  /**
   * Settings of the source file that are accepted but not enforced, each a sentence for the log
   * (written as warnings when the server starts and on every reload).
   */
  notEnforced: string[];
  /**
   * Other warnings about the file (secret files or the config file readable by others, settings of
   * the AWS sample proxy that have no effect here...), each a sentence for the log, written when the
   * server starts and on every reload.
   */
  warnings: string[];
  limits: XksLimits;
  logging: LoggingConfig;
  metrics: MetricsConfig;
  /**
   * Raw sections of the registered route groups (e.g. `[salesforce]`), by section name, each
   * validated by its group (src/route-group.ts); a section switched off stays here.
   */
  routeGroups: Record<string, unknown>;
  /** `[fleet]`: absent = nothing shared beyond this host. */
  fleet?: FleetConfig;
}

const VERSION = "0.0.0";
export const PROXY_MODEL = `ciop-xks-proxy ${VERSION}`;

/** A configuration with every default, before the file's settings are applied. */
export function defaults(dir: string, file: string | undefined, format: ProxyConfig["source"]["format"]): ProxyConfig {
  return {
    source: { ...(file !== undefined ? { file } : {}), format, dir },
    server: {
      ip: "0.0.0.0",
      port: 8443,
      ping: true,
      keepAliveTimeoutMs: 330_000,
      tcpKeepAliveMs: 60_000,
      maxBodyBytes: 64 * 1024,
      fastPath: true,
      processes: 1,
      maxConnections: 4096,
      maxConnectionsPerSource: 256,
      unauthenticatedRpsPerSource: 10,
      unauthenticatedBurstPerSource: 100,
    },
    hsm: { sessionPool: 4, timeoutMs: 200, keyStateTtlMs: 500, callMode: "auto", sessionKeyCopies: "auto", allowHostFallback: false, profile: "auto" },
    stores: [],
    health: { keyName: "ciop-xks-health", createKey: true, fleetSize: 1, vendor: "ciop", model: PROXY_MODEL, intervalMs: 15_000 },
    compat: { sampleProxyAad: false },
    notEnforced: [],
    warnings: [],
    limits: { ...DEFAULT_XKS_LIMITS },
    logging: { level: "info" },
    metrics: { enabled: true, ip: DEFAULT_METRICS_IP, port: DEFAULT_METRICS_PORT, defaultPort: true },
    routeGroups: {},
  };
}
