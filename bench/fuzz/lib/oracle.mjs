// What an answer may be, from the XKS Proxy API spec v1.0.3 (the error table, its per-operation
// rules and the response shapes) and from HTTP: written here from the spec, not taken from the
// proxy's code, so a wrong status/errorName pair in the proxy cannot agree with itself.

const ALL = ["Encrypt", "Decrypt", "GetKeyMetadata", "GetHealthStatus"];
const KEYS = ["Encrypt", "Decrypt", "GetKeyMetadata"];
/** errorName -> [HTTP status, operations it may answer] */
export const SPEC_ERRORS = {
  ValidationException: [400, ALL],
  InvalidStateException: [400, ALL],
  InvalidCiphertextException: [400, ["Decrypt"]],
  InvalidKeyUsageException: [400, ["Encrypt", "Decrypt"]],
  AuthenticationFailedException: [401, ALL],
  AccessDeniedException: [403, KEYS],
  KeyNotFoundException: [404, KEYS],
  InvalidUriPathException: [404, ALL],
  ThrottlingException: [429, ALL],
  InternalException: [500, ALL],
  UnsupportedOperationException: [501, ALL],
  DependencyTimeoutException: [503, ALL],
};
/** On a path that is not an API path of a configured store, only these can be meant. */
const NOT_API = new Set(["InvalidUriPathException", "ThrottlingException", "InternalException", "UnsupportedOperationException", "DependencyTimeoutException"]);
/** What an unauthenticated request may get (routing and size come before SigV4). */
const BEFORE_AUTH = new Set(["AuthenticationFailedException", "InvalidUriPathException", "ThrottlingException", "UnsupportedOperationException"]);
/** Statuses node's HTTP parser answers malformed input with (no JSON body). */
const PARSER_STATUSES = new Set([400, 408, 413, 414, 417, 431, 505]);
const OP_OF = { encrypt: "Encrypt", decrypt: "Decrypt", metadata: "GetKeyMetadata" };

