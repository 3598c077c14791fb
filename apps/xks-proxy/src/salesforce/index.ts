/**
 * Salesforce cache-only key service: an optional route group of xks-proxy.
 *
 * Salesforce Shield calls `GET <named credential URL>/<kid>` and expects
 * `200 {"kid": "<kid>", "jwe": "<compact JWE>"}`: RSA-OAEP (SHA-1) under the Salesforce BYOK
 * certificate + A256GCM over the 32-byte DEK, header {alg, enc, kid[, jti]}. The DEK is an AES-256
 * token key in the HSM labelled by its kid (made with `xks-proxy salesforce keys create`); the JWE
 * is built by @ciop/providers-salesforce's CacheOnlyKeyService on the server's HSM.
 *
 * Config (`[salesforce]` in the xks-proxy TOML; relative paths are relative to the config file):
 *
 *   [salesforce]
 *   path_prefix = "/salesforce/keys"      # named credential URL = https://<host>:<port><path_prefix>
 *   registry    = "salesforce-keys.json"  # kid -> HSM key + bound certificate + enabled state (JSON)
 *   certificate = "sf-byok.crt"           # optional default BYOK certificate (4096-bit RSA) for keys
 *                                         # created without --cert
 *   audit_log   = "audit.log"             # key operations and host fallbacks; "off" to disable
 *   public_url  = "https://byok.example.com:8443"  # optional, for `salesforce show-setup`
 *   [salesforce.certificates]             # optional per-kid certificate files (for unbound keys)
 *   "my-key-1" = "other-org.crt"
 *   [salesforce.replay]
 *   window_seconds  = 900                 # a nonce answered 200 within this window is refused (409)
 *   query_parameter = "requestId"         # where the nonce is read: ?requestId=<nonce> (default)
 *   header          = "X-Request-Id"      # optional: also read the nonce from this header
 *   required        = false               # true: refuse callouts without a nonce (400)
 *   max_entries     = 100000              # live nonces kept; when full, 503 instead of forgetting
 *   [salesforce.auth]                     # at least one method; Basic and Bearer: either passes
 *   basic_username      = "salesforce"
 *   basic_password_hash = "scrypt$15$8$1$<salt>$<hash>"   # from `xks-proxy salesforce hash-password`
 *   jwt_key        = "sf-jwt-signer.crt"  # PEM certificate or public key that signs the bearer JWT
 *   jwt_algorithms = ["RS256"]            # default RS256
 *   jwt_audience = "..."                  # required with jwt_key: the tokens' aud claim
 *   jwt_issuer = "..."; jwt_subject = "..."   # optional claim checks
 *   jwt_max_age_seconds = 300             # iat must be this recent; exp and iat are required
 *   jwt_clock_tolerance_seconds = 30
 *   client_certificate_required = false   # true: mTLS through the server's TLS (client CA set in
 *   client_certificate_sha256 = []        #   [server.tls]); optional allow-list of fingerprints
 *
 * Responses (JSON, `cache-control: no-store`):
 *   200 {"kid","jwe"}                                  the key
 *   400 {"error":"InvalidKeyIdentifier"|"InvalidNonce"|"NonceRequired"}
 *   401 {"error":"Unauthorized"} + WWW-Authenticate    missing/bad Basic or Bearer credentials
 *   403 {"error":"Forbidden"}                          no/unknown client certificate (mTLS)
 *   404 {"error":"KeyNotFound"}                        unknown kid (or its DEK is gone from the HSM)
 *   405 {"error":"MethodNotAllowed"}                   anything but GET
 *   409 {"error":"ReplayDetected"}                     nonce answered 200 within the window, or in flight
 *   429 {"error":"TooManyFailures"} + Retry-After      this source failed too many password checks
 *   423 {"error":"KeyDisabled"}                        kid disabled (`salesforce keys disable`)
 *   500 {"error":"CertificateProblem"|"HostFallbackRefused"|"InternalError"}
 *   503 {"error":"HsmTimeout"|"ReplayCacheFull"|"ReplayStoreUnavailable"|"Busy"}    + Retry-After
 *       ("Busy": too many password checks waiting; "ReplayStoreUnavailable": the shared nonce store
 *       (cluster primary or [fleet] Redis) cannot be reached, so the nonce cannot be checked)
 *
 * Logs: one record per request with kid, status, error name, auth method, whether a nonce was given
 * and whether host fallback was used. Never the DEK, the CEK, credentials or the JWE.
 * Metrics: ciop_salesforce_cache_only_responses_total{status}.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { CiopError } from "@ciop/core";
import { isCacheOnlyKid } from "@ciop/providers-salesforce";
import { CacheOnlyKeyService } from "@ciop/salesforce-cache-only";
import { Counter } from "prom-client";
import type { RouteGroup, RouteGroupContext, RouteGroupFactory } from "../route-group.js";
import { Authenticator } from "./auth.js";
import { parseSalesforceSection, type SalesforceConfig } from "./config.js";
import { NonceCache, type NonceStore } from "./replay.js";

export { parseSalesforceSection, salesforceEnabled, DEFAULT_PATH_PREFIX } from "./config.js";
export type { SalesforceConfig } from "./config.js";

const NONCE = /^[\x21-\x7e]{1,256}$/;

interface State {
  cfg: SalesforceConfig;
  auth: Authenticator;
  service: CacheOnlyKeyService;
}

function serviceFor(cfg: SalesforceConfig, ctx: RouteGroupContext): CacheOnlyKeyService {
  return new CacheOnlyKeyService({
    hsm: ctx.hsm,
    registryPath: cfg.registryPath,
    auditLog: cfg.auditLog,
    tool: "xks-proxy",
    ...(cfg.defaultCertificate !== undefined ? { defaultCertificate: cfg.defaultCertificate } : {}),
    certificates: cfg.certificates,
  });
}

function build(section: unknown, ctx: RouteGroupContext): State {
  const cfg = parseSalesforceSection(section, ctx.configDir);
  return { cfg, auth: new Authenticator(cfg.auth), service: serviceFor(cfg, ctx) };
}

function errorFor(err: unknown): { status: number; error: string; message: string } {
  const xksName = (err as { errorName?: unknown } | undefined)?.errorName;
  if (xksName === "DependencyTimeoutException") return { status: 503, error: "HsmTimeout", message: "the HSM did not answer in time" };
  if (!CiopError.isInstance(err)) return { status: 500, error: "InternalError", message: "internal error" };
  switch (err.code) {
    case "ERR_KID_INVALID":
      return { status: 400, error: "InvalidKeyIdentifier", message: "invalid key identifier" };
    case "ERR_KEY_NOT_FOUND":
      return { status: 404, error: "KeyNotFound", message: "no such key" };
    case "ERR_KEY_DISABLED":
      return { status: 423, error: "KeyDisabled", message: "the key is disabled" };
    case "ERR_CERTIFICATE_NOT_VALID":
    case "ERR_WRAPPING_KEY_INVALID":
    case "ERR_WRAPPING_KEY_SIZE":
      return { status: 500, error: "CertificateProblem", message: err.message };
    case "ERR_HOST_FALLBACK_REFUSED":
      return { status: 500, error: "HostFallbackRefused", message: "the HSM cannot build the JWE without host fallback, which is not allowed" };
    case "ERR_TIMEOUT":
      return { status: 503, error: "HsmTimeout", message: "the HSM did not answer in time" };
    default:
      return /TIMEOUT/.test(err.code)
        ? { status: 503, error: "HsmTimeout", message: "the HSM did not answer in time" }
        : { status: 500, error: "InternalError", message: "internal error" };
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Creates the Salesforce cache-only route group from the raw `[salesforce]` table. */
export const createSalesforceRouteGroup: RouteGroupFactory = async (section, ctx) => {
  let state = build(section, ctx);
  // nonces of this process only when nothing shared is offered (one process, no fleet)
  const own = ctx.nonces === undefined ? new NonceCache() : undefined;
  const nonces: NonceStore = ctx.nonces ?? own!;
  let responses: Counter<"status"> | undefined;
  try {
    responses = new Counter({
      name: "ciop_salesforce_cache_only_responses_total",
      help: "Salesforce cache-only key callouts answered, by HTTP status.",
      labelNames: ["status"],
      registers: [ctx.metrics],
    });
  } catch {
    // Already registered in this registry (a second group on one registry): count nothing twice.
    responses = undefined;
  }

  const group: RouteGroup = {
    name: "salesforce",
    get pathPrefix() {
      return state.cfg.pathPrefix;
    },

    async handle(req: IncomingMessage, res: ServerResponse) {
      // After an HSM context reset the server hands out a new Hsm: follow it.
      if (state.service.hsm !== ctx.hsm) state = { ...state, service: serviceFor(state.cfg, ctx) };
      const { cfg, auth, service } = state;
      const record: Record<string, unknown> = { group: "salesforce" };
      const finish = (status: number, body: unknown, errorName?: string, headers?: Record<string, string>, kid?: string) => {
        send(res, status, body, headers);
        responses?.inc({ status: String(status) });
        ctx.log({ ...record, status, ...(kid !== undefined ? { kid } : {}), ...(errorName ? { errorName } : {}) });
        return { status, ...(kid !== undefined ? { key: kid } : {}), ...(errorName ? { errorName } : {}) };
      };

      // Authentication first: nothing about keys is revealed to an unauthenticated caller.
      const who = await auth.authenticate(req);
      if (!who.ok) {
        const headers: Record<string, string> =
          who.status === 401
            ? { "www-authenticate": auth.challenge() }
            : who.retryAfterSeconds !== undefined
              ? { "retry-after": String(who.retryAfterSeconds) }
              : {};
        // anyone can fail here: the server charges the source and samples the log line
        send(res, who.status, { error: who.error }, headers);
        responses?.inc({ status: String(who.status) });
        return { status: who.status, errorName: who.error, cause: who.reason, authenticated: false };
      }
      record.auth = who.method;

      if (req.method !== "GET") return finish(405, { error: "MethodNotAllowed" }, "MethodNotAllowed", { allow: "GET" });

      const url = new URL(req.url ?? "/", "https://localhost");
      const rest = url.pathname.startsWith(`${cfg.pathPrefix}/`) ? url.pathname.slice(cfg.pathPrefix.length + 1) : "";
      if (!isCacheOnlyKid(rest)) {
        return finish(
          rest === "" ? 404 : 400,
          { error: rest === "" ? "KeyNotFound" : "InvalidKeyIdentifier" },
          rest === "" ? "KeyNotFound" : "InvalidKeyIdentifier",
        );
      }
      const kid = rest;

      // Replay detection: the nonce comes from ?<query_parameter>= or the configured header.
      let nonce: string | undefined = url.searchParams.get(cfg.replay.queryParameter) ?? undefined;
      if (nonce === undefined && cfg.replay.header !== undefined) {
        const h = req.headers[cfg.replay.header];
        nonce = Array.isArray(h) ? h[0] : h;
      }
      record.nonce = nonce !== undefined;
      if (nonce === undefined && cfg.replay.required) return finish(400, { error: "NonceRequired" }, "NonceRequired", {}, kid);
      // The nonce is reserved while the callout is served, recorded only if it is answered 200,
      // and released on any other answer (so Salesforce's retry of a failed callout is served).
      let reservation: string | undefined;
      if (nonce !== undefined) {
        if (!NONCE.test(nonce)) return finish(400, { error: "InvalidNonce" }, "InvalidNonce", {}, kid);
        const r = await nonces.reserve(nonce, cfg.replay.windowMs, cfg.replay.maxEntries);
        if (r.outcome === "replayed") return finish(409, { error: "ReplayDetected" }, "ReplayDetected", {}, kid);
        if (r.outcome === "full") return finish(503, { error: "ReplayCacheFull" }, "ReplayCacheFull", { "retry-after": "5" }, kid);
        if (r.outcome === "unavailable") {
          record.replayStore = r.reason;
          return finish(503, { error: "ReplayStoreUnavailable" }, "ReplayStoreUnavailable", { "retry-after": "1" }, kid);
        }
        reservation = r.token;
      }
      const release = (): void => {
        if (nonce !== undefined && reservation !== undefined) void nonces.release(nonce, reservation).catch(() => undefined);
      };

      let out: Awaited<ReturnType<CacheOnlyKeyService["produce"]>>;
      try {
        out = await ctx.withHsmTimeout("salesforce-cache-only", () => service.produce(kid, nonce !== undefined ? { jti: nonce } : {}));
      } catch (err) {
        release();
        const e = errorFor(err);
        return finish(e.status, { error: e.error, message: e.message }, e.error, e.status === 503 ? { "retry-after": "1" } : {}, kid);
      }
      record.hostFallback = out.hostFallback;
      if (nonce !== undefined && reservation !== undefined && !(await nonces.commit(nonce, reservation, cfg.replay.windowMs).catch(() => false))) {
        // not recorded = a later replay could not be recognised: no 200
        release();
        return finish(503, { error: "ReplayStoreUnavailable" }, "ReplayStoreUnavailable", { "retry-after": "1" }, kid);
      }
      send(res, 200, { kid: out.kid, jwe: out.jwe });
      responses?.inc({ status: "200" });
      ctx.log({ ...record, status: 200, kid });
      return { status: 200, key: kid };
    },

    async reload(newSection: unknown) {
      const next = build(newSection, ctx);
      state.auth.clear();
      state = next;
    },

    async close() {
      await own?.close();
      state.auth.clear();
      if (responses) ctx.metrics.removeSingleMetric("ciop_salesforce_cache_only_responses_total");
    },
  };
  return group;
};
