/**
 * Test support shared by @ciop/wrap and the provider packages: make RSA wrapping key pairs and
 * certificates with openssl / python, and undo every construction with tools nobody in this
 * repository wrote (openssl 3 CLI, /usr/bin/python3 cryptography and jwcrypto).
 *
 * Import by relative path from another package's tests, e.g.
 *   import { makeWrappingKeyPair, rsaAesUnwrap } from "../../wrap/test/support/openssl.js";
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Hash = "sha1" | "sha256" | "sha384" | "sha512";

/** A scratch directory under CIOP_TEST_DIR (or the OS temp dir). */
export function scratchDir(prefix = "wrap-"): string {
  return mkdtempSync(join(process.env.CIOP_TEST_DIR ?? tmpdir(), prefix));
}

/** Runs a command, returns stdout; throws with stderr on failure. */
export function run(cmd: string, args: string[], input?: Uint8Array | string): Buffer {
  try {
    return execFileSync(cmd, args, { input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** Runs a python snippet with Debian's /usr/bin/python3 (sees python3-cryptography and jwcrypto). */
export function python(script: string, args: string[] = [], input?: Uint8Array | string): Buffer {
  return run("/usr/bin/python3", ["-c", script, ...args], input);
}

export interface WrappingKeyPair {
  dir: string;
  bits: number;
  /** Private key, PKCS#8 PEM (the test keeps it; the tool only gets public parts). */
  privatePemPath: string;
  publicPemPath: string;
  /** PKCS#1 "BEGIN RSA PUBLIC KEY" PEM. */
  rsaPublicPemPath: string;
  spkiDerPath: string;
  spkiDer: Buffer;
  publicPem: string;
  certPemPath: string;
  certDerPath: string;
  certPem: string;
  certDer: Buffer;
}

export interface CertificateOptions {
  /** Validity start (default: now − 1 day). */
  notBefore?: Date;
  /** Validity end (default: now + 30 days). */
  notAfter?: Date;
  subject?: string;
}

/**
 * Generates an RSA wrapping key pair with `openssl genpkey` and a self-signed certificate
 * (signed with python cryptography so that any validity dates can be set).
 */
export function makeWrappingKeyPair(bits = 2048, cert: CertificateOptions = {}): WrappingKeyPair {
  const dir = scratchDir(`wk${bits}-`);
  const privatePemPath = join(dir, "wrap.key.pem");
  run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`, "-out", privatePemPath]);
  const publicPemPath = join(dir, "wrap.pub.pem");
  run("openssl", ["pkey", "-in", privatePemPath, "-pubout", "-out", publicPemPath]);
  const rsaPublicPemPath = join(dir, "wrap.rsapub.pem");
  run("openssl", ["rsa", "-in", privatePemPath, "-RSAPublicKey_out", "-out", rsaPublicPemPath]);
  const spkiDerPath = join(dir, "wrap.pub.der");
  run("openssl", ["pkey", "-in", privatePemPath, "-pubout", "-outform", "DER", "-out", spkiDerPath]);
  const certPemPath = join(dir, "wrap.crt");
  makeCertificate(privatePemPath, certPemPath, cert);
  const certDerPath = join(dir, "wrap.cer");
  run("openssl", ["x509", "-in", certPemPath, "-outform", "DER", "-out", certDerPath]);
  return {
    dir,
    bits,
    privatePemPath,
    publicPemPath,
    rsaPublicPemPath,
    spkiDerPath,
    spkiDer: readFileSync(spkiDerPath),
    publicPem: readFileSync(publicPemPath, "utf8"),
    certPemPath,
    certDerPath,
    certPem: readFileSync(certPemPath, "utf8"),
    certDer: readFileSync(certDerPath),
  };
}

const CERT_PY = `
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
key = serialization.load_pem_private_key(open(sys.argv[1],'rb').read(), None)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sys.argv[5])])
nb = datetime.datetime.utcfromtimestamp(int(sys.argv[3]))
na = datetime.datetime.utcfromtimestamp(int(sys.argv[4]))
c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
     .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
     .sign(key, hashes.SHA256()))
open(sys.argv[2],'wb').write(c.public_bytes(serialization.Encoding.PEM))
`;

/** Writes a self-signed PEM certificate for `privatePemPath` with the given validity. */
export function makeCertificate(privatePemPath: string, outPath: string, opts: CertificateOptions = {}): void {
  const now = Date.now();
  const nb = opts.notBefore ?? new Date(now - 86_400_000);
  const na = opts.notAfter ?? new Date(now + 30 * 86_400_000);
  python(CERT_PY, [
    privatePemPath,
    outPath,
    String(Math.floor(nb.getTime() / 1000)),
    String(Math.floor(na.getTime() / 1000)),
    opts.subject ?? "ciop test wrapping key",
  ]);
}

function tmpFile(dir: string, name: string, data: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

function modulusBytes(privatePemPath: string): number {
  const text = run("openssl", ["pkey", "-in", privatePemPath, "-noout", "-text"]).toString();
  const m = /Private-Key: \((\d+) bit/.exec(text);
  if (!m) throw new Error("cannot read the RSA key size");
  return Number(m[1]) / 8;
}

/** `openssl pkeyutl -decrypt` with OAEP, the same hash for OAEP and MGF1. */
export function rsaOaepDecrypt(blob: Uint8Array, privatePemPath: string, hash: Hash): Buffer {
  const dir = scratchDir("oaep-");
  try {
    const inp = tmpFile(dir, "in.bin", blob);
    const out = join(dir, "out.bin");
    run("openssl", [
      "pkeyutl",
      "-decrypt",
      "-inkey",
      privatePemPath,
      "-in",
      inp,
      "-out",
      out,
      "-pkeyopt",
      "rsa_padding_mode:oaep",
      "-pkeyopt",
      `rsa_oaep_md:${hash}`,
      "-pkeyopt",
      `rsa_mgf1_md:${hash}`,
    ]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl pkeyutl -decrypt` with PKCS#1 v1.5 padding. */
export function rsaPkcs1Decrypt(blob: Uint8Array, privatePemPath: string): Buffer {
  const dir = scratchDir("pkcs1-");
  try {
    const inp = tmpFile(dir, "in.bin", blob);
    const out = join(dir, "out.bin");
    run("openssl", ["pkeyutl", "-decrypt", "-inkey", privatePemPath, "-in", inp, "-out", out, "-pkeyopt", "rsa_padding_mode:pkcs1"]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl enc -d -id-aes256-wrap-pad` (RFC 5649) with a 32-byte KEK. */
export function kwpUnwrap(wrapped: Uint8Array, kek: Uint8Array): Buffer {
  const dir = scratchDir("kwp-");
  try {
    const inp = tmpFile(dir, "in.bin", wrapped);
    const out = join(dir, "out.bin");
    run("openssl", ["enc", "-d", "-id-aes256-wrap-pad", "-K", Buffer.from(kek).toString("hex"), "-iv", "A65959A6", "-in", inp, "-out", out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl enc -d -aes-256-ecb` (PKCS#7 padding removed by openssl). */
export function aesEcbDecrypt(ciphertext: Uint8Array, key: Uint8Array): Buffer {
  const dir = scratchDir("ecb-");
  try {
    const inp = tmpFile(dir, "in.bin", ciphertext);
    const out = join(dir, "out.bin");
    run("openssl", ["enc", "-d", "-aes-256-ecb", "-K", Buffer.from(key).toString("hex"), "-in", inp, "-out", out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Splits at the modulus length, OAEP-decrypts the ephemeral key (must be 32 bytes), KWP-unwraps the rest. */
export function rsaAesUnwrap(blob: Uint8Array, privatePemPath: string, hash: Hash): Buffer {
  const k = modulusBytes(privatePemPath);
  const eph = rsaOaepDecrypt(blob.subarray(0, k), privatePemPath, hash);
  if (eph.length !== 32) throw new Error(`ephemeral key is ${eph.length} bytes, not 32`);
  return kwpUnwrap(blob.subarray(k), eph);
}

/** Alibaba asymmetric layout: OAEP(hash) of the ephemeral key ‖ AES-256-ECB-PKCS7 of the material. */
export function rsaAesEcbUnwrap(blob: Uint8Array, privatePemPath: string, hash: Hash = "sha256"): Buffer {
  const k = modulusBytes(privatePemPath);
  const eph = rsaOaepDecrypt(blob.subarray(0, k), privatePemPath, hash);
  if (eph.length !== 32) throw new Error(`ephemeral key is ${eph.length} bytes, not 32`);
  return aesEcbDecrypt(blob.subarray(k), eph);
}

/** Same unwrap as {@link rsaAesUnwrap}, done by python cryptography's keywrap module. */
export function rsaAesUnwrapPython(blob: Uint8Array, privatePemPath: string, hash: Hash): Buffer {
  const py = `
import sys
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding
h = {'sha1': hashes.SHA1(), 'sha256': hashes.SHA256(), 'sha384': hashes.SHA384(), 'sha512': hashes.SHA512()}[sys.argv[2]]
priv = serialization.load_pem_private_key(open(sys.argv[1],'rb').read(), None)
blob = sys.stdin.buffer.read()
k = priv.key_size // 8
eph = priv.decrypt(blob[:k], padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
assert len(eph) == 32
sys.stdout.buffer.write(keywrap.aes_key_unwrap_with_padding(eph, blob[k:]))
`;
  return python(py, [privatePemPath, hash], blob);
}

/**
 * Decrypts a compact JWE with python jwcrypto. Returns the protected header (parsed from the
 * compact form by python, member order preserved) and the payload.
 */
export function jweDecrypt(jwe: string, privatePemPath: string): { header: Record<string, string>; headerKeys: string[]; payload: Buffer } {
  const py = `
import sys, json, base64
from collections import OrderedDict
from jwcrypto import jwk, jwe
tok_s = sys.stdin.read().strip()
seg = tok_s.split('.')[0]
hdr = json.loads(base64.urlsafe_b64decode(seg + '=' * (-len(seg) % 4)), object_pairs_hook=OrderedDict)
tok = jwe.JWE()
tok.deserialize(tok_s, key=jwk.JWK.from_pem(open(sys.argv[1],'rb').read()))
print(json.dumps({'header': hdr, 'keys': list(hdr.keys()), 'payload': tok.payload.hex()}))
`;
  const out = JSON.parse(python(py, [privatePemPath], jwe).toString()) as { header: Record<string, string>; keys: string[]; payload: string };
  return { header: out.header, headerKeys: out.keys, payload: Buffer.from(out.payload, "hex") };
}

/**
 * Checks PKCS#8 DER with openssl: the outer SEQUENCE must span the whole buffer (no trailing
 * bytes) and `openssl pkey` must load it. Returns the SPKI DER of its public key and the DER length.
 */
export function pkcs8PublicKey(der: Uint8Array): { spki: Buffer; exact: boolean; derLength: number; size: number } {
  const dir = scratchDir("p8-");
  try {
    const inp = tmpFile(dir, "key.der", der);
    const first = run("openssl", ["asn1parse", "-inform", "DER", "-in", inp]).toString().split("\n")[0] ?? "";
    const m = /hl=\s*(\d+)\s+l=\s*(\d+)\s+cons: SEQUENCE/.exec(first);
    const derLength = m ? Number(m[1]) + Number(m[2]) : -1;
    const spki = run("openssl", ["pkey", "-inform", "DER", "-in", inp, "-pubout", "-outform", "DER"]);
    const size = statSync(inp).size;
    return { spki, exact: derLength === size, derLength, size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SHA-256 with `openssl dgst`. */
export function sha256Openssl(data: Uint8Array): Buffer {
  return run("openssl", ["dgst", "-sha256", "-binary"], data);
}

/** AES-256-GCM decryption by python cryptography (ciphertext ‖ tag). */
export function aesGcmDecryptPython(key: Uint8Array, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array = new Uint8Array()): Buffer {
  const py = `
import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key, iv, aad = (bytes.fromhex(a) for a in sys.argv[1:4])
sys.stdout.buffer.write(AESGCM(key).decrypt(iv, sys.stdin.buffer.read(), aad or None))
`;
  return python(py, [Buffer.from(key).toString("hex"), Buffer.from(iv).toString("hex"), Buffer.from(aad).toString("hex") || ""], ctAndTag);
}
