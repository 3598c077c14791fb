import type { XksCrypto, XksKeyPolicy } from "./crypto.js";
import { handleDecrypt } from "./decrypt.js";
import { handleEncrypt } from "./encrypt.js";
import { toXksError, type XksErrorName } from "./errors.js";
import { handleGetHealthStatus, type GetHealthStatusResponse } from "./get-health-status.js";
import { handleGetKeyMetadata } from "./get-key-metadata.js";
import { KEY_ID } from "./key-checks.js";
import type { CompatibilityOptions } from "./metadata.js";
import { routeXksRequest } from "./route.js";
import { parseDecryptRequest, parseEncryptRequest, parseGetHealthStatusRequest, parseGetKeyMetadataRequest, type XksRequestMetadata } from "./schema.js";
import { verifyXksSignature, type VerifySignatureOptions } from "./sigv4.js";
import { DEFAULT_XKS_LIMITS, type XksKeyStore, type XksLimits, type XksOperation } from "./types.js";

/** A raw HTTP request as the server received it. @public */
export interface XksHttpRequest {
  method: string;
  /** The raw request target (`req.url`), e.g. `/prefix/kms/xks/v1/keys/k1/encrypt`. */
  url: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Uint8Array;
}

/**
 * Facts about one request for the access log (never plaintext, AAD or secrets). Nothing in it is
 * text an unauthenticated client chose beyond a bounded, sanitised form: the request metadata is
 * read only from a body whose signature was verified.
 * @public
 */
export interface XksRequestLog {
  /** True once the SigV4 signature was verified (whatever happened after). */
  authenticated: boolean;
  operation?: XksOperation;
  store?: string;
  /** The path's key id, only when it has the XKS key id syntax (1-128 of `A-Z a-z 0-9 - . _`). */
  keyId?: string;
  /**
   * A path key id without that syntax, elided: its first 16 characters with anything outside the
   * syntax shown as `?`, and its length (`abc?def...(2048 chars)`).
   */
  keyIdInvalid?: string;
  /** From the signed body only (absent when the signature was not verified). */
  kmsRequestId?: string;
  /** From the signed body only (absent when the signature was not verified). */
  kmsOperation?: string;
  accessKeyId?: string;
  region?: string;
  errorName?: XksErrorName;
  /** Internal cause of a 5xx (not sent to KMS). */
  cause?: string;
}

/** The HTTP answer. @public */
export interface XksHttpResult {
  status: number;
  headers: Record<string, string>;
  /** Single-line JSON (empty for 405). */
  body: string;
  log: XksRequestLog;
}

/** Everything {@link handleXksHttpRequest} needs. @public */
export interface XksServiceOptions {
  stores: readonly XksKeyStore[];
  /** The key manager (one for all stores, or chosen per store). */
  crypto: XksCrypto | ((store: XksKeyStore) => XksCrypto);
  /** GetHealthStatus body (normally from a HealthMonitor). */
  health: (store: XksKeyStore) => Promise<GetHealthStatusResponse> | GetHealthStatusResponse;
  limits?: XksLimits;
  verify?: VerifySignatureOptions;
  compat?: CompatibilityOptions;
  /** Secondary authorization for key operations. */
  authorize?: (store: XksKeyStore, operation: XksOperation, keyId: string, metadata: XksRequestMetadata) => boolean | Promise<boolean>;
  /**
   * Called after authentication, before any body work: throw ThrottlingException to shed load
   * (per-store quotas), or any XksError.
   */
  admit?: (store: XksKeyStore, operation: XksOperation) => void;
}

const JSON_HEADERS = { "content-type": "application/json" };

function storeName(s: XksKeyStore): string {
  return s.name ?? (s.uriPrefix === "" ? "default" : s.uriPrefix);
}

/**
 * The whole XKS request pipeline without an HTTP server: route (404 InvalidUriPathException /
 * 405), SigV4 (401), admission (429), schema (400/501), key checks and crypto. Always resolves,
 * with the status and the single-line JSON body to send.
 * @public
 */
