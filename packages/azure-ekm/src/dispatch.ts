import type { EkmCrypto, EkmKeyPolicy } from "./crypto.js";
import { EkmError, ekmErrorFrom } from "./errors.js";
import { keyMetadata } from "./get-key-metadata.js";
import { proxyInfo, type EkmProxyDescription } from "./info.js";
import { describeServedKey } from "./key-checks.js";
import { parseRequestContext, salvageRequestContext, type EkmRequestContext } from "./request-context.js";
import { parseEkmRoute } from "./route.js";
import type { EkmAlgorithm, EkmOperation } from "./types.js";
import { unwrapKey } from "./unwrap-key.js";
import { wrapKey } from "./wrap-key.js";

/** The largest request body read (bytes). @public */
export const MAX_EKM_BODY = 16 * 1024;

/** One request as the HTTP layer hands it over. @public */
export interface EkmRequest {
  method: string;
  /** The path after the prefix, without the leading "/" (e.g. "my-key/wrapkey"). */
  path: string;
  /** The `api-version` query parameter, or null. */
  apiVersion: string | null;
  /** The Content-Type header, if any. */
  contentType: string | undefined;
  body: Uint8Array;
}

/** What the handlers need besides the request. @public */
export interface EkmHandlerOptions {
  crypto: EkmCrypto;
  policy: EkmKeyPolicy;
  info: EkmProxyDescription;
  /**
   * Health for `info`: undefined when the key manager can serve; otherwise why not (answered as 503
   * ServiceUnavailable, so that Managed HSM's health probe sees the outage).
   */
  health?: () => Promise<string | undefined>;
}

/** The answer, with what the request log and the audit log record. @public */
export interface EkmResponse {
  status: number;
  body: unknown;
  operation?: EkmOperation;
  keyName?: string;
  alg?: EkmAlgorithm;
  /** The API error code when status is not 200. */
  code?: string;
  /** request_context, sanitised (possibly partial when the body was refused). */
  context: Partial<EkmRequestContext>;
}

function parseBody(req: EkmRequest): Record<string, unknown> {
  if (req.body.length > MAX_EKM_BODY) throw new EkmError("BadRequest", `the body is larger than ${MAX_EKM_BODY} bytes`);
  if (req.contentType === undefined || !/^application\/json\s*(;|$)/i.test(req.contentType))
    throw new EkmError("BadRequest", "Content-Type must be application/json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength).toString("utf8"));
  } catch {
    throw new EkmError("BadRequest", "the body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new EkmError("BadRequest", "the body must be a JSON object");
  return parsed as Record<string, unknown>;
}

/**
 * Serves one EKM proxy API request: route and api-version, body and request_context, then the
 * operation. Never throws: every failure becomes the API's `{code, message}` body and status.
 * @public
 */
export async function handleEkmRequest(req: EkmRequest, o: EkmHandlerOptions): Promise<EkmResponse> {
  const res: EkmResponse = { status: 500, body: undefined, context: {} };
  let body: Record<string, unknown> | undefined;
  try {
    const route = parseEkmRoute(req.path, req.apiVersion);
    res.operation = route.operation;
    if (route.keyName !== undefined) res.keyName = route.keyName;
    if (req.method !== "POST") throw new EkmError("BadRequest", "every operation is a POST");
    body = parseBody(req);
    res.context = salvageRequestContext(body);
    res.context = parseRequestContext(body);
    switch (route.operation) {
      case "info": {
        const why = o.health ? await o.health() : undefined;
        if (why !== undefined) throw new EkmError("ServiceUnavailable", why);
        res.body = proxyInfo(o.info);
        break;
      }
      case "metadata":
        res.body = keyMetadata(await describeServedKey(o.crypto, o.policy, route.keyName!, undefined));
        break;
      case "wrapkey": {
        const r = await wrapKey(o.crypto, o.policy, route.keyName!, body);
        res.alg = r.alg;
        res.body = r.body;
        break;
      }
      case "unwrapkey": {
        const r = await unwrapKey(o.crypto, o.policy, route.keyName!, body);
        res.alg = r.alg;
        res.body = r.body;
        break;
      }
    }
    res.status = 200;
  } catch (err) {
    const e = ekmErrorFrom(err);
    res.status = e.httpStatus;
    res.code = e.ekmCode;
    res.body = e.toBody();
    if (res.alg === undefined && typeof body?.alg === "string" && /^[A-Z0-9-]{1,16}$/.test(body.alg)) res.alg = body.alg as EkmAlgorithm;
  } finally {
    // the caller's value field (base64url text) cannot be zeroed; the body bytes can
    if (req.body instanceof Uint8Array) req.body.fill(0);
  }
  return res;
}
