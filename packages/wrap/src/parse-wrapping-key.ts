/**
 * Reading a provider's wrapping key from whatever the provider hands out: DER SubjectPublicKeyInfo
 * (AWS, Alibaba: often base64 in JSON), PEM public keys (Google, Azure), PKCS#1 RSA public keys,
 * and X.509 certificates in PEM or DER (Google CSEK, Salesforce).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CiopError } from "@ciop/core";
import { asn1SchemaLib, asn1X509Lib, x509Lib } from "./asn1-libs.js";
import type { WrappingKey } from "./engine.js";
import { isExactDerSequence } from "./der.js";
import { spkiFacts, type PublicKeyFacts } from "./public-key-facts.js";
import { wrappingKeyStrength } from "./strength.js";
import { formatName } from "./x509-name.js";

/** Options of {@link parseWrappingKey}. @public */
export interface ParseWrappingKeyOptions {
  /** The time to check a certificate's validity period against (default: now). */
  now?: Date;
  /** Accept an expired or not-yet-valid certificate (the key is still used). */
  allowInvalidCertificate?: boolean;
}

/** What {@link inspectWrappingKey} reports. @public */
export interface WrappingKeyInspection {
  type: "RSA" | "EC";
  bits: number;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex. */
  sha256: string;
  /** Security strength in bits (see keyTypeStrength / rsaStrength). */
  strength: number;
  /** What the input was. */
  format: "spki" | "pkcs1" | "certificate";
  certificate?: {
    subject: string;
    issuer: string;
    serialNumber: string;
    notBefore: Date;
    notAfter: Date;
    /** Whether `now` lies inside [notBefore, notAfter]. */
    validNow: boolean;
    /** SHA-256 of the certificate's DER (what `openssl x509 -fingerprint -sha256` prints), lower-case hex. */
    sha256: string;
  };
}

const ACCEPTED =
  "Accepted: a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY), an X.509 certificate (PEM or DER, .crt/.cer/.pem), " +
  "DER SubjectPublicKeyInfo, or base64 of DER SubjectPublicKeyInfo / certificate / PEM.";

const EC_BITS: Readonly<Record<string, number>> = { prime256v1: 256, secp256k1: 256, secp384r1: 384, secp521r1: 521 };

const PRIVATE_LABELS = /^(?:(?:RSA |EC |DSA |ENCRYPTED |OPENSSH )?PRIVATE KEY)$/;

interface Parsed {
  key: KeyObject;
  format: WrappingKeyInspection["format"];
  cert?: CertificateInfo;
}

/** What is read from a certificate, eagerly (so that a malformed field fails parsing, not later). */
interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  sha256: string;
}

function invalid(what: string, cause?: unknown): CiopError {
  return new CiopError("ERR_WRAPPING_KEY_INVALID", `${what} ${ACCEPTED}`, cause === undefined ? undefined : { cause });
}

function privateGiven(): CiopError {
  return new CiopError(
    "ERR_WRAPPING_KEY_INVALID",
    "This is a private key. Pass the provider's public wrapping key (or its certificate) instead; a wrapping key's private half never leaves the provider.",
  );
}

function looksLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09)) return false;
  return true;
}

/**
 * A DER SubjectPublicKeyInfo that node:crypto reads and writes back byte for byte is exactly one
 * DER SEQUENCE with nothing trailing: for it (the usual provider public key file) the framing check
 * below, and the ASN.1 decoder it loads, are not needed. Undefined for anything else.
 */
function exactSpki(der: Buffer): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: der, format: "der", type: "spki" });
    return key.export({ format: "der", type: "spki" }).equals(der) ? key : undefined;
  } catch {
    return undefined;
  }
}

function tryParsePublicDer(der: Buffer): Parsed | undefined {
  // (an exact SPKI is never private key DER: those are SEQUENCEs that start with an INTEGER)
  const spki = exactSpki(der);
  if (spki) return { key: spki, format: "spki" };
  if (!isExactDerSequence(der)) return undefined;
  // node:crypto derives a public key from private key input: look for private keys first.
  if (isPrivateDer(der)) throw privateGiven();
  try {
    return { key: createPublicKey({ key: der, format: "der", type: "spki" }), format: "spki" };
  } catch {
    /* not SPKI */
  }
  try {
    return parseCertificate(der);
  } catch {
    /* not a certificate */
  }
  try {
    return { key: createPublicKey({ key: der, format: "der", type: "pkcs1" }), format: "pkcs1" };
  } catch {
    /* not PKCS#1 */
  }
  return undefined;
}

