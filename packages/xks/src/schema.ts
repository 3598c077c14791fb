import { UnsupportedOperationException, ValidationException } from "./errors.js";
import { DEFAULT_XKS_LIMITS, type XksLimits, type XksOperation } from "./types.js";

/** `requestMetadata` as KMS sends it; unknown members are kept but never interpreted. @public */
export interface XksRequestMetadata {
  kmsRequestId: string;
  kmsOperation: string;
  awsPrincipalArn?: string;
  kmsKeyArn?: string;
  awsSourceVpc?: string;
  awsSourceVpce?: string;
  kmsViaService?: string;
  [extra: string]: unknown;
}

/** @public */
export interface GetKeyMetadataRequest {
  requestMetadata: XksRequestMetadata;
}
/** @public */
export interface GetHealthStatusRequest {
  requestMetadata: XksRequestMetadata;
}
/** A validated, decoded Encrypt request. @public */
export interface EncryptRequest {
  requestMetadata: XksRequestMetadata;
  plaintext: Uint8Array;
  encryptionAlgorithm: "AES_GCM";
  /** Absent when the request had none (not the same as empty). */
  additionalAuthenticatedData?: Uint8Array;
  ciphertextDataIntegrityValueAlgorithm?: "SHA_256";
}
/** A validated, decoded Decrypt request. @public */
export interface DecryptRequest {
  requestMetadata: XksRequestMetadata;
  ciphertext: Uint8Array;
  encryptionAlgorithm: "AES_GCM";
  initializationVector: Uint8Array;
  authenticationTag: Uint8Array;
  additionalAuthenticatedData?: Uint8Array;
  ciphertextMetadata?: Uint8Array;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses a request body (bytes or text) as a JSON object; anything else is ValidationException. */
export function parseJsonBody(body: Uint8Array | string): Json {
  let text: string;
  try {
    text = typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new ValidationException("the request body is not UTF-8");
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ValidationException("the request body is not valid JSON");
  }
  if (!isObject(v)) throw new ValidationException("the request body must be a JSON object");
  return v;
}

function optionalString(o: Json, field: string, where: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ValidationException(`${where}.${field} must be a string`);
  return v;
}

function requiredString(o: Json, field: string, where: string): string {
  const v = optionalString(o, field, where);
  if (v === undefined) throw new ValidationException(`${where}.${field} is required`);
  return v;
}

/** Fields of requestMetadata each operation requires (spec v1.0.3 §requestMetadata). */
const REQUIRED_METADATA: Readonly<Record<XksOperation, readonly string[]>> = {
  GetHealthStatus: ["kmsRequestId", "kmsOperation"],
  GetKeyMetadata: ["kmsRequestId", "kmsOperation", "awsPrincipalArn"],
  Encrypt: ["kmsRequestId", "kmsOperation", "awsPrincipalArn", "kmsKeyArn"],
  Decrypt: ["kmsRequestId", "kmsOperation", "awsPrincipalArn", "kmsKeyArn"],
};
const OPTIONAL_METADATA = ["awsPrincipalArn", "kmsKeyArn", "awsSourceVpc", "awsSourceVpce", "kmsViaService"];

/**
 * Validates `requestMetadata` for `operation`: required members present and strings; known
 * optional members strings when present; unknown members and unknown kmsOperation values accepted.
 * @public
 */
export function parseRequestMetadata(body: Json, operation: XksOperation): XksRequestMetadata {
  const md = body.requestMetadata;
  if (!isObject(md)) throw new ValidationException("requestMetadata is required and must be an object");
  for (const f of REQUIRED_METADATA[operation]) requiredString(md, f, "requestMetadata");
  for (const f of OPTIONAL_METADATA) optionalString(md, f, "requestMetadata");
  return md as XksRequestMetadata;
}

/**
 * Decodes a standard (RFC 4648 §4, padded) Base64 field. Size is checked on the encoded text
 * first, so an oversized value is refused without decoding it.
 */
function base64Field(o: Json, field: string, opts: { required: boolean; maxBytes?: number; tooLarge?: "unsupported" | "validation" }): Uint8Array | undefined {
  const v = o[field];
  if (v === undefined || v === null) {
    if (opts.required) throw new ValidationException(`${field} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new ValidationException(`${field} must be a Base64 string`);
  if (opts.maxBytes !== undefined && v.length > Math.ceil(opts.maxBytes / 3) * 4) {
    const msg = `${field} is larger than the ${opts.maxBytes} bytes this proxy supports`;
    throw opts.tooLarge === "validation" ? new ValidationException(msg) : new UnsupportedOperationException(msg);
  }
  if (v.length % 4 !== 0 || !B64.test(v)) throw new ValidationException(`${field} must be standard padded Base64 (RFC 4648 section 4)`);
  const bytes = new Uint8Array(Buffer.from(v, "base64"));
  if (opts.maxBytes !== undefined && bytes.length > opts.maxBytes) {
    const msg = `${field} is larger than the ${opts.maxBytes} bytes this proxy supports`;
    throw opts.tooLarge === "validation" ? new ValidationException(msg) : new UnsupportedOperationException(msg);
  }
  return bytes;
}

function encryptionAlgorithm(body: Json): "AES_GCM" {
  const alg = requiredString(body, "encryptionAlgorithm", "request");
  if (alg !== "AES_GCM") throw new ValidationException("encryptionAlgorithm must be AES_GCM");
  return alg;
}

/** Validates a GetKeyMetadata body. @public */
export function parseGetKeyMetadataRequest(body: Uint8Array | string): GetKeyMetadataRequest {
  const o = parseJsonBody(body);
  return { requestMetadata: parseRequestMetadata(o, "GetKeyMetadata") };
}

/** Validates a GetHealthStatus body. @public */
export function parseGetHealthStatusRequest(body: Uint8Array | string): GetHealthStatusRequest {
  const o = parseJsonBody(body);
  return { requestMetadata: parseRequestMetadata(o, "GetHealthStatus") };
}

/**
 * Validates and decodes an Encrypt body. Plaintext larger than `limits.maxPlaintextBytes` or AAD
 * larger than `limits.maxAadBytes` → 501 UnsupportedOperationException; empty plaintext, bad
 * Base64, wrong types or algorithm names → 400 ValidationException.
 * @public
 */
export function parseEncryptRequest(body: Uint8Array | string, limits: XksLimits = DEFAULT_XKS_LIMITS): EncryptRequest {
  const o = parseJsonBody(body);
  const requestMetadata = parseRequestMetadata(o, "Encrypt");
  const plaintext = base64Field(o, "plaintext", { required: true, maxBytes: limits.maxPlaintextBytes })!;
  if (plaintext.length === 0) throw new ValidationException("plaintext must not be empty");
  const alg = encryptionAlgorithm(o);
  const aad = base64Field(o, "additionalAuthenticatedData", { required: false, maxBytes: Math.min(limits.maxAadBytes, 65535) });
  const cdivAlg = optionalString(o, "ciphertextDataIntegrityValueAlgorithm", "request");
  if (cdivAlg !== undefined && cdivAlg !== "SHA_256") throw new ValidationException("ciphertextDataIntegrityValueAlgorithm must be SHA_256");
  const req: EncryptRequest = { requestMetadata, plaintext, encryptionAlgorithm: alg };
  if (aad !== undefined) req.additionalAuthenticatedData = aad;
  if (cdivAlg !== undefined) req.ciphertextDataIntegrityValueAlgorithm = "SHA_256";
  return req;
}

/**
 * Validates and decodes a Decrypt body. Ciphertext larger than `limits.maxPlaintextBytes` or AAD
 * larger than `limits.maxAadBytes` → 501; ciphertextMetadata over 20 bytes, bad Base64 or missing
 * members → 400 ValidationException. IV/tag lengths are checked by the decrypt handler
 * (InvalidCiphertextException).
 * @public
 */
export function parseDecryptRequest(body: Uint8Array | string, limits: XksLimits = DEFAULT_XKS_LIMITS): DecryptRequest {
  const o = parseJsonBody(body);
  const requestMetadata = parseRequestMetadata(o, "Decrypt");
  const ciphertext = base64Field(o, "ciphertext", { required: true, maxBytes: limits.maxPlaintextBytes })!;
  const alg = encryptionAlgorithm(o);
  const initializationVector = base64Field(o, "initializationVector", { required: true, maxBytes: 64, tooLarge: "validation" })!;
  const authenticationTag = base64Field(o, "authenticationTag", { required: true, maxBytes: 64, tooLarge: "validation" })!;
  const aad = base64Field(o, "additionalAuthenticatedData", { required: false, maxBytes: Math.min(limits.maxAadBytes, 65535) });
  const ctm = base64Field(o, "ciphertextMetadata", { required: false, maxBytes: 20, tooLarge: "validation" });
  const req: DecryptRequest = { requestMetadata, ciphertext, encryptionAlgorithm: alg, initializationVector, authenticationTag };
  if (aad !== undefined) req.additionalAuthenticatedData = aad;
  if (ctm !== undefined) req.ciphertextMetadata = ctm;
  return req;
}
