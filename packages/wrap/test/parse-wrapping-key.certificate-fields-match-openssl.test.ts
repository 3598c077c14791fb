/**
 * Certificates made by openssl in the test are read (through @peculiar/x509) to the same subject,
 * issuer, validity, serial and SHA-256 fingerprint that `openssl x509` prints for them.
 *
 * openssl prints names with `-nameopt esc_2253,esc_ctrl,utf8,sep_comma_plus_space,sname`: the
 * one-line form ciop reports (certificate order, ", " between RDNs, " + " inside a multi-valued
 * RDN, RFC 2253 escapes, OpenSSL short names), which is also node:crypto's X509Certificate text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inspectWrappingKey, parseWrappingKey } from "../src/index.js";
import { run, scratchDir } from "./support/openssl.js";

interface OpensslView {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint: string;
  serial: string;
}

const NAMEOPT = "esc_2253,esc_ctrl,utf8,sep_comma_plus_space,sname";

/** What `openssl x509 -noout -subject -issuer -dates -fingerprint -sha256 -serial` prints. */
function opensslView(certPath: string, inform: "PEM" | "DER"): OpensslView {
  const out = run("openssl", [
    "x509",
    "-inform",
    inform,
    "-in",
    certPath,
    "-noout",
    "-subject",
    "-issuer",
    "-dates",
    "-fingerprint",
    "-sha256",
    "-serial",
    "-nameopt",
    NAMEOPT,
  ]).toString("utf8");
  const field = (name: string): string => {
    const line = out.split("\n").find((l) => l.startsWith(`${name}=`));
    if (line === undefined) throw new Error(`openssl printed no ${name}: ${out}`);
    return line.slice(name.length + 1);
  };
  return {
    subject: field("subject"),
    issuer: field("issuer"),
    notBefore: new Date(field("notBefore")),
    notAfter: new Date(field("notAfter")),
    fingerprint: field("sha256 Fingerprint").replace(/:/g, "").toLowerCase(),
    serial: field("serial").toLowerCase(),
  };
}

let dir: string;
let caKey: string;
let caCert: string;

beforeAll(() => {
  dir = scratchDir("wrap-cert-");
  caKey = join(dir, "ca.key");
  caCert = join(dir, "ca.pem");
  run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", caKey]);
  run("openssl", ["req", "-x509", "-new", "-key", caKey, "-out", caCert, "-days", "30", "-subj", "/C=DE/O=ciop test CA/CN=ciop test root"]);
});

/** A leaf signed by the test CA (so subject and issuer differ), as PEM and DER paths. */
function leaf(name: string, keyArgs: string[], subject: string, extra: string[] = []): { pem: string; der: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const pem = join(dir, `${name}.pem`);
  const der = join(dir, `${name}.der`);
  run("openssl", ["genpkey", ...keyArgs, "-out", key]);
  run("openssl", ["req", "-new", "-utf8", "-key", key, "-out", csr, "-subj", subject, "-multivalue-rdn"]);
  run("openssl", ["x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-out", pem, ...extra]);
  run("openssl", ["x509", "-in", pem, "-outform", "DER", "-out", der]);
  return { pem, der };
}

const RSA_2048 = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
const P_384 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"];

