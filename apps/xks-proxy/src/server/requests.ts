/**
 * Request handling on both HTTP paths: routing (/ping, route groups, the XKS API), the XKS
 * pipeline with its per-source unauthenticated budget, the answer, metrics and the request log.
 * node's path reads bodies and answers through ServerResponse, paced per connection
 * (http/node-pacing.ts); the fast path (http/fast-http.ts) calls {@link Requests.serveXks} directly.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { handleXksHttpRequest, type XksServiceOptions } from "@ciop/xks";
import type { ProxyConfig } from "../config/index.js";
import type { FastHttpOptions, FastResponse } from "../http/fast-http.js";
import { paceNodeRequests } from "../http/node-pacing.js";
import type { Logger } from "../logger.js";
import { sourceOf, type SourceLimits } from "../source-limits.js";
import type { UnauthenticatedLogSampler } from "../unauthenticated-log.js";
import { ping, send } from "./listeners.js";
import type { ProxyMetrics } from "./metrics.js";
import type { RouteGroups } from "./route-groups.js";

const JSON_TYPE = { "content-type": "application/json" } as const;
const THROTTLED_BODY = JSON.stringify({ errorName: "ThrottlingException", errorMessage: "too many unauthenticated requests from this address; retry later" });
const TOO_LARGE_BODY = JSON.stringify({ errorName: "UnsupportedOperationException", errorMessage: "the request body is larger than this proxy supports" });
const INTERNAL_BODY = JSON.stringify({ errorName: "InternalException" });
const GROUP_THROTTLED_BODY = JSON.stringify({ error: "TooManyRequests" });

/** The path of a raw request target (up to "?"). */
export function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