function isPrivateDer(der: Buffer): boolean {
  for (const type of ["pkcs8", "pkcs1", "sec1"] as const) {
    try {
      createPrivateKey({ key: der, format: "der", type });
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

function parsePem(text: string): Parsed {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) throw invalid("The PEM text has no complete BEGIN/END block.");
  if (blocks.some((m) => PRIVATE_LABELS.test(m[1]!))) throw privateGiven();
  const first = blocks[0]!;
  const label = first[1]!;
  let der: Buffer;
  try {
    const body = first[2]!.replace(/^[A-Za-z-]+:.*$/gm, "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new Error("bad base64");
    der = Buffer.from(body, "base64");
  } catch (err) {
    throw invalid(`The PEM block "${label}" does not contain valid base64.`, err);
  }
  try {
    if (label === "PUBLIC KEY") {
      const key = exactSpki(der);
      if (key) return { key, format: "spki" };
      if (!isExactDerSequence(der)) throw new Error("trailing or truncated DER");
      return { key: createPublicKey({ key: der, format: "der", type: "spki" }), format: "spki" };
    }
    if (label === "RSA PUBLIC KEY") {
      if (!isExactDerSequence(der)) throw new Error("trailing or truncated DER");
      return { key: createPublicKey({ key: der, format: "der", type: "pkcs1" }), format: "pkcs1" };
    }
    if (label === "CERTIFICATE" || label === "X509 CERTIFICATE") {
      if (!isExactDerSequence(der)) throw new Error("trailing or truncated DER");
      return parseCertificate(der);
    }
  } catch (err) {
    throw invalid(`The PEM block "${label}" could not be parsed.`, err);
  }
  throw invalid(`Unsupported PEM block "${label}".`);
}

/**
 * Largest wrapping-key input read, in bytes or characters: a provider's RSA-4096 certificate in
 * PEM is a few kB. Bounds the work done on a file given by mistake (the PEM scan is not linear
 * in the number of unterminated BEGIN lines).
 */
const MAX_INPUT = 64 * 1024;

function parseAny(input: Uint8Array | string): Parsed {
  if (typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw invalid("The wrapping key must be bytes or text.");
  }
  if (input.length > MAX_INPUT) {
    throw invalid(
      `The input is ${input.length} ${typeof input === "string" ? "characters" : "bytes"} long; a wrapping key or certificate is at most ${MAX_INPUT}.`,
    );
  }
  let text: string | undefined;
  if (typeof input === "string") text = input;
  else if (input.length > 0 && input[0] !== 0x30 && looksLikeText(input)) text = Buffer.from(input).toString("latin1");

  if (text === undefined) {
    const der = Buffer.from(input as Uint8Array);
    const parsed = tryParsePublicDer(der);
    if (parsed) return parsed;
    if (isPrivateDer(der)) throw privateGiven();
    throw invalid("The bytes are not a DER public key or certificate.");
  }
  if (text.includes("-----BEGIN")) return parsePem(text);
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0) throw invalid("The wrapping key is empty.");
  let der: Buffer;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact) && compact.length % 4 === 0) der = Buffer.from(compact, "base64");
  else if (/^[A-Za-z0-9_-]+$/.test(compact)) der = Buffer.from(compact, "base64url");
  else throw invalid("The text is neither PEM nor base64.");
  const parsed = tryParsePublicDer(der);
  if (parsed) return parsed;
  if (isPrivateDer(der)) throw privateGiven();
  // base64 of a PEM document (IBM Key Protect's import token `payload`): decoded once, never nested
  const inner = der.toString("latin1");
  if (/^\s*-----BEGIN [A-Z0-9 ]+-----/.test(inner)) return parsePem(inner);
  throw invalid("The base64 text does not decode to a DER public key, a certificate or a PEM document.");
}

/**
 * Reads an X.509 certificate (DER) with @peculiar/x509. The public key is handed to node:crypto as
 * SubjectPublicKeyInfo DER (`publicKey.rawData`) so that it is validated and used like any other
 * wrapping key. Everything used here is synchronous (no WebCrypto provider is needed: the SHA-256
 * fingerprint is computed with node:crypto). The libraries are loaded here, on the first
 * certificate (asn1-libs.ts).
 */
function parseCertificate(der: Uint8Array): Parsed {
  const cert = new (x509Lib().X509Certificate)(der);
  // The distinguished names are formatted from the ASN.1 structure (@peculiar/asn1-x509) so that
  // attribute types and escaping match what node:crypto and OpenSSL print.
  const tbs = asn1SchemaLib().AsnConvert.parse(cert.rawData, asn1X509Lib().Certificate).tbsCertificate;
  const spki = new Uint8Array(cert.publicKey.rawData);
  const info: CertificateInfo = {
    subject: formatName(tbs.subject),
    issuer: formatName(tbs.issuer),
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    sha256: createHash("sha256").update(der).digest("hex"),
  };
  if (Number.isNaN(info.notBefore.getTime()) || Number.isNaN(info.notAfter.getTime())) throw new Error("unreadable validity dates");
  return { key: createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }), format: "certificate", cert: info };
}