export async function handleXksHttpRequest(req: XksHttpRequest, options: XksServiceOptions): Promise<XksHttpResult> {
  const log: XksRequestLog = { authenticated: false };
  try {
    const route = routeXksRequest(req.method, req.url, options.stores);
    if (route.kind === "method-not-allowed") return { status: 405, headers: { allow: "POST" }, body: "", log };
    const { store, operation } = route;
    log.operation = operation;
    log.store = storeName(store);
    if (route.keyId !== undefined) {
      if (KEY_ID.test(route.keyId)) log.keyId = route.keyId;
      else log.keyIdInvalid = elide(route.keyId);
    }
    const verified = await verifyXksSignature(
      { method: req.method, path: route.path, query: route.query, headers: req.headers, body: req.body },
      store,
      options.verify,
    );
    log.authenticated = true;
    log.accessKeyId = verified.accessKeyId;
    log.region = verified.region;
    options.admit?.(store, operation);
    const limits = options.limits ?? DEFAULT_XKS_LIMITS;
    const crypto = typeof options.crypto === "function" ? options.crypto(store) : options.crypto;
    const policy: XksKeyPolicy = { keys: store.keys };
    if (options.compat) policy.compat = options.compat;
    if (options.authorize) {
      const authorize = options.authorize;
      policy.authorize = (op, keyId, md) => authorize(store, op, keyId, md);
    }
    let result: unknown;
    switch (operation) {
      case "GetHealthStatus": {
        const r = parseGetHealthStatusRequest(req.body);
        note(log, r.requestMetadata);
        result = await handleGetHealthStatus(r, () => options.health(store));
        break;
      }
      case "GetKeyMetadata": {
        const r = parseGetKeyMetadataRequest(req.body);
        note(log, r.requestMetadata);
        result = await handleGetKeyMetadata(route.keyId!, r, crypto, policy);
        break;
      }
      case "Encrypt": {
        const r = parseEncryptRequest(req.body, limits);
        note(log, r.requestMetadata);
        result = await handleEncrypt(route.keyId!, r, crypto, policy);
        break;
      }
      case "Decrypt": {
        const r = parseDecryptRequest(req.body, limits);
        note(log, r.requestMetadata);
        result = await handleDecrypt(route.keyId!, r, crypto, policy);
        break;
      }
    }
    return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(result), log };
  } catch (err) {
    const e = toXksError(err);
    log.errorName = e.errorName;
    // an unsigned body's metadata is the client's to invent: only a verified one is worth logging
    if (log.kmsRequestId === undefined && log.authenticated) salvageRequestId(log, req.body);
    if (e.httpStatus >= 500 && e.cause !== undefined) log.cause = describeCause(e.cause);
    return { status: e.httpStatus, headers: JSON_HEADERS, body: e.toBody(), log };
  }
}

/** A key id without that syntax, as a short prefix of allowed characters and the length. */
function elide(keyId: string): string {
  return `${keyId.slice(0, 16).replace(/[^A-Za-z0-9._-]/g, "?")}...(${keyId.length} chars)`;
}

function note(log: XksRequestLog, md: XksRequestMetadata): void {
  log.kmsRequestId = md.kmsRequestId;
  log.kmsOperation = md.kmsOperation;
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${(cause as { code?: unknown }).code ?? cause.name}: ${cause.message}`.slice(0, 300);
  return String(cause).slice(0, 300);
}

/** Best effort: the kmsRequestId of a signed request that failed before its body was validated. */
function salvageRequestId(log: XksRequestLog, body: Uint8Array): void {
  if (body.length === 0 || body.length > 65536) return;
  try {
    const md = (JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")) as { requestMetadata?: Record<string, unknown> })
      .requestMetadata;
    if (typeof md?.kmsRequestId === "string") log.kmsRequestId = md.kmsRequestId.slice(0, 200);
    if (typeof md?.kmsOperation === "string") log.kmsOperation = md.kmsOperation.slice(0, 100);
  } catch {
    // not JSON: nothing to salvage
  }
}
