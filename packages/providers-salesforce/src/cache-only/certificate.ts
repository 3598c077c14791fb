/**
 * The Salesforce BYOK certificate a cache-only key is bound to: an X.509 certificate with a
 * 4096-bit RSA key, inside its validity period.
 */
import { CiopError } from "@ciop/core";
import { inspectWrappingKey, parseWrappingKey, type WrappingKey } from "@ciop/wrap";

/** Key size of a Salesforce BYOK certificate. @public */
export const CACHE_ONLY_CERTIFICATE_BITS = 4096;

/** Facts kept about a bound certificate (the PEM itself is kept too). @public */
export interface CacheOnlyCertificateFacts {
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex. */
  sha256: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

/** Options of {@link checkCacheOnlyCertificate}. @public */
export interface CheckCertificateOptions {
  now?: Date;
  /** Accept a certificate outside its validity period. */
  allowInvalidCertificate?: boolean;
}

/**
 * Parses and checks a Salesforce BYOK certificate (PEM or DER): must be a certificate (not a bare
 * public key), RSA-4096, and valid at `now`.
 * @throws CiopError ERR_WRAPPING_KEY_INVALID, ERR_WRAPPING_KEY_SIZE, ERR_CERTIFICATE_NOT_VALID.
 * @public
 */
export function checkCacheOnlyCertificate(
  input: Uint8Array | string,
  opts: CheckCertificateOptions = {},
): { wrappingKey: WrappingKey; facts: CacheOnlyCertificateFacts; pem: string } {
  const inspection = inspectWrappingKey(input, opts.now ? { now: opts.now } : {});
  if (inspection.format !== "certificate" || !inspection.certificate) {
    throw new CiopError(
      "ERR_WRAPPING_KEY_INVALID",
      "A cache-only key is bound to the Salesforce BYOK certificate (the .crt downloaded from Certificate and Key Management), not to a bare public key.",
    );
  }
  if (inspection.type !== "RSA" || inspection.bits !== CACHE_ONLY_CERTIFICATE_BITS) {
    throw new CiopError(
      "ERR_WRAPPING_KEY_SIZE",
      `A Salesforce BYOK certificate holds a ${CACHE_ONLY_CERTIFICATE_BITS}-bit RSA key; this one is ${inspection.type}-${inspection.bits}.`,
    );
  }
  const wrappingKey = parseWrappingKey(input, {
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.allowInvalidCertificate ? { allowInvalidCertificate: true } : {}),
  });
  const c = inspection.certificate;
  const facts: CacheOnlyCertificateFacts = {
    sha256: inspection.sha256,
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  };
  return { wrappingKey, facts, pem: toPem(input) };
}

function toPem(input: Uint8Array | string): string {
  const text = typeof input === "string" ? input : Buffer.from(input).toString("latin1");
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (m) return `${m[0].replace(/\r\n/g, "\n")}\n`;
  // DER (or base64 of DER): re-encode.
  const der = typeof input === "string" ? Buffer.from(input.replace(/\s+/g, ""), "base64") : Buffer.from(input);
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