function ms(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

export interface RequestsDeps {
  config: () => ProxyConfig;
  service: XksServiceOptions;
  groups: RouteGroups;
  metrics: ProxyMetrics;
  logger: Logger;
  sources: SourceLimits;
  unauthLog: UnauthenticatedLogSampler;
}

export class Requests {
  /** One-entry memo of {@link sourceOf}: under load, consecutive requests mostly come from one address. */
  private lastRemote: string | undefined = "";
  private lastSource = "unknown";

  constructor(private readonly d: RequestsDeps) {}

  private sourceOf(remote: string | undefined): string {
    if (remote !== this.lastRemote) {
      this.lastRemote = remote;
      this.lastSource = sourceOf(remote);
    }
    return this.lastSource;
  }

  /**
   * One XKS API request, from either HTTP path: the pipeline, the response, then metrics and the
   * request log. A source over its unauthenticated rate gets 429 before any work and its connection
   * is closed; a request that fails before its signature is verified is charged to its source and
   * its log line sampled per source (and carries no metadata from the unsigned body).
   */
  readonly serveXks = async (
    start: bigint,
    method: string,
    rawUrl: string,
    headers: IncomingMessage["headers"],
    body: Buffer,
    respond: (r: FastResponse) => void,
    remote: string | undefined,
  ): Promise<void> => {
    const { sources, metrics, logger, unauthLog } = this.d;
    const source = this.sourceOf(remote);
    if (sources.throttled(source)) {
      metrics.unauthenticatedThrottled();
      respond({ status: 429, headers: JSON_TYPE, body: THROTTLED_BODY, close: true });
      const latency = ms(start);
      metrics.request("unknown", "none", 429, "ThrottlingException", latency);
      if (unauthLog.allow(source))
        logger.log("info", {
          msg: "request",
          status: 429,
          errorName: "ThrottlingException",
          latencyMs: latency,
          authenticated: false,
          remote: source,
          cause: "source over its unauthenticated request rate",
        });
      return;
    }
    const result = await handleXksHttpRequest({ method, url: rawUrl, headers, body }, this.d.service);
    const l = result.log;
    const authenticated = l.authenticated;
    // the request that uses up its source's budget is still answered, then its connection closes
    const close = !authenticated && !sources.chargeUnauthenticated(source);
    respond({ status: result.status, headers: result.headers, body: result.body, authenticated, close });
    const latency = ms(start);
    metrics.request(l.operation ?? "unknown", l.store ?? "none", result.status, l.errorName, latency);
    if (!authenticated && !unauthLog.allow(source)) return;
    // one record shape for both: an unauthenticated request has no metadata (the pipeline reads it
    // only from a verified body), a key id only as the pipeline sanitised it, and its source
    logger.log(result.status >= 500 ? "warn" : "info", {
      msg: "request",
      kmsRequestId: l.kmsRequestId,
      kmsOperation: l.kmsOperation,
      operation: l.operation,
      store: l.store,
      key: l.keyId,
      keyIdInvalid: l.keyIdInvalid,
      status: result.status,
      errorName: l.errorName,
      latencyMs: latency,
      accessKeyId: l.accessKeyId,
      region: l.region,
      cause: l.cause,
      authenticated: authenticated ? undefined : false,
      remote: authenticated ? undefined : source,
    });
  };

  /** A request whose handling threw (either HTTP path): the error's message only, never request data. */
  readonly logFailure = (err: unknown): void => this.d.logger.log("error", { msg: "request-failed", error: (err as Error).message?.slice(0, 200) });

  /** What the fast path needs from the server: which requests it serves, and how. */
  fastPathOptions(): Pick<FastHttpOptions, "accepts" | "handle" | "onError"> {
    const groups = this.d.groups;
    return {
      accepts: (method, target) => method === "POST" && (groups.empty || groups.find(pathOf(target)) === undefined),
      // latency from when the request was read, not from the end-of-turn step that handles it
      handle: (method, target, headers, body, respond, receivedAt, remote) => this.serveXks(receivedAt, method, target, headers, body, respond, remote),
      onError: this.logFailure,
    };
  }

  /** node's request listener: at most 8 requests of one connection started per event-loop turn. */
  nodeHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    const { sources, unauthLog, logger } = this.d;
    return paceNodeRequests((req: IncomingMessage, res: ServerResponse): void => {
      this.onRequest(req, res).catch((err: unknown) => {
        // A client that went away mid-request (before any authentication) is not the proxy's failure:
        // nothing to answer, and a line only as the unauthenticated sampling allows, at debug level.
        if (req.destroyed || (err as NodeJS.ErrnoException).code === "ECONNRESET" || (err as Error).message === "aborted") {
          const source = sourceOf(req.socket.remoteAddress);
          sources.chargeUnauthenticated(source);
          if (unauthLog.allow(source)) logger.log("debug", { msg: "request-aborted", authenticated: false, remote: source });
          res.destroy();
          return;
        }
        this.logFailure(err);
        if (!res.headersSent) send(res, 500, JSON_TYPE, INTERNAL_BODY);
        else res.destroy();
      });
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { config, groups, metrics, logger, sources, unauthLog } = this.d;
    const start = process.hrtime.bigint();
    const rawUrl = req.url ?? "/";
    const pathOnly = pathOf(rawUrl);
    if (req.method === "GET" && pathOnly === "/ping" && config().server.ping) return ping(res);

    const group = groups.find(pathOnly);
    const source = sourceOf(req.socket.remoteAddress);
    if (group) {
      if (sources.throttled(source)) {
        // Over its unauthenticated budget: answered before any work for the group, its body
        // included (a throttled source must not make the proxy wait for, or read, up to
        // max_body_bytes), and without a password check. The connection is closed after the answer.
        metrics.unauthenticatedThrottled();
        res.setHeader("connection", "close");
        res.once("finish", () => req.socket.destroy());
        send(res, 429, { ...JSON_TYPE, "retry-after": "1" }, GROUP_THROTTLED_BODY);
        metrics.request(group.name, group.name, 429, "TooManyRequests", ms(start));
        if (unauthLog.allow(source))
          logger.log("info", { msg: "request", group: group.name, status: 429, errorName: "TooManyRequests", authenticated: false, remote: source });
        return;
      }
    }
    let body: Buffer;
    try {
      body = await readBody(req, config().server.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.setHeader("connection", "close");
      send(res, 501, JSON_TYPE, TOO_LARGE_BODY);
      // read before any authentication: charged and logged as unauthenticated
      sources.chargeUnauthenticated(source);
      if (unauthLog.allow(source))
        logger.log("info", {
          msg: "request",
          status: 501,
          errorName: "UnsupportedOperationException",
          latencyMs: ms(start),
          authenticated: false,
          remote: source,
        });
      return;
    }
    if (group) {
      const r: { status: number; key?: string; errorName?: string; cause?: string; authenticated?: boolean } = await group
        .handle(req, res, body)
        .catch((err: unknown) => {
          if (!res.headersSent) send(res, 500, JSON_TYPE, INTERNAL_BODY);
          else res.end();
          return { status: 500, errorName: "InternalException", cause: (err as Error).message?.slice(0, 200) };
        });
      const latency = ms(start);
      metrics.request(group.name, group.name, r.status, r.errorName, latency);
      if (r.authenticated === false && !sources.chargeUnauthenticated(source)) {
        // the failure that used up the source's budget: no more of this connection's requests
        if (res.writableFinished) req.socket.destroy();
        else res.once("finish", () => req.socket.destroy());
      }
      // a group's 4xx may be anyone's (failed credentials, unknown paths): sampled per source
      const refused = r.status >= 400 && r.status < 500;
      if (!refused || unauthLog.allow(source)) {
        logger.log("info", {
          msg: "request",
          group: group.name,
          method: req.method,
          path: pathOnly.slice(0, 200),
          key: r.key,
          status: r.status,
          errorName: r.errorName,
          latencyMs: latency,
          cause: r.cause,
          authenticated: r.authenticated,
          remote: refused ? source : undefined,
        });
      }
      return;
    }
    await this.serveXks(
      start,
      req.method ?? "GET",
      rawUrl,
      req.headers,
      body,
      (r) => {
        if (r.close === true) {
          // a hostile client: no more of its pipelined requests are read or handled
          res.setHeader("connection", "close");
          res.once("finish", () => req.socket.destroy());
        }
        send(res, r.status, r.headers, r.body);
      },
      req.socket.remoteAddress,
    );
  }
}
