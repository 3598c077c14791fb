/**
 * Azure Managed HSM external keys: an optional route group of xks-proxy serving the EKM proxy API
 * (0.1-preview) of @ciop/azure-ekm on a listener of its own.
 *
 *   [azure_ekm]
 *   keys        = ["ekm-aes-1", "ekm-rsa-1"]  # external key names served (HSM key labels); others: 404
 *   path_prefix = "/contoso/prod"      # optional, as set on the Managed HSM connection (--path-prefix)
 *   ip          = "0.0.0.0"            # the group's own listener (Managed HSM connects to port 443)
 *   port        = 443
 *   max_connections = 256
 *   audit_log   = "azure-ekm-audit.log"   # metadata/wrap/unwrap with request_context; "off" to disable
 *   public_host = "ekm.contoso.com"    # optional, for `azure-ekm show-setup`
 *   listener    = "own"                # "shared" (the XKS listener) is refused: see config.ts
 *   [azure_ekm.tls]                    # always TLS 1.3 only, TLS_AES_256_GCM_SHA384 + TLS_AES_128_GCM_SHA256
 *   cert_file   = "ekm-server-chain.pem"   # server certificate chain (leaf first), issued by the CA
 *                                          # registered on the connection (--server-ca-certificate)
 *   key_file    = "ekm-server.key"
 *   client_ca_file  = "mhsm-client-roots.pem"  # caCertificates of `az keyvault ekm-connection certificate show`
 *   client_subjects = ["contoso.managedhsmclient.azure.net"]  # its subjectCommonName
 *
 * Why a listener of its own: the main listener keeps the XKS spec's TLS (TLS 1.2 allowed, XKS
 * suites, optional mTLS), which the EKM API does not accept. On this listener a client without a
 * certificate from the client CA fails the TLS handshake; one whose certificate CN is not listed is
 * answered 401 Unauthorized, before its body is read, and its connection closed.
 *
 * Every request is logged with its request_context (request_id, correlation_id, pool_name:
 * printable ASCII, at most 128 characters each); metadata, wrapkey and unwrapkey are also written
 * to the audit log with the algorithm, the outcome and any host fallback. Key material is never
 * logged. Refused connections and 401s are logged per source within the sampling of
 * unauthenticated requests. Metrics: ciop_azure_ekm_responses_total{operation,status}.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { appendAuditRecord, CiopError } from "@ciop/core";
import { EKM_API_VERSION, handleEkmRequest, MAX_EKM_BODY, type EkmResponse } from "@ciop/azure-ekm";
import { Counter } from "prom-client";
import type { RouteGroup, RouteGroupFactory } from "../route-group.js";
import { UnauthenticatedLogSampler } from "../unauthenticated-log.js";
import { SourceLimits, sourceOf } from "../source-limits.js";
import { ekmSecureContextOptions, parseAzureEkmSection, SECTION, type AzureEkmConfig } from "./config.js";
import { HsmEkmCrypto } from "./hsm-crypto.js";

export { parseAzureEkmSection, azureEkmEnabled, sharedListenerRefusal, EKM_TLS_SUITES } from "./config.js";
export type { AzureEkmConfig } from "./config.js";

/**
 * The prefix this group gives the main listener's router: no request path can hold a NUL byte, so
 * the main listener never hands the group a request (it serves only its own listener).
 */
export const OWN_LISTENER_PREFIX = "\u0000azure_ekm:own-listener";

const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const KEEP_ALIVE_MS = 60_000;
const VERSION = "0.0.0";

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(text)),
    ...extra,
  });
  res.end(text);
}

/** The peer certificate's subject CN, when the connection presented one. */
function peerCn(sock: TLSSocket): string | undefined {
  const cert = sock.getPeerCertificate();
  const cn = cert?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : typeof cn === "string" ? cn : undefined;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        for (const x of chunks) x.fill(0);
        chunks.length = 0;
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const all = Buffer.concat(chunks);
      for (const x of chunks) x.fill(0);
      resolve(all);
    });
    req.on("error", reject);
  });
}

interface State {
  cfg: AzureEkmConfig;
  subjects: Set<string>;
}

function stateOf(cfg: AzureEkmConfig): State {
  return { cfg, subjects: new Set(cfg.tls.clientSubjects.map((s) => s.toLowerCase())) };
}

/** A running `[azure_ekm]` group: its listener's address for tests and show-setup. */
export interface AzureEkmRouteGroup extends RouteGroup {
  /** The port the group's own listener is bound to. */
  readonly port: number;
}

