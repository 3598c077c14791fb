/**
 * Test support: wrapping key pairs made with the openssl CLI, certificates made with python3
 * cryptography, and a batch unwrapper (unwrap.py, next to this file) that shares no code with ciop.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PYTHON = "/usr/bin/python3";

/**
 * The token under test jest's globalSetup gave this run (library, C_Initialize library parameters or
 * "" for none, label, user PIN, scratch dir, kind): SoftHSM2 by default, NSS softokn or SoftHSM2
 * through p11-kit's RPC when CIOP_TEST_TOKEN says so (tools/jest/global-setup.cjs).
 */
export function testToken(): { lib: string; params: string; label: string; pin: string; dir: string; kind: string } {
  const lib = process.env.CIOP_TEST_LIB;
  const label = process.env.CIOP_TEST_TOKEN_LABEL;
  const pin = process.env.CIOP_TEST_PIN;
  const dir = process.env.CIOP_TEST_DIR;
  if (!lib || !label || !pin || !dir) throw new Error("jest globalSetup did not provide the test token");
  return { lib, params: process.env.CIOP_TEST_LIB_PARAMS ?? "", label, pin, dir, kind: process.env.CIOP_TEST_TOKEN_KIND ?? "softhsm2" };
}

export function scratchDir(prefix: string): string {
  const base = process.env.CIOP_TEST_DIR ?? tmpdir();
  return mkdtempSync(join(base, `${prefix}-`));
}

export interface TestKeyPair {
  bits: number;
  /** PEM private key file (for the independent unwrapper). */
  privPath: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
}

/** A fresh RSA key pair from `openssl genpkey`. */
export function opensslRsa(dir: string, bits: number): TestKeyPair {
  const privPath = join(dir, `wrap-${bits}.pem`);
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`, "-out", privPath], { stdio: "ignore" });
  const spki = execFileSync("openssl", ["pkey", "-in", privPath, "-pubout", "-outform", "DER"]);
  return { bits, privPath, spki: new Uint8Array(spki) };
}

/** An EC P-256 public key (a wrong-type wrapping key). */
export function opensslEcSpki(dir: string): Uint8Array {
  const privPath = join(dir, "wrap-ec.pem");
  execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", privPath], { stdio: "ignore" });
  return new Uint8Array(execFileSync("openssl", ["pkey", "-in", privPath, "-pubout", "-outform", "DER"]));
}

/**
 * A self-signed X.509 certificate (PEM) for the key in `privPath`, valid from now-1d to now+30d,
 * or in the past ("expired") or the future ("future"). Made with python3 cryptography.
 */
export function pythonCertificate(privPath: string, validity: "valid" | "expired" | "future" = "valid"): string {
  const script = `
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
now = datetime.datetime.utcnow()
d = datetime.timedelta(days=1)
start, end = {"valid": (now - d, now + 30 * d), "expired": (now - 60 * d, now - 30 * d), "future": (now + 30 * d, now + 60 * d)}[sys.argv[2]]
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ciop test wrapping certificate")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .sign(key, hashes.SHA256()))
sys.stdout.write(cert.public_bytes(serialization.Encoding.PEM).decode())
`;
  return execFileSync(PYTHON, ["-c", script, privPath, validity], { encoding: "utf8" });
}

export interface UnwrapCase {
  id: string;
  file: string;
  encoding: "binary" | "base64" | "azure-byok";
  scheme: "oaep" | "pkcs1" | "rsa-aes" | "rsa-aes-ecb";
  hash: "sha1" | "sha256" | "sha384" | "sha512";
  priv: string;
  kind: "secret" | "private";
  kid?: string;
  kat?: { kind: "aes-gcm" | "hmac-sha1"; iv: string; plaintext: string; message: string };
}

export interface UnwrapResult {
  id: string;
  ok: boolean;
  error?: string;
  len?: number;
  blobLen?: number;
  sha256?: string;
  spki?: string;
  generator?: string;
  kat?: string;
}

/** Runs the independent unwrapper once over many cases. */
export function pythonUnwrap(cases: UnwrapCase[]): Map<string, UnwrapResult> {
  if (cases.length === 0) return new Map();
  // Jest compiles this file to CommonJS (@swc/jest), so __dirname is this package's src/ folder
  // whichever provider's suite imports it.
  const out = execFileSync(PYTHON, [join(__dirname, "unwrap.py")], {
    input: JSON.stringify(cases),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const results = JSON.parse(out) as UnwrapResult[];
  return new Map(results.map((r) => [r.id, r]));
}

export function writeArtefact(dir: string, id: string, bytes: Uint8Array): string {
  const file = join(dir, id);
  writeFileSync(file, bytes);
  return file;
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
