import { createHmac, hash, timingSafeEqual } from "node:crypto";
import { getCanonicalHeaders, getCanonicalQuery, getSigningKey } from "@smithy/signature-v4";
import { AuthenticationFailedException } from "./errors.js";
import { NodeSha256 } from "./sha256.js";
import type { XksCredential, XksKeyStore } from "./types.js";

/** The SigV4 service name KMS signs XKS requests with. @public */
export const XKS_SIGV4_SERVICE = "kms-xks-proxy";

/** A received request, exactly as it came off the wire. @public */
export interface XksSignedRequest {
  /** HTTP method. */
  method: string;
  /** Raw request path (`req.url` up to `?`), never normalised: `//kms/...` stays as it is. */
  path: string;
  /** Raw query string without `?` (KMS sends none). */
  query?: string;
  /**
   * Request headers; names in any case. Repeated headers as arrays (or node's joined form).
   * `Host` must be the header as received, port included.
   */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body bytes. */
  body: Uint8Array;
}

/** Options for {@link verifyXksSignature}. @public */
export interface VerifySignatureOptions {
  /** Current time in ms since the epoch (default Date.now()). */
  now?: number;
  /** Allowed clock skew in ms either way (default 5 minutes). */
  maxSkewMs?: number;
  /** Service name in the credential scope (default `kms-xks-proxy`). */
  service?: string;
  /**
   * Hash constructor for the signing-key derivation by @smithy/signature-v4 (default {@link NodeSha256}; pass
   * `Sha256` from `@aws-crypto/sha256-js` for a pure-JS one).
   */
  sha256?: new (
    secret?: string | ArrayBuffer | ArrayBufferView,
  ) => {
    update(data: string | ArrayBuffer | ArrayBufferView): void;
    digest(): Promise<Uint8Array>;
    reset(): void;
  };
}

/** Who signed a verified request. @public */
export interface VerifiedSignature {
  accessKeyId: string;
  region: string;
  signedHeaders: readonly string[];
  /** Signing time (x-amz-date) in ms since the epoch. */
  signedAt: number;
}

interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  /** SignedHeaders as it came (the names joined with ";"), as the canonical request needs it. */
  signedHeadersText: string;
  signature: string;
}

const fail = (why: string): never => {
  throw new AuthenticationFailedException(`request signature rejected: ${why}`);
};

/** Parses `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`. */
export function parseAuthorizationHeader(value: string): ParsedAuthorization {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(value.trim());
  if (!m) return fail("the Authorization header is not AWS4-HMAC-SHA256");
  const parts = new Map<string, string>();
  for (const piece of m[1]!.split(",")) {
    const p = piece.trim();
    const eq = p.indexOf("=");
    if (eq <= 0) return fail("the Authorization header is malformed");
    const k = p.slice(0, eq);
    if (parts.has(k)) return fail("the Authorization header repeats a component");
    parts.set(k, p.slice(eq + 1));
  }
  const credential = parts.get("Credential");
  const signedHeaders = parts.get("SignedHeaders");
  const signature = parts.get("Signature");
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return fail("the Authorization header needs Credential, SignedHeaders and Signature");
  }
  const scope = credential.split("/");
  if (scope.length !== 5 || scope[4] !== "aws4_request") return fail("the credential scope is malformed");
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  if (!/^\d{8}$/.test(date) || accessKeyId === "" || region === "") return fail("the credential scope is malformed");
  if (!/^[0-9a-f]{64}$/.test(signature)) return fail("the signature is not 64 lowercase hex digits");
  const list = signedHeaders.split(";");
  if (list.some((h) => h === "" || h !== h.toLowerCase())) return fail("SignedHeaders is malformed");
  return { accessKeyId, date, region, service, signedHeaders: list, signedHeadersText: signedHeaders, signature };
}

/**
 * Request headers by lower-case name, repeated headers joined with "," (node already lower-cases
 * and joins; a hand-made object may not). One pass over the object.
 */
function headerMap(headers: XksSignedRequest["headers"]): Map<string, string> {
  const out = new Map<string, string>();
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    const name = k.toLowerCase();
    const value = typeof v === "string" ? v : v.join(",");
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (Number.isNaN(t)) return undefined;
  // Date.UTC rolls over (month 13, second 61): only a real calendar time is accepted
  const d = new Date(t);
  return d.getUTCMonth() === +m[2]! - 1 &&
    d.getUTCDate() === +m[3]! &&
    d.getUTCHours() === +m[4]! &&
    d.getUTCMinutes() === +m[5]! &&
    d.getUTCSeconds() === +m[6]!
    ? t
    : undefined;
}

/**
 * Derived signing keys (kSigning) per credential and `date/region/service`: one derivation per
 * credential, day and region instead of four HMACs per request. The derivation itself is
 * @smithy/signature-v4's `getSigningKey`.
 */
const signingKeys = new WeakMap<XksCredential, Map<string, Buffer>>();
const SIGNING_KEYS_PER_CREDENTIAL = 16;

async function signingKeyFor(
  credential: XksCredential,
  sha256: NonNullable<VerifySignatureOptions["sha256"]>,
  date: string,
  region: string,
  service: string,
): Promise<Buffer> {
  let byScope = signingKeys.get(credential);
  if (!byScope) {
    byScope = new Map();
    signingKeys.set(credential, byScope);
  }
  const scope = `${date}/${region}/${service}`;
  const cached = byScope.get(scope);
  if (cached) return cached;
  const derived = await getSigningKey(sha256, { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey }, date, region, service);
  const key = Buffer.from(derived);
  // dates roll over and regions are few: a small map, emptied when it fills
  if (byScope.size >= SIGNING_KEYS_PER_CREDENTIAL) byScope.clear();
  byScope.set(scope, key);
  return key;
}

