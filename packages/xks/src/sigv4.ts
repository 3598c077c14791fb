import { createHash, timingSafeEqual } from "node:crypto";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
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
   * Hash constructor handed to @smithy/signature-v4 (default {@link NodeSha256}; pass
   * `Sha256` from `@aws-crypto/sha256-js` for a pure-JS one).
   */
  sha256?: new (secret?: string | ArrayBuffer | ArrayBufferView) => {
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
  return { accessKeyId, date, region, service, signedHeaders: list, signature };
}

function headerValue(headers: XksSignedRequest["headers"], name: string): string | undefined {
  let found: string[] | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.toLowerCase() !== name) continue;
    (found ??= []).push(...(typeof v === "string" ? [v] : v));
  }
  return found?.join(",");
}

function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) ? undefined : t;
}

const signers = new WeakMap<XksCredential, Map<unknown, Map<string, SignatureV4>>>();

function signerFor(credential: XksCredential, sha256: NonNullable<VerifySignatureOptions["sha256"]>, service: string): SignatureV4 {
  let bySha = signers.get(credential);
  if (!bySha) signers.set(credential, (bySha = new Map()));
  let byService = bySha.get(sha256);
  if (!byService) bySha.set(sha256, (byService = new Map()));
  let s = byService.get(service);
  if (!s) {
    s = new SignatureV4({
      credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
      region: "us-east-1",
      service,
      sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    byService.set(service, s);
  }
  return s;
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
 * Recomputes the signature with @smithy/signature-v4 over exactly the headers the client listed
 * in `SignedHeaders` (whatever they are), the raw path, the request's region and the SHA-256 of
 * the raw body, then compares in constant time. Checks: algorithm, service `kms-xks-proxy`,
 * access key id among the store's credentials (two may be active during a rotation), region
 * allowed by the store, `x-amz-date` signed and within ±5 minutes, scope date = signing date,
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

  const auth = headerValue(req.headers, "authorization");
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
  const sorted = [...signed].sort();
  if (sorted.some((h, i) => h !== signed[i]) || new Set(signed).size !== signed.length) return fail("SignedHeaders must be sorted and unique");
  if (!signed.includes("host")) return fail("the host header must be signed");
  if (!signed.includes("x-amz-date")) return fail("the x-amz-date header must be signed");

  const amzDate = headerValue(req.headers, "x-amz-date");
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (signedAt === undefined) return fail("x-amz-date is missing or not in the form YYYYMMDDTHHMMSSZ");
  if (amzDate!.slice(0, 8) !== parsed.date) return fail("the credential scope date differs from x-amz-date");
  if (Math.abs(now - signedAt) > maxSkew) return fail("the request time is outside the allowed clock skew");

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const v = headerValue(req.headers, name);
    if (v === undefined) return fail(`the signed header ${name} is missing`);
    headers[name] = v;
  }
  const declaredHash = headers["x-amz-content-sha256"];
  if (declaredHash !== undefined && declaredHash !== createHash("sha256").update(req.body).digest("hex")) {
    return fail("x-amz-content-sha256 does not match the body");
  }

  const host = headers["host"]!;
  const request = new HttpRequest({
    method: req.method,
    protocol: "https:",
    hostname: host.replace(/:\d+$/, ""),
    path: req.path,
    query: parseQuery(req.query),
    headers,
    body: req.body,
  });
  const signer = signerFor(credential, sha256, service);
  const out = await signer.sign(request, {
    signingDate: new Date(signedAt),
    signingRegion: parsed.region,
    signingService: service,
    signableHeaders: new Set(signed),
  });
  const produced = /Signature=([0-9a-f]{64})/.exec(String(out.headers["authorization"] ?? ""))?.[1];
  const producedSignedHeaders = /SignedHeaders=([^,\s]*)/.exec(String(out.headers["authorization"] ?? ""))?.[1];
  if (produced === undefined || producedSignedHeaders !== signed.join(";")) return fail("the signature could not be recomputed");
  const a = Buffer.from(produced, "hex");
  const b = Buffer.from(parsed.signature, "hex");
  if (a.length !== b.length || !timingSafeEqual(a, b)) return fail("the signature does not match");
  return { accessKeyId: parsed.accessKeyId, region: parsed.region, signedHeaders: signed, signedAt };
}
