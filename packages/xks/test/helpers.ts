import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { CiopError } from "@ciop/core";
import type { XksCrypto, XksKeyDescription } from "../src/index.js";

export const AKID = "AKIA4GBY3I6JCE5M2HPM";
export const SECRET = "1234567890123456789012345678901234567890123=";
export const AKID2 = "BBBBBBBBBBBBBBBBBBBBBB22";
export const SECRET2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/** Signs as a KMS-like client would, with the real smithy signer and the pure-JS Sha256. */
export async function clientSign(opts: {
  path: string;
  body: string | Uint8Array;
  host?: string;
  region?: string;
  akid?: string;
  secret?: string;
  date?: Date;
  service?: string;
  extraHeaders?: Record<string, string>;
}): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: opts.akid ?? AKID, secretAccessKey: opts.secret ?? SECRET },
    region: opts.region ?? "us-east-1",
    service: opts.service ?? "kms-xks-proxy",
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const host = opts.host ?? "xks.example.com";
  const req = new HttpRequest({
    method: "POST",
    protocol: "https:",
    hostname: host.replace(/:\d+$/, ""),
    path: opts.path,
    headers: { host, "content-type": "application/json", ...(opts.extraHeaders ?? {}) },
    body: opts.body,
  });
  const signed = await signer.sign(req, { signingDate: opts.date ?? new Date() });
  return signed.headers as Record<string, string>;
}

export function md(op = "Encrypt"): Record<string, string> {
  return {
    awsPrincipalArn: "arn:aws:iam::123456789012:user/Alice",
    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    kmsOperation: op,
    kmsRequestId: "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
  };
}

/**
 * In-memory AES-256-GCM key manager for protocol tests only (the proxy's own tests use the real
 * SoftHSM token). Keys: name → description + key bytes.
 */
export class MemoryCrypto implements XksCrypto {
  readonly keys = new Map<string, { desc: XksKeyDescription; key: Buffer }>();
  calls = { encrypt: 0, decrypt: 0 };
  add(name: string, desc: Partial<XksKeyDescription> = {}, key: Buffer = randomBytes(32)): Buffer {
    this.keys.set(name, { desc: { keySpec: "AES_256", enabled: true, canEncrypt: true, canDecrypt: true, ...desc }, key });
    return key;
  }
  async describeKey(keyId: string): Promise<XksKeyDescription | undefined> {
    return this.keys.get(keyId)?.desc;
  }
  async encrypt(keyId: string, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    this.calls.encrypt++;
    const k = this.keys.get(keyId)!;
    if (!k.desc.enabled) throw new CiopError("ERR_KEY_DISABLED", "disabled");
    const c = createCipheriv("aes-256-gcm", k.key, iv);
    c.setAAD(aad);
    return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  }
  async decrypt(keyId: string, iv: Uint8Array, ctTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    this.calls.decrypt++;
    const k = this.keys.get(keyId)!;
    const d = createDecipheriv("aes-256-gcm", k.key, iv);
    d.setAAD(aad);
    d.setAuthTag(ctTag.subarray(ctTag.length - 16));
    try {
      return Buffer.concat([d.update(ctTag.subarray(0, ctTag.length - 16)), d.final()]);
    } catch {
      throw new CiopError("ERR_DECRYPTION_FAILED", "decryption failed");
    }
  }
}