describe("certificate fields equal what openssl prints", () => {
  it.each([
    [
      "a plain RSA-2048 leaf (UTCTime dates)",
      "plain",
      RSA_2048,
      "/C=US/O=Example Corp/CN=wrapping key",
      ["-days", "10", "-set_serial", "4660"],
      "C=US, O=Example Corp, CN=wrapping key",
    ],
    [
      "multi-valued RDN, RFC 2253 specials, e-mail, DC, UID, organizationIdentifier",
      "names",
      RSA_2048,
      '/C=US/ST=California/L=San Francisco/O=Foo, Inc./OU=Keys+OU=BYOK/CN=key "one" <a;b>/emailAddress=ops@example.com/DC=example/UID=u-1/2.5.4.97=VATDE-123',
      ["-days", "10"],
      'O=Foo\\, Inc., OU=BYOK + OU=Keys, CN=key \\"one\\" \\<a\\;b\\>, emailAddress=ops@example.com, DC=example, UID=u-1, organizationIdentifier=VATDE-123',
    ],
    [
      "leading '#' and non-ASCII (UTF-8) values",
      "utf8",
      P_384,
      "/O=#1 team/L=Zürich/CN=Schlüssel ünïcödé",
      ["-days", "10"],
      "O=\\#1 team, L=Zürich, CN=Schlüssel ünïcödé",
    ],
    // High bit set: DER carries a 0x00 sign byte that the printed serial leaves out.
    [
      "serial with the high bit set, notAfter after 2049 (GeneralizedTime)",
      "far",
      RSA_2048,
      "/CN=long lived",
      ["-days", "15000", "-set_serial", "0x8badf00ddeadbeef01"],
      "CN=long lived",
    ],
  ])("%s", (_label, name, keyArgs, subject, extra, printed) => {
    const { pem, der } = leaf(name, keyArgs, subject, extra);
    const expected = opensslView(pem, "PEM");
    expect(opensslView(der, "DER")).toEqual(expected);
    // The case really contains what it is named after (as openssl prints it).
    expect(expected.subject).toContain(printed);
    expect(expected.issuer).toBe("C=DE, O=ciop test CA, CN=ciop test root");
    if (name === "far") {
      expect(expected.serial).toBe("8badf00ddeadbeef01");
      expect(expected.notAfter.getUTCFullYear()).toBeGreaterThan(2049);
    }
    // The wrapping key is the certificate's public key: same SPKI DER as openssl extracts.
    const spkiDer = run("openssl", ["pkey", "-pubin", "-outform", "DER"], run("openssl", ["x509", "-in", pem, "-noout", "-pubkey"]));

    for (const input of [readFileSync(pem, "utf8"), readFileSync(der), readFileSync(der).toString("base64")]) {
      const seen = inspectWrappingKey(input);
      expect(seen.format).toBe("certificate");
      expect(seen.certificate).toEqual({
        subject: expected.subject,
        issuer: expected.issuer,
        serialNumber: expected.serial,
        notBefore: expected.notBefore,
        notAfter: expected.notAfter,
        validNow: true,
        sha256: expected.fingerprint,
      });
      const key = parseWrappingKey(input);
      expect(key.certificate).toEqual({
        subject: expected.subject,
        issuer: expected.issuer,
        serialNumber: expected.serial,
        notBefore: expected.notBefore,
        notAfter: expected.notAfter,
      });
      expect(Buffer.from(key.spki).equals(spkiDer)).toBe(true);
    }
  });

  it("the self-signed CA certificate: subject equals issuer, EC P-256", () => {
    const expected = opensslView(caCert, "PEM");
    const seen = inspectWrappingKey(readFileSync(caCert));
    expect(seen.type).toBe("EC");
    expect(seen.bits).toBe(256);
    expect(seen.certificate?.subject).toBe(expected.subject);
    expect(seen.certificate?.issuer).toBe(expected.subject);
    expect(seen.certificate?.sha256).toBe(expected.fingerprint);
    expect(seen.certificate?.notBefore).toEqual(expected.notBefore);
    expect(seen.certificate?.notAfter).toEqual(expected.notAfter);
  });
});

describe("a damaged certificate is refused, not half-read", () => {
  function code(fn: () => unknown): string {
    try {
      fn();
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
    return "no error";
  }

  it.each([
    ["DER with trailing bytes", (der: Buffer) => Buffer.concat([der, Buffer.from([0x05, 0x00])])],
    ["DER cut short", (der: Buffer) => der.subarray(0, der.length - 10)],
    [
      "PEM of DER with trailing bytes",
      (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${Buffer.concat([der, Buffer.from([0x05, 0x00])]).toString("base64")}\n-----END CERTIFICATE-----\n`,
    ],
    [
      "PEM of a certificate whose TBS is not a certificate",
      (der: Buffer) => {
        const bad = Buffer.from(der);
        bad[4] = 0x31; // tbsCertificate SEQUENCE → SET
        return `-----BEGIN CERTIFICATE-----\n${bad.toString("base64")}\n-----END CERTIFICATE-----\n`;
      },
    ],
  ])("%s → ERR_WRAPPING_KEY_INVALID", (_label, damage) => {
    const der = run("openssl", ["x509", "-in", caCert, "-outform", "DER"]);
    expect(inspectWrappingKey(der).format).toBe("certificate");
    expect([der[0], der[1], der[4]]).toEqual([0x30, 0x82, 0x30]); // long-form length: the TBS starts at byte 4
    expect(code(() => parseWrappingKey(damage(der)))).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(code(() => inspectWrappingKey(damage(der)))).toBe("ERR_WRAPPING_KEY_INVALID");
  });
});