function describe(parsed: Parsed): { type: "RSA" | "EC"; bits: number; spki: Uint8Array } {
  const { key } = parsed;
  // Sizes and curve are read from the SPKI DER, not from key.asymmetricKeyDetails (which can
  // deadlock Node 20: see public-key-facts.ts).
  const spki = new Uint8Array(key.export({ format: "der", type: "spki" }));
  let details: PublicKeyFacts;
  try {
    details = spkiFacts(spki);
  } catch (err) {
    throw invalid("The public key's SubjectPublicKeyInfo could not be read.", err);
  }
  let type: "RSA" | "EC";
  let bits: number;
  if (key.asymmetricKeyType === "rsa") {
    type = "RSA";
    bits = details.modulusLength ?? 0;
    if (bits < 1024) throw invalid(`The RSA key has ${bits} bits; at least 1024 (in practice 2048-4096) are required.`);
  } else if (key.asymmetricKeyType === "ec") {
    type = "EC";
    bits = EC_BITS[details.namedCurve ?? ""] ?? 0;
    if (bits === 0) throw invalid(`The EC curve "${details.namedCurve ?? "unknown"}" is not supported (P-256, P-384, P-521, secp256k1).`);
  } else {
    throw invalid(`The key is of type "${key.asymmetricKeyType ?? "unknown"}"; wrapping keys are RSA (rsaEncryption) or EC.`);
  }
  return { type, bits, spki };
}

function certInfo(cert: CertificateInfo, now: Date): NonNullable<WrappingKeyInspection["certificate"]> {
  const t = now.getTime();
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    validNow: t >= cert.notBefore.getTime() && t <= cert.notAfter.getTime(),
    sha256: cert.sha256,
  };
}

/**
 * Describes a wrapping key without judging it: type, size, SHA-256 fingerprint of the SPKI,
 * strength and, for certificates, subject/issuer/serial/validity (an expired certificate is
 * reported, not refused). Throws ERR_WRAPPING_KEY_INVALID for unreadable input or private keys.
 * @public
 */
export function inspectWrappingKey(input: Uint8Array | string, opts: { now?: Date } = {}): WrappingKeyInspection {
  const parsed = parseAny(input);
  const { type, bits, spki } = describe(parsed);
  const result: WrappingKeyInspection = {
    type,
    bits,
    sha256: createHash("sha256").update(spki).digest("hex"),
    strength: wrappingKeyStrength({ type, bits }),
    format: parsed.format,
  };
  if (parsed.cert) result.certificate = certInfo(parsed.cert, opts.now ?? new Date());
  return result;
}

/**
 * Parses a provider's wrapping key. Accepts DER SubjectPublicKeyInfo, PEM `PUBLIC KEY`,
 * PEM `RSA PUBLIC KEY` (PKCS#1), X.509 certificates (PEM or DER), base64 of DER (whitespace
 * tolerated) and base64 of a PEM document (IBM Key Protect's import-token `payload`), as bytes or text.
 *
 * @throws CiopError `ERR_WRAPPING_KEY_INVALID` for anything else (including private keys, with a
 * hint to pass the public key), `ERR_CERTIFICATE_NOT_VALID` for a certificate outside its
 * validity period unless `allowInvalidCertificate`.
 * @public
 */
export function parseWrappingKey(input: Uint8Array | string, opts: ParseWrappingKeyOptions = {}): WrappingKey {
  const parsed = parseAny(input);
  const { type, bits, spki } = describe(parsed);
  const key: {
    -readonly [K in keyof WrappingKey]: WrappingKey[K];
  } = {
    type,
    bits,
    spki,
    sha256: createHash("sha256").update(spki).digest("hex"),
    strength: wrappingKeyStrength({ type, bits }),
  };
  if (parsed.cert) {
    const info = certInfo(parsed.cert, opts.now ?? new Date());
    if (!info.validNow && !opts.allowInvalidCertificate) {
      const when = (opts.now ?? new Date()).toISOString();
      const state = (opts.now ?? new Date()).getTime() < info.notBefore.getTime() ? "is not valid yet" : "has expired";
      throw new CiopError(
        "ERR_CERTIFICATE_NOT_VALID",
        `The wrapping certificate ${state}: valid from ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()}, now is ${when}. ` +
          "Get a current certificate from the provider, or explicitly allow an invalid certificate.",
        { details: { notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), subject: info.subject } },
      );
    }
    key.certificate = {
      subject: info.subject,
      issuer: info.issuer,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      serialNumber: info.serialNumber,
    };
  }
  return key;
}

/** node:crypto public key object of a parsed wrapping key. @internal */
export function wrappingPublicKeyObject(wrappingKey: WrappingKey): KeyObject {
  return createPublicKey({ key: Buffer.from(wrappingKey.spki), format: "der", type: "spki" });
}
