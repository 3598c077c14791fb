/**
 * The server's listeners: the main one (HTTP or HTTPS with the spec's TLS, the per-connection
 * mTLS check, the connection gate: max_connections and the per-source caps), the optional
 * own-port /ping listener and the /metrics listener. Each is closed by {@link closeServer}.
 */
import { readFileSync } from "node:fs";
import http, { type RequestListener, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import tls, { type SecureContextOptions, type TLSSocket } from "node:tls";
import type { ProxyConfig, TlsConfig } from "../config/index.js";
import type { FastHttp } from "../http/fast-http.js";
import type { Logger } from "../logger.js";
import { sourceOf, type SourceLimits } from "../source-limits.js";
import type { UnauthenticatedLogSampler } from "../unauthenticated-log.js";
import type { ProxyMetrics } from "./metrics.js";

/** The spec's suites: two TLS 1.3, two TLS 1.2 (ECDHE with AES-256-GCM). */
export const XKS_TLS_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

/** node's HTTP timeouts on the main listener; the fast path applies the same ones. */
export const HEADERS_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The secure context of the main listener for `t`: certificate, key, the spec's protocol versions
 * and suites, and the mTLS CA when configured. Client certificates are always requested (see
 * {@link createMainListener}) and checked per connection against the config in force, so that every
 * mTLS change a reload makes (CA added, removed or replaced, subject added, changed or removed)
 * applies to the next connection: node fixes requestCert/rejectUnauthorized when a server is
 * created and setSecureContext does not change them.
 */
export function tlsContextOptions(t: TlsConfig): SecureContextOptions {
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    minVersion: "TLSv1.2",
    ciphers: XKS_TLS_CIPHERS,
    honorCipherOrder: true,
    ...(t.clientCaFile !== undefined ? { ca: readFileSync(t.clientCaFile) } : {}),
  };
}

/**
 * Why `sock` must be refused under the mTLS settings `t` (undefined: accept). With a client CA,
 * the peer certificate must chain to it (`authorized`, verified by OpenSSL against the context's
 * CA) and, with `clientSubject`, name that subject (CN or DNS SAN).
 */
export function mtlsRefusal(sock: TLSSocket, t: TlsConfig | undefined): string | undefined {
  if (t?.clientCaFile === undefined) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return "no client certificate";
  if (!sock.authorized) return `client certificate not trusted (${String(sock.authorizationError ?? "unverified").slice(0, 80)})`;
  if (t.clientSubject !== undefined && tls.checkServerIdentity(t.clientSubject, cert) !== undefined) return "client certificate subject not accepted";
  return undefined;
}

export function hostFor(ip: string): string {
  if (ip === "0.0.0.0" || ip === "::" || ip === "127.0.0.1" || ip === "::1" || ip === "") return "localhost";
  return ip.includes(":") ? `[${ip}]` : ip;
}

export function listen(server: http.Server, port: number, ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, ip, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, closes idle keep-alive connections, lets requests in flight finish for up to `graceMs`. */
export function closeServer(server: http.Server | undefined, graceMs: number, fast?: FastHttp): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      fast?.closeAll();
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    fast?.closeIdle();
    server.closeIdleConnections();
  });
}

/** Writes a whole response; headers go to node as a flat [name, value, ...] list (no object copy). */
export function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const raw: string[] = [];
  for (const k in headers) raw.push(k, headers[k]!);
  raw.push("content-length", String(Buffer.byteLength(body)));
  res.writeHead(status, raw);
  res.end(body);
}

export function ping(res: ServerResponse): void {
  send(res, 200, { "content-type": "text/plain" }, "pong\n");
}

function notFound(res: ServerResponse): void {
  send(res, 404, { "content-type": "text/plain" }, "not found\n");
}

export interface MainListenerDeps {
  /** The configuration in force (mTLS settings are read per connection). */
  config: () => ProxyConfig;
  sources: SourceLimits;
  unauthLog: UnauthenticatedLogSampler;
  logger: Logger;
  metrics: ProxyMetrics;
}

/**
 * The main listener for `c` (not yet listening): HTTPS when `[server.tls]` is set, with the mTLS
 * check on every connection, and the connection gate. node's net layer closes connections past
 * max_connections at accept, before any 'connection' listener: the fast path takes its sockets from
 * those events, so the count covers both HTTP paths. The per-source cap, and a source over its
 * unauthenticated rate, are refused by the first 'connection' listener, before TLS (prepended after
 * `putInFront` has put the fast path in front of node's own listener). Established connections are
 * untouched.
 */
export function createMainListener(c: ProxyConfig, handler: RequestListener, deps: MainListenerDeps, putInFront: (server: http.Server) => void): http.Server {
  const { sources, unauthLog, logger, metrics } = deps;
  const httpOpts: http.ServerOptions = {
    keepAlive: true,
    keepAliveInitialDelay: c.server.tcpKeepAliveMs,
    noDelay: true,
    requestTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
  };
  let main: http.Server;
  if (c.server.tls) {
    // Always ask for a client certificate and never let OpenSSL refuse one: the check runs in
    // "secureConnection" against the settings in force, so a reload can switch mTLS on, off or over.
    // handshakeTimeout: a connection that never finishes its handshake is held no longer than one
    // that never sends its headers (node's default is 120 s)
    const s = https.createServer(
      { ...httpOpts, handshakeTimeout: HEADERS_TIMEOUT_MS, ...tlsContextOptions(c.server.tls), requestCert: true, rejectUnauthorized: false },
      handler,
    );
    s.on("secureConnection", (sock: TLSSocket) => {
      const refused = mtlsRefusal(sock, deps.config().server.tls);
      if (refused === undefined) return;
      // before any authentication: charged to the source and logged within its sampling
      const source = sourceOf(sock.remoteAddress);
      sources.chargeUnauthenticated(source);
      if (unauthLog.allow(source)) logger.log("warn", { msg: "mtls-refused", reason: refused, authenticated: false, remote: source });
      sock.destroy();
    });
    s.on("tlsClientError", (err: Error) => logger.log("debug", { msg: "tls-handshake-failed", error: err.message.slice(0, 200) }));
    main = s;
  } else {
    main = http.createServer(httpOpts, handler);
  }
  main.keepAliveTimeout = c.server.keepAliveTimeoutMs;
  main.maxRequestsPerSocket = 0;
  // the fast path takes node's own connection listener (the first one) before the gate is prepended
  putInFront(main);
  main.maxConnections = c.server.maxConnections;
  main.on("drop", () => metrics.connectionRefused("max_connections"));
  main.prependListener("connection", (socket: Socket) => {
    const admitted = sources.admitConnection(sourceOf(socket.remoteAddress));
    if ("refused" in admitted) {
      metrics.connectionRefused(admitted.refused);
      socket.destroy();
      return;
    }
    if (admitted.key !== "") socket.once("close", () => sources.releaseConnection(admitted.key));
  });
  return main;
}

/** The own-port /ping listener (plain HTTP); /ping answers while `[server.ping] enabled` is in force. */
export function createPingListener(config: () => ProxyConfig): http.Server {
  return http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/ping" && config().server.ping) ping(res);
    else notFound(res);
  });
}

/** The /metrics listener (plain HTTP, its own address); /metrics answers while `[metrics] enabled` is in force. */
export function createMetricsListener(config: () => ProxyConfig, metrics: ProxyMetrics): http.Server {
  return http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics" && config().metrics.enabled) {
      void metrics.registry.metrics().then((text) => send(res, 200, { "content-type": metrics.registry.contentType }, text));
    } else notFound(res);
  });
}
