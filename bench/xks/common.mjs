// Pieces bench/xks's scripts share: SigV4-signed XKS requests (signed with @smithy/signature-v4, as
// KMS would sign them), the request bodies, and a node:crypto AES-256-GCM key manager for the
// measurements that leave the HSM out.
import { execFileSync } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/** A signer for a store credential: `signed(path, bodyObj, port)` -> { method, path, headers, body } for https://localhost:<port>. */
export function xksSigner(cred) {
  const signer = new SignatureV4({
    credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey },
    region: "us-east-1",
    service: "kms-xks-proxy",
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  return async (path, bodyObj, port) => {
    const body = JSON.stringify(bodyObj);
    // the Host header, port included, is signed
    const req = {
      method: "POST",
      protocol: "https:",
      hostname: "localhost",
      port,
      path,
      query: {},
      headers: { host: `localhost:${port}`, "content-type": "application/json" },
      body,
    };
    const s = await signer.sign(req, { signingDate: new Date() });
    return { method: "POST", path, headers: s.headers, body };
  };
}

/** requestMetadata as KMS sends it. */
export function requestMetadata(op) {
  return {
    awsPrincipalArn: "arn:aws:iam::111122223333:role/bench",
    kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/0b4f5a0e-bench",
    kmsOperation: op,
    kmsRequestId: randomUUID(),
  };
}

/** An Encrypt body: a 32-byte plaintext (a data key) and 64 bytes of AAD. */
export function encryptBody() {
  return {
    requestMetadata: requestMetadata("Encrypt"),
    plaintext: randomBytes(32).toString("base64"),
    encryptionAlgorithm: "AES_GCM",
    additionalAuthenticatedData: randomBytes(64).toString("base64"),
  };
}

/** An XksCrypto with one AES-256 key (`bytes`, random by default; in memory) named `keyName`, GCM by node:crypto. */
export function softwareKeyManager(keyName, bytes = randomBytes(32)) {
  return {
    describeKey: (id) => (id === keyName ? { keySpec: "AES_256", enabled: true, canEncrypt: true, canDecrypt: true } : undefined),
    encrypt(_id, iv, pt, aad) {
      const c = createCipheriv("aes-256-gcm", bytes, iv).setAAD(aad);
      return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    },
    decrypt(_id, iv, ct, aad) {
      const d = createDecipheriv("aes-256-gcm", bytes, iv).setAAD(aad);
      d.setAuthTag(ct.subarray(ct.length - 16));
      return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
    },
  };
}

/** A throw-away self-signed P-256 certificate for localhost (and 127.0.0.1) in `dir`: { cert, key } file paths. */
export function selfSignedCertificate(dir) {
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}
