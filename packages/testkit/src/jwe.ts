/**
 * Independent checks of Salesforce cache-only responses: python3-jwcrypto decrypts each JWE with
 * the BYOK certificate's private key, python3-cryptography unwraps the CEK (RSA-OAEP SHA-1) and
 * computes AES-GCM known answers. Shared by the provider, citool and xks-proxy suites.
 */
import { execFile } from "node:child_process";
import { PYTHON } from "./harness.js";

const DECRYPT = `
import json, sys, base64
from jwcrypto import jwk, jwe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
keypem = open(sys.argv[1], 'rb').read()
priv = serialization.load_pem_private_key(keypem, None)
k = jwk.JWK.from_pem(keypem)
def b64d(s): return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
out = []
for body in json.load(sys.stdin):
    resp = json.loads(body)
    parts = resp['jwe'].split('.')
    t = jwe.JWE(); t.deserialize(resp['jwe'], key=k)
    cek = priv.decrypt(b64d(parts[1]), padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    out.append({'respKeys': sorted(resp.keys()), 'kid': resp['kid'], 'header': json.loads(b64d(parts[0])), 'dek': t.payload.hex(),
                'cek': cek.hex(), 'iv': b64d(parts[2]).hex(), 'segments': len(parts), 'padded': any('=' in p for p in parts)})
json.dump(out, sys.stdout)
`;

const GCM = `
import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
print(AESGCM(bytes.fromhex(sys.argv[1])).encrypt(bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), None).hex())
`;

/** One cache-only response as python saw it (byte fields hex). */
export interface DecryptedJwe {
  /** Top-level keys of the response body, sorted. */
  respKeys: string[];
  kid: string;
  /** The JWE protected header. */
  header: Record<string, string>;
  /** The JWE payload (the DEK) as decrypted by jwcrypto. */
  dek: string;
  /** The CEK as unwrapped by python3-cryptography (RSA-OAEP, SHA-1). */
  cek: string;
  iv: string;
  /** Number of dot-separated segments of the compact JWE. */
  segments: number;
  /** Whether any segment carries base64 '=' padding. */
  padded: boolean;
}

function python(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3 failed: ${stderr || err.message}`)) : resolve(stdout),
    );
    child.stdin!.end(input ?? "");
  });
}

/** Decrypt response bodies (JSON `{kid, jwe}`) with the private key PEM at `keyPath`. */
export async function decryptCacheOnlyJwe(keyPath: string, bodies: string[]): Promise<DecryptedJwe[]> {
  return JSON.parse(await python(["-c", DECRYPT, keyPath], JSON.stringify(bodies))) as DecryptedJwe[];
}

/** AES-GCM (no AAD) of `blockHex` under `keyHex` / `ivHex`, by python3-cryptography: ciphertext||tag, hex. */
export async function pythonAesGcm(keyHex: string, ivHex: string, blockHex: string): Promise<string> {
  return (await python(["-c", GCM, keyHex, ivHex, blockHex])).trim();
}
