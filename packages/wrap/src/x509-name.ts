/**
 * Distinguished names of X.509 certificates as text, the way node:crypto's X509Certificate (and
 * OpenSSL) prints them, for the certificate details `inspectWrappingKey` reports.
 */
import type { Name as AsnName } from "@peculiar/asn1-x509";

/** OpenSSL's short names of the attribute types seen in certificates (as node:crypto prints them). */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.13": "description",
  "2.5.4.15": "businessCategory",
  "2.5.4.17": "postalCode",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.97": "organizationIdentifier",
  "1.2.840.113549.1.9.1": "emailAddress",
  "1.2.840.113549.1.9.2": "unstructuredName",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
  "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
  "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
};

/** RFC 4514 escaping as OpenSSL applies it (ASN1_STRFLGS_ESC_2253 | ESC_CTRL). */
function escapeValue(value: string): string {
  return escapeControlChars(
    value
      .replace(/[,+"\\<>;]/g, (c) => `\\${c}`)
      .replace(/^[ #]/, (c) => `\\${c}`)
      .replace(/ $/, "\\ "),
  );
}

/** Each C0 control character (U+0000-U+001F) and DEL (U+007F) as `\XX`, two upper-case hex digits. */
function escapeControlChars(s: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      out += `${s.slice(from, i)}\\${c.toString(16).toUpperCase().padStart(2, "0")}`;
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

/**
 * A distinguished name in certificate (DER) order, `TYPE=value` joined with ", " and the parts of a
 * multi-valued RDN with " + ": the same text node:crypto's X509Certificate gives (one line).
 */
export function formatName(name: AsnName): string {
  return name
    .map((rdn) =>
      rdn
        .map((atv) => {
          const type = ATTRIBUTE_NAMES[atv.type] ?? atv.type;
          const value = atv.value.anyValue ? `#${Buffer.from(atv.value.anyValue).toString("hex")}` : escapeValue(atv.value.toString());
          return `${type}=${value}`;
        })
        .join(" + "),
    )
    .join(", ");
}