/** Creates the Azure EKM route group from the raw `[azure_ekm]` table and starts its listener. */
export const createAzureEkmRouteGroup: RouteGroupFactory = async (section, ctx) => {
  let state = stateOf(parseAzureEkmSection(section, ctx.configDir));
  const sampler = new UnauthenticatedLogSampler((r) => ctx.log({ group: SECTION, ...r }));
  let responses: Counter<"operation" | "status"> | undefined;
  try {
    responses = new Counter({
      name: "ciop_azure_ekm_responses_total",
      help: "Azure Managed HSM EKM proxy API requests answered, by operation and HTTP status.",
      labelNames: ["operation", "status"],
      registers: [ctx.metrics],
    });
  } catch {
    responses = undefined;
  }

  const audit = (r: EkmResponse, note: { hostFallback: boolean; mechanisms: string[] } | undefined, latencyMs: number): void => {
    const { cfg } = state;
    if (cfg.auditLog === null || r.operation === undefined || r.operation === "info" || r.keyName === undefined) return;
    try {
      appendAuditRecord(cfg.auditLog, {
        time: new Date().toISOString(),
        tool: "xks-proxy",
        operation: `azure-ekm:${r.operation}`,
        key: r.keyName,
        ...(r.alg !== undefined ? { alg: r.alg } : {}),
        status: r.status,
        ...(r.code !== undefined ? { code: r.code } : {}),
        request_id: r.context.request_id,
        correlation_id: r.context.correlation_id,
        pool_name: r.context.pool_name,
        latencyMs,
        ...(note !== undefined ? { hostFallback: note.hostFallback, mechanisms: note.mechanisms } : {}),
        outcome: r.status === 200 ? "ok" : "error",
      } as Parameters<typeof appendAuditRecord>[1]);
    } catch (err) {
      ctx.log({ group: SECTION, msg: "audit-write-failed", error: CiopError.isInstance(err) ? err.code : (err as Error).message?.slice(0, 120) });
    }
  };

  const health = async (): Promise<string | undefined> => {
    const first = state.cfg.keys[0];
    try {
      await ctx.withHsmTimeout("azure-ekm-info", () => {
        const hsm = ctx.hsm;
        const key = first !== undefined ? hsm.findKey(first) : undefined;
        if (key !== undefined) hsm.keyInfo(key);
        else hsm.capabilities();
      });
      return undefined;
    } catch (err) {
      return /TIMEOUT/.test((err as CiopError).code ?? "") || (err as { errorName?: string }).errorName === "DependencyTimeoutException"
        ? "the HSM did not answer in time"
        : "the HSM cannot be reached";
    }
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = process.hrtime.bigint();
    const sock = req.socket as TLSSocket;
    const source = sourceOf(sock.remoteAddress);
    const { cfg, subjects } = state;
    const cn = peerCn(sock);
    if (cn === undefined || !subjects.has(cn.toLowerCase())) {
      // CA-verified but not an accepted subject: nothing is read or done for it
      res.setHeader("connection", "close");
      res.once("finish", () => sock.destroy());
      sendJson(res, 401, { code: "Unauthorized", message: "client certificate subject not accepted" });
      responses?.inc({ operation: "none", status: "401" });
      if (sampler.allow(source)) ctx.log({ group: SECTION, msg: "request", status: 401, code: "Unauthorized", authenticated: false, remote: source });
      return;
    }
    const url = new URL(req.url ?? "/", "https://localhost");
    const p = url.pathname;
    const under = `${cfg.pathPrefix}/`;
    if (!p.startsWith(under)) {
      sendJson(res, 404, { code: "NotFound", message: `this proxy serves the EKM API under ${under}` });
      responses?.inc({ operation: "none", status: "404" });
      ctx.log({ group: SECTION, msg: "request", status: 404, path: p.slice(0, 100).replace(/[^\x20-\x7e]/g, "?"), clientCn: cn.slice(0, 128) });
      return;
    }
    const body = await readBody(req, MAX_EKM_BODY);
    if (body === undefined) {
      sendJson(res, 400, { code: "BadRequest", message: `the body is larger than ${MAX_EKM_BODY} bytes` });
      responses?.inc({ operation: "none", status: "400" });
      return;
    }
    const crypto = new HsmEkmCrypto(() => ctx.hsm, ctx.withHsmTimeout);
    const r = await handleEkmRequest(
      {
        method: req.method ?? "GET",
        path: p.slice(under.length),
        apiVersion: url.searchParams.get("api-version"),
        contentType: req.headers["content-type"],
        body,
      },
      {
        crypto,
        policy: { keys: cfg.keys },
        info: {
          proxyVendor: "ciop",
          proxyName: `ciop xks-proxy ${VERSION}`,
          ekmVendor: ctx.hsm.token.manufacturer.trim() || "PKCS#11",
          ekmProduct: `${ctx.hsm.token.model.trim()} (token ${ctx.hsm.token.label.trim()})`,
        },
        health,
      },
    );
    const extra: Record<string, string> = r.status === 503 || r.status === 429 ? { "retry-after": "1" } : {};
    sendJson(res, r.status, r.body, extra);
    const latencyMs = Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
    responses?.inc({ operation: r.operation ?? "none", status: String(r.status) });
    audit(r, crypto.last, latencyMs);
    ctx.log({
      group: SECTION,
      msg: "request",
      operation: r.operation,
      key: r.keyName,
      alg: r.alg,
      status: r.status,
      code: r.code,
      request_id: r.context.request_id,
      correlation_id: r.context.correlation_id,
      pool_name: r.context.pool_name,
      clientCn: cn.slice(0, 128),
      hostFallback: crypto.last?.hostFallback,
      latencyMs,
    });
  };

  const server = https.createServer(
    {
      ...ekmSecureContextOptions(state.cfg.tls),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: HEADERS_TIMEOUT_MS,
      keepAlive: true,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      noDelay: true,
    },
    (req, res) => {
      serve(req, res).catch((err: unknown) => {
        ctx.log({ group: SECTION, msg: "request-failed", error: (err as Error).message?.slice(0, 200) });
        if (!res.headersSent) sendJson(res, 500, { code: "InternalServerError", message: "internal error" });
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.maxConnections = state.cfg.maxConnections;
  // Per-source connection cap, checked on the raw socket before any TLS work (as on the main
  // listener, with its SourceLimits); the setting is read at each connection, so a reload applies.
  const perSource = new SourceLimits(() => ({
    maxConnectionsPerSource: state.cfg.maxConnectionsPerSource,
    unauthenticatedRpsPerSource: 0,
    unauthenticatedBurstPerSource: 0,
  }));
  server.on("connection", (sock: Socket) => {
    const source = sourceOf(sock.remoteAddress);
    const admitted = perSource.admitConnection(source);
    if ("refused" in admitted) {
      if (sampler.allow(source)) ctx.log({ group: SECTION, msg: "connection-refused", reason: admitted.refused, authenticated: false, remote: source });
      sock.destroy();
      return;
    }
    sock.once("close", () => perSource.releaseConnection(admitted.key));
  });
  server.on("tlsClientError", (err: Error, sock: TLSSocket) => {
    const source = sourceOf(sock.remoteAddress);
    if (sampler.allow(source)) ctx.log({ group: SECTION, msg: "tls-refused", reason: err.message.slice(0, 160), authenticated: false, remote: source });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(state.cfg.port, state.cfg.ip, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  ctx.log({
    group: SECTION,
    msg: "azure-ekm-listening",
    ip: state.cfg.ip,
    port,
    pathPrefix: state.cfg.pathPrefix || "(none)",
    keys: state.cfg.keys.length,
    apiVersion: EKM_API_VERSION,
  });

  const group: AzureEkmRouteGroup = {
    name: SECTION,
    pathPrefix: OWN_LISTENER_PREFIX,
    port,
    async handle(_req, res) {
      // never reached: see OWN_LISTENER_PREFIX
      sendJson(res, 404, { code: "NotFound", message: "the Azure EKM API is served on its own listener" });
      return { status: 404, errorName: "NotFound", authenticated: false };
    },
    async reload(newSection: unknown) {
      const next = parseAzureEkmSection(newSection, ctx.configDir);
      const cur = state.cfg;
      if (next.ip !== cur.ip || (next.port !== cur.port && !(next.port === 0 && cur.port === 0)))
        throw new CiopError(
          "ERR_CONFIG_INVALID",
          `[${SECTION}] ip/port change from ${cur.ip}:${cur.port} to ${next.ip}:${next.port} needs a restart; the reload is refused`,
        );
      // read the new certificate, key and CA now: a broken file refuses the reload before anything changes
      server.setSecureContext(ekmSecureContextOptions(next.tls));
      server.maxConnections = next.maxConnections;
      state = stateOf(next);
    },
    async close() {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), 2000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      sampler.close();
      perSource.close();
      if (responses) ctx.metrics.removeSingleMetric("ciop_azure_ekm_responses_total");
    },
  };
  return group;
};
