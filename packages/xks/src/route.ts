import { InvalidUriPathException } from "./errors.js";
import type { XksKeyStore, XksOperation } from "./types.js";

/** Where a request goes. @public */
export type XksRoute =
  | { kind: "operation"; operation: XksOperation; store: XksKeyStore; keyId?: string; path: string; query: string }
  | { kind: "method-not-allowed"; allow: "POST" };

const API = "/kms/xks/v1";
const KEY_OPS: Readonly<Record<string, XksOperation>> = { metadata: "GetKeyMetadata", encrypt: "Encrypt", decrypt: "Decrypt" };

/** Prefix as used for matching: repeated slashes collapsed, trailing slash dropped ("/" == ""). */
function canonicalPrefix(prefix: string): string {
  return prefix.replace(/\/{2,}/g, "/").replace(/\/+$/, "");
}

/**
 * Decides which store and operation a request is for, from the method and the raw request target
 * (`req.url`, never parsed against a base URL). The path is not normalised for the signature;
 * for matching, a prefix of "/" (the `//kms/...` form some clients send for an empty prefix)
 * equals the empty prefix.
 *
 * - `POST [/<prefix>]/kms/xks/v1/health` and `.../keys/{keyId}/{metadata|encrypt|decrypt}`: the operation;
 * - any other method on those paths: `{ kind: "method-not-allowed" }` (answer 405);
 * - anything else: throws {@link InvalidUriPathException} (404).
 * @public
 */
export function routeXksRequest(method: string, rawTarget: string, stores: readonly XksKeyStore[]): XksRoute {
  const q = rawTarget.indexOf("?");
  const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
  const query = q < 0 ? "" : rawTarget.slice(q + 1);
  const at = path.lastIndexOf(`${API}/`);
  if (at < 0 || !path.startsWith("/") || path.length > 2048) throw new InvalidUriPathException("the URI path is not an XKS API path of this proxy");
  const prefix = canonicalPrefix(path.slice(0, at));
  const rest = path.slice(at + API.length + 1);
  let operation: XksOperation | undefined;
  let keyId: string | undefined;
  if (rest === "health") operation = "GetHealthStatus";
  else {
    const m = /^keys\/([^/]+)\/([a-z]+)$/.exec(rest);
    if (m && KEY_OPS[m[2]!] !== undefined) {
      operation = KEY_OPS[m[2]!];
      keyId = m[1]!;
    }
  }
  const store = stores.find((s) => canonicalPrefix(s.uriPrefix) === prefix);
  if (!operation || !store) throw new InvalidUriPathException("the URI path is not an XKS API path of this proxy");
  if (method !== "POST") return { kind: "method-not-allowed", allow: "POST" };
  return keyId === undefined
    ? { kind: "operation", operation: operation!, store, path, query }
    : { kind: "operation", operation: operation!, store, keyId, path, query };
}