/** The operation a raw request target names on one of `prefixes`, or undefined when it is no API path. */
export function routeOf(target, prefixes) {
  if (typeof target !== "string") return undefined;
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const at = path.lastIndexOf("/kms/xks/v1/");
  if (at < 0 || !path.startsWith("/")) return undefined;
  const prefix = path
    .slice(0, at)
    .replace(/\/{2,}/g, "/")
    .replace(/\/+$/, "");
  if (!prefixes.includes(prefix)) return undefined;
  const rest = path.slice(at + "/kms/xks/v1/".length);
  if (rest === "health") return "GetHealthStatus";
  const m = /^keys\/([^/]+)\/([a-z]+)$/.exec(rest);
  return m ? OP_OF[m[2]] : undefined;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const b64len = (s) => (typeof s === "string" && B64.test(s) ? Buffer.from(s, "base64").length : -1);

/** Why a 200 body is not the operation's response shape, or undefined when it is. */
function badSuccess(op, j) {
  const checks = {
    Encrypt: () => {
      if (b64len(j.ciphertext) < 0) return "ciphertext not Base64";
      if (![12, 16].includes(b64len(j.initializationVector))) return "initializationVector not 12 or 16 bytes";
      if (b64len(j.authenticationTag) !== 16) return "authenticationTag not 16 bytes";
      if (j.ciphertextMetadata !== undefined && !(b64len(j.ciphertextMetadata) >= 0 && b64len(j.ciphertextMetadata) <= 20))
        return "ciphertextMetadata over 20 bytes";
      if (j.ciphertextDataIntegrityValue !== undefined && b64len(j.ciphertextDataIntegrityValue) !== 32) return "ciphertextDataIntegrityValue not 32 bytes";
    },
    Decrypt: () => (b64len(j.plaintext) < 0 ? "plaintext not Base64" : undefined),
    GetKeyMetadata: () => {
      if (j.keySpec !== "AES_256") return "keySpec not AES_256";
      if (!Array.isArray(j.keyUsage) || j.keyUsage.length > 10 || j.keyUsage.some((u) => typeof u !== "string"))
        return "keyUsage not a list of at most 10 strings";
      if (!["ENABLED", "DISABLED"].includes(j.keyStatus)) return "keyStatus not ENABLED/DISABLED";
    },
    GetHealthStatus: () => {
      if (!Number.isInteger(j.xksProxyFleetSize) || j.xksProxyFleetSize < 1) return "xksProxyFleetSize";
      for (const f of ["xksProxyVendor", "xksProxyModel", "ekmVendor"]) if (typeof j[f] !== "string") return f;
      const d = j.ekmFleetDetails;
      if (!Array.isArray(d) || d.length < 1 || d.length > 10) return "ekmFleetDetails";
      if (d.some((m) => typeof m?.id !== "string" || typeof m?.model !== "string" || !["ACTIVE", "DEGRADED", "UNAVAILABLE"].includes(m?.healthStatus)))
        return "ekmFleetDetails member";
    },
  };
  if (op) return checks[op]();
  // unknown operation (a pipelined or mangled request): any one shape will do
  const fails = Object.values(checks).map((c) => c());
  return fails.some((f) => f === undefined) ? undefined : "no operation's response shape";
}

/**
 * Classifies one answer to `req` ({ method, target, authGood, control, wellFormed }).
 * Returns { cls, finding?: { type, detail } }; cls is one of 2xx, xks-4xx, 405, throttled,
 * 501, 503, 5xx, ping, metrics, parser-4xx, non-spec.
 */
export function judge(resp, req, prefixes) {
  const op = routeOf(req?.target, prefixes);
  const api = op !== undefined;
  const known = req && req.target !== "?";
  const ct = resp.headers.find(([n]) => n === "content-type")?.[1] ?? "";
  const text = resp.body.toString("utf8");
  const nonSpec = (detail) => ({ cls: "non-spec", finding: { type: "non-spec", detail } });
  if (resp.method === "HEAD") {
    // no body to judge: the status alone
    if (resp.status >= 500 && resp.status !== 501 && resp.status !== 503)
      return { cls: "5xx", finding: { type: "unexpected-5xx", detail: `${resp.status} to HEAD` } };
    if (resp.status === 429) return { cls: "throttled" };
    if (resp.status === 200 && req?.authGood === false && api) return { cls: "2xx", finding: { type: "auth-leak", detail: "200 to an unsigned HEAD" } };
    return { cls: "head" };
  }
  const looksJson = /^application\/json/i.test(ct) || /^\s*[[{]/.test(text);
  if (resp.status >= 500 && !looksJson) return { cls: "5xx", finding: { type: "unexpected-5xx", detail: `${resp.status} without a JSON body` } };
  if (looksJson) {
    let j;
    try {
      j = JSON.parse(text);
    } catch {
      return nonSpec(`${resp.status} with a JSON content type and a body that does not parse`);
    }
    if (!/^application\/json/i.test(ct)) return nonSpec(`JSON answer with content-type ${JSON.stringify(ct)}`);
    if (resp.status === 200) {
      if (req?.authGood === false) return { cls: "2xx", finding: { type: "auth-leak", detail: "200 to a request without a valid signature" } };
      if (known && !api) return nonSpec("200 JSON on a path that is no API path");
      const bad = badSuccess(op, j);
      return bad ? nonSpec(`200 body: ${bad}`) : { cls: "2xx" };
    }
    if (resp.status < 400) return nonSpec(`${resp.status} with a JSON body`);
    if (typeof j !== "object" || j === null || typeof j.errorName !== "string") return nonSpec(`${resp.status} JSON error without errorName`);
    const spec = SPEC_ERRORS[j.errorName];
    if (!spec) return nonSpec(`unknown errorName ${JSON.stringify(j.errorName).slice(0, 60)}`);
    if (spec[0] !== resp.status) return nonSpec(`${resp.status} ${j.errorName} (the spec pairs it with ${spec[0]})`);
    if (api && !spec[1].includes(op)) return nonSpec(`${j.errorName} answering ${op}`);
    if (known && !api && !NOT_API.has(j.errorName)) return nonSpec(`${j.errorName} on a path that is no API path`);
    if (j.errorMessage !== undefined && (typeof j.errorMessage !== "string" || j.errorMessage.length >= 512 || /[^\x20-\x7e]/.test(j.errorMessage)))
      return nonSpec("errorMessage not under 512 printable ASCII characters");
    if (req?.authGood === false && !BEFORE_AUTH.has(j.errorName))
      return {
        cls: "xks-4xx",
        finding: {
          type: "auth-leak",
          detail: `${resp.status} ${j.errorName} to a request without a valid signature (the body was looked at before authentication)`,
        },
      };
    if (req?.control && resp.status !== 429)
      return { cls: "xks-4xx", finding: { type: "control-failed", detail: `${resp.status} ${j.errorName}: ${String(j.errorMessage ?? "").slice(0, 120)}` } };
    if (resp.status === 429) return { cls: "throttled" };
    if (resp.status === 501) return { cls: "501" };
    if (resp.status === 503) return { cls: "503" };
    if (resp.status >= 500) return { cls: "5xx", finding: { type: "unexpected-5xx", detail: `${resp.status} ${j.errorName}` } };
    return { cls: "xks-4xx" };
  }
  if (req?.control) return { cls: "non-spec", finding: { type: "control-failed", detail: `${resp.status} without a JSON body` } };
  if (resp.status === 405) {
    if (text.length > 0) return nonSpec("405 with a body");
    return { cls: "405" };
  }
  if (resp.status === 200 && text === "pong\n") return { cls: "ping" };
  if (resp.status === 200 && /^# HELP /m.test(text)) return { cls: "metrics" };
  if (resp.status === 429) return { cls: "throttled" };
  if (PARSER_STATUSES.has(resp.status)) {
    if (req?.wellFormed && known && api) return nonSpec(`${resp.status} without errorName to a well-formed API request`);
    return { cls: "parser-4xx" };
  }
  return nonSpec(`${resp.status} without a JSON body`);
}