function parseQuery(query: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!query) return out;
  for (const [k, v] of new URLSearchParams(query)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * Verifies the SigV4 signature of an XKS request against the credentials of `store`.
 *
 * Recomputes the signature over exactly the headers the client listed in `SignedHeaders`
 * (whatever they are), the raw path, the request's region and the SHA-256 of the raw body, then
 * compares in constant time. Header values and the query are canonicalised by
 * @smithy/signature-v4's `getCanonicalHeaders` and `getCanonicalQuery`; the signing key is derived
 * by its `getSigningKey` and cached per credential, day and region, so a request costs two SHA-256
 * and one HMAC. The tests check every result against signatures made by @smithy/signature-v4 and
 * by curl. Checks: algorithm, service
 * `kms-xks-proxy`, access key id among the store's credentials (two may be active during a
 * rotation), region allowed by the store, `x-amz-date` signed and within ±5 minutes, scope date = signing date,
 * `host` signed, a signed `x-amz-content-sha256` equal to the body's hash.
 *
 * @throws {@link AuthenticationFailedException} (401) on any mismatch.
 * @public
 */
export async function verifyXksSignature(
  req: XksSignedRequest,
  store: Pick<XksKeyStore, "credentials" | "regions">,
  options: VerifySignatureOptions = {},
): Promise<VerifiedSignature> {
  const service = options.service ?? XKS_SIGV4_SERVICE;
  const sha256 = options.sha256 ?? NodeSha256;
  const now = options.now ?? Date.now();
  const maxSkew = options.maxSkewMs ?? 5 * 60_000;

  const headers = headerMap(req.headers);
  const auth = headers.get("authorization");
  if (auth === undefined) return fail("the Authorization header is missing");
  if (auth.includes(",AWS4-HMAC-SHA256")) return fail("more than one Authorization header");
  const parsed = parseAuthorizationHeader(auth);
  if (parsed.service !== service) return fail(`the credential scope service must be ${service}`);

  const credential = store.credentials.find((c) => c.accessKeyId === parsed.accessKeyId);
  if (!credential) return fail("the access key id is not one of this key store's credentials");
  if (store.regions && store.regions.length > 0 && !store.regions.includes(parsed.region)) {
    return fail("the signing region is not accepted by this key store");
  }

  const signed = parsed.signedHeaders;
  for (let i = 1; i < signed.length; i++) if (signed[i - 1]! >= signed[i]!) return fail("SignedHeaders must be sorted and unique");
  if (!signed.includes("host")) return fail("the host header must be signed");
  if (!signed.includes("x-amz-date")) return fail("the x-amz-date header must be signed");

  const amzDate = headers.get("x-amz-date");
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (signedAt === undefined) return fail("x-amz-date is missing or not in the form YYYYMMDDTHHMMSSZ");
  if (amzDate!.slice(0, 8) !== parsed.date) return fail("the credential scope date differs from x-amz-date");
  if (Math.abs(now - signedAt) > maxSkew) return fail("the request time is outside the allowed clock skew");

  // The canonical request (SigV4 task 1): method, the raw path exactly as received (KMS signs it
  // unnormalised, `//` included), the canonical query, the signed headers, their names, and the
  // body's SHA-256.
  const signedValues: Record<string, string> = {};
  for (const name of signed) {
    const v = headers.get(name);
    if (v === undefined) return fail(`the signed header ${name} is missing`);
    signedValues[name] = v;
  }
  // values canonicalised by @smithy/signature-v4 itself; every listed header is kept (signable)
  const canonical = getCanonicalHeaders({ headers: signedValues } as Parameters<typeof getCanonicalHeaders>[0], undefined, new Set(signed));
  let canonicalHeaders = "";
  for (const name of signed) canonicalHeaders += `${name}:${canonical[name]}\n`;
  const bodyHash = hash("sha256", req.body, "hex");
  const declaredHash = signed.includes("x-amz-content-sha256") ? headers.get("x-amz-content-sha256") : undefined;
  if (declaredHash !== undefined && declaredHash !== bodyHash) return fail("x-amz-content-sha256 does not match the body");
  const query = req.query
    ? getCanonicalQuery({ method: req.method, protocol: "https:", hostname: "", path: req.path, query: parseQuery(req.query), headers: {} })
    : "";
  const canonicalRequest = `${req.method}\n${req.path}\n${query}\n${canonicalHeaders}\n${parsed.signedHeadersText}\n${bodyHash}`;

  // The string to sign (task 2) and the signature (tasks 3-4) with the derived key of the scope.
  const scope = `${parsed.date}/${parsed.region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash("sha256", canonicalRequest, "hex")}`;
  const key = await signingKeyFor(credential, sha256, parsed.date, parsed.region, service);
  const produced = createHmac("sha256", key).update(stringToSign).digest();
  const claimed = Buffer.from(parsed.signature, "hex");
  if (claimed.length !== produced.length || !timingSafeEqual(produced, claimed)) return fail("the signature does not match");
  return { accessKeyId: parsed.accessKeyId, region: parsed.region, signedHeaders: signed, signedAt };
}
