import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CiopError } from "@ciop/core";
import { inspectWrappingKey, parseWrappingKey } from "../src/index.js";
import { makeCertificate, makeWrappingKeyPair, run, type WrappingKeyPair } from "./support/openssl.js";

let kp: WrappingKeyPair;
let fingerprint: string;

beforeAll(() => {
  kp = makeWrappingKeyPair(2048);
  // Independent fingerprint: openssl's SHA-256 over the SPKI DER.
  fingerprint = run("openssl", ["dgst", "-sha256", "-r", kp.spkiDerPath]).toString().split(" ")[0]!;
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (CiopError.isInstance(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return "no error";
}

describe("parseWrappingKey accepts every provider format", () => {
  it.each([
    ["DER SubjectPublicKeyInfo", () => kp.spkiDer],
    ["PEM public key (text)", () => kp.publicPem],
    ["PEM public key (bytes of the file)", () => readFileSync(kp.publicPemPath)],
    ["PEM RSA PUBLIC KEY (PKCS#1)", () => readFileSync(kp.rsaPublicPemPath, "utf8")],
    ["certificate PEM", () => kp.certPem],
    ["certificate DER", () => kp.certDer],
    ["base64 of DER SPKI with line breaks", () => kp.spkiDer.toString("base64").replace(/(.{64})/g, "$1\n")],
    ["base64 of DER SPKI as bytes", () => Buffer.from(kp.spkiDer.toString("base64"))],
    ["base64 of a DER certificate", () => kp.certDer.toString("base64")],
    // issue 18: IBM Key Protect's import token gives `payload` as base64 of a PEM public key
    ["base64 of a PEM public key (IBM import-token payload)", () => Buffer.from(kp.publicPem).toString("base64")],
    ["base64 of a PEM certificate", () => Buffer.from(kp.certPem).toString("base64")],
  ])("%s", (_label, input) => {
    const wk = parseWrappingKey(input());
    expect(wk.type).toBe("RSA");
    expect(wk.bits).toBe(2048);
    expect(wk.strength).toBe(112);
    expect(Buffer.from(wk.spki).equals(kp.spkiDer)).toBe(true);
    expect(wk.sha256).toBe(fingerprint);
  });

  it("reads the certificate's subject, issuer, serial and dates", () => {
    const wk = parseWrappingKey(kp.certPem);
    const serial = run("openssl", ["x509", "-in", kp.certPemPath, "-noout", "-serial"]).toString().trim().split("=")[1]!.toLowerCase();
    expect(wk.certificate?.serialNumber.replace(/^0+/, "")).toBe(serial.replace(/^0+/, ""));
    expect(wk.certificate?.subject).toContain("CN=ciop test wrapping key");
    expect(wk.certificate?.issuer).toContain("CN=ciop test wrapping key");
    const end = run("openssl", ["x509", "-in", kp.certPemPath, "-noout", "-enddate"]).toString().trim().split("=")[1]!;
    expect(wk.certificate?.notAfter.getTime()).toBe(new Date(end).getTime());
  });

  it("reads EC public keys (P-384: 192-bit)", () => {
    const dir = kp.dir;
    const priv = join(dir, "ec.pem");
    run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", priv]);
    const pub = run("openssl", ["pkey", "-in", priv, "-pubout"]).toString();
    const wk = parseWrappingKey(pub);
    expect([wk.type, wk.bits, wk.strength]).toEqual(["EC", 384, 192]);
  });

  it("inspectWrappingKey reports an expired certificate instead of refusing it", () => {
    const out = join(kp.dir, "expired-inspect.crt");
    makeCertificate(kp.privatePemPath, out, { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-01-01T00:00:00Z") });
    const info = inspectWrappingKey(readFileSync(out));
    expect(info.certificate?.validNow).toBe(false);
    expect(info.certificate?.notAfter.toISOString()).toBe("2021-01-01T00:00:00.000Z");
    expect(info).toMatchObject({ type: "RSA", bits: 2048, sha256: fingerprint, strength: 112, format: "certificate" });
    expect(inspectWrappingKey(kp.certPem).certificate?.validNow).toBe(true);
  });
});

describe("parseWrappingKey refuses what it cannot use", () => {
  it.each([
    ["random bytes", () => new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])],
    ["empty text", () => "   "],
    ["text that is not base64", () => "this is not a key"],
    ["truncated DER", () => kp.spkiDer.subarray(0, kp.spkiDer.length - 10)],
    ["DER with trailing bytes", () => Buffer.concat([kp.spkiDer, Buffer.from([0, 0])])],
    ["a CSR", () => run("openssl", ["req", "-new", "-key", kp.privatePemPath, "-subj", "/CN=x"]).toString()],
  ])("%s → ERR_WRAPPING_KEY_INVALID listing the accepted formats", (_label, input) => {
    const msg = code(() => parseWrappingKey(input()));
    expect(msg).toMatch(/^ERR_WRAPPING_KEY_INVALID: .*Accepted: a PEM public key/);
  });

  it.each([
    ["PKCS#8 PEM", () => readFileSync(kp.privatePemPath, "utf8")],
    ["PKCS#1 PEM", () => run("openssl", ["rsa", "-in", kp.privatePemPath, "-traditional"]).toString()],
    ["PKCS#8 DER", () => run("openssl", ["pkey", "-in", kp.privatePemPath, "-outform", "DER"])],
    ["base64 of PKCS#8 DER", () => run("openssl", ["pkey", "-in", kp.privatePemPath, "-outform", "DER"]).toString("base64")],
  ])("a private key (%s) → ERR_WRAPPING_KEY_INVALID telling to pass the public key", (_label, input) => {
    expect(code(() => parseWrappingKey(input()))).toMatch(/^ERR_WRAPPING_KEY_INVALID: This is a private key\. Pass the provider's public wrapping key/);
  });

  it("an expired certificate → ERR_CERTIFICATE_NOT_VALID naming the dates, unless allowed", () => {
    const out = join(kp.dir, "expired.crt");
    makeCertificate(kp.privatePemPath, out, { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-01-01T00:00:00Z") });
    const pem = readFileSync(out, "utf8");
    expect(code(() => parseWrappingKey(pem))).toMatch(
      /^ERR_CERTIFICATE_NOT_VALID: The wrapping certificate has expired: valid from 2020-01-01T00:00:00.000Z to 2021-01-01T00:00:00.000Z/,
    );
    expect(parseWrappingKey(pem, { allowInvalidCertificate: true }).certificate?.notAfter.toISOString()).toBe("2021-01-01T00:00:00.000Z");
  });

  it("a not-yet-valid certificate → ERR_CERTIFICATE_NOT_VALID; valid when `now` is inside the period", () => {
    const out = join(kp.dir, "future.crt");
    makeCertificate(kp.privatePemPath, out, { notBefore: new Date("2099-01-01T00:00:00Z"), notAfter: new Date("2100-01-01T00:00:00Z") });
    const der = execFileSync("openssl", ["x509", "-in", out, "-outform", "DER"]);
    expect(code(() => parseWrappingKey(der))).toMatch(
      /^ERR_CERTIFICATE_NOT_VALID: The wrapping certificate is not valid yet: valid from 2099-01-01T00:00:00.000Z/,
    );
    expect(parseWrappingKey(der, { now: new Date("2099-06-01T00:00:00Z") }).bits).toBe(2048);
  });
});

describe("parseWrappingKey bounds what it reads (issue 18 review)", () => {
  it("refuses input over 64 KiB before parsing it, as text and as bytes", () => {
    // unterminated BEGIN lines made the PEM scan take seconds on a few hundred kB
    const big = "-----BEGIN PUBLIC KEY-----\n".repeat(3000);
    expect(code(() => parseWrappingKey(big))).toMatch(/^ERR_WRAPPING_KEY_INVALID: .*at most 65536/);
    expect(code(() => parseWrappingKey(Buffer.from(big)))).toMatch(/^ERR_WRAPPING_KEY_INVALID: .*at most 65536/);
  });

  it("base64 of a private-key PEM is refused as a private key; base64 is decoded once only", () => {
    const privPem = readFileSync(kp.privatePemPath, "utf8");
    expect(code(() => parseWrappingKey(Buffer.from(privPem).toString("base64")))).toMatch(/^ERR_WRAPPING_KEY_INVALID: .*private/i);
    const twice = Buffer.from(Buffer.from(kp.publicPem).toString("base64")).toString("base64");
    expect(code(() => parseWrappingKey(twice))).toMatch(/^ERR_WRAPPING_KEY_INVALID/);
  });
});
