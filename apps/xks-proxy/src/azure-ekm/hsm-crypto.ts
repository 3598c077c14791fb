/**
 * The EKM key manager over the proxy's HSM: an external key is a token key whose label is its name
 * (AES-256, or an RSA 2048/3072/4096 key pair), made by `xks-proxy azure-ekm keys create`.
 *
 * - A256KW / A256KWP: the value is imported as a session object and wrapped with C_WrapKey under
 *   the token key (KWP with the mechanism number the probe found to be RFC 5649); unwrap is
 *   C_UnwrapKey into a session object whose value is read, then destroyed.
 * - RSA-OAEP / RSA-OAEP-256: C_Encrypt under the public half, C_Decrypt with the private half. A
 *   token without OAEP for SHA-256 (SoftHSM 2.6) falls back as @ciop/hsm's rsaOaepEncrypt /
 *   rsaOaepDecrypt describe: wrap with the public key on the host, unwrap as raw RSA in the token
 *   with the OAEP decoding on the host, under the [hsm] host-fallback rules, recorded.
 */
import { createPublicKey } from "node:crypto";
import { CiopError } from "@ciop/core";
import type { EkmAlgorithm, EkmCrypto, EkmKeyDescription } from "@ciop/azure-ekm";
import type { Hsm, HsmKey, ExternalKeyOutcome } from "@ciop/hsm";

const RSA_SIZES: Record<string, number> = { "RSA-2048": 2048, "RSA-3072": 3072, "RSA-4096": 4096 };

export interface OperationNote {
  hostFallback: boolean;
  mechanisms: string[];
}

export class HsmEkmCrypto implements EkmCrypto {
  /** What the last wrap/unwrap used (for the audit record of the request that made it). */
  last: OperationNote | undefined;

  constructor(
    private readonly hsm: () => Hsm,
    private readonly withTimeout: <T>(operation: string, fn: () => Promise<T> | T) => Promise<T>,
  ) {}

  private key(name: string): HsmKey | undefined {
    return this.hsm().findKey(name);
  }

  async describeKey(name: string): Promise<EkmKeyDescription | undefined> {
    return this.withTimeout("azure-ekm-describe", () => {
      const hsm = this.hsm();
      const key = hsm.findKey(name);
      if (key === undefined) return undefined;
      const enabled = hsm.keyInfo(key).enabled;
      if (key.type === "AES-256") return { keyType: "oct", keySize: 256, enabled };
      const bits = RSA_SIZES[key.type];
      if (bits === undefined) return { keyType: "oct", keySize: 0, enabled: false };
      const jwk = createPublicKey({ key: Buffer.from(hsm.publicKeyOf(key)), format: "der", type: "spki" }).export({ format: "jwk" });
      return { keyType: "RSA", keySize: bits, enabled, n: Buffer.from(jwk.n!, "base64url"), e: Buffer.from(jwk.e!, "base64url") };
    });
  }

  private async run(name: string, op: string, f: (hsm: Hsm, key: HsmKey) => ExternalKeyOutcome): Promise<Uint8Array> {
    this.last = undefined;
    const out = await this.withTimeout(`azure-ekm-${op}`, () => {
      const hsm = this.hsm();
      const key = this.key(name);
      if (key === undefined) throw new CiopError("ERR_KEY_NOT_FOUND", `no key named '${name}'`);
      return f(hsm, key);
    });
    this.last = { hostFallback: out.hostFallback, mechanisms: out.mechanisms };
    return out.bytes;
  }

  wrap(name: string, alg: EkmAlgorithm, value: Uint8Array): Promise<Uint8Array> {
    return this.run(name, "wrap", (hsm, key) => {
      switch (alg) {
        case "A256KW":
        case "A256KWP":
          return hsm.aesWrapBytes(key, value, alg === "A256KWP");
        case "RSA-OAEP":
          return hsm.rsaOaepEncrypt(key, "sha1", value);
        case "RSA-OAEP-256":
          return hsm.rsaOaepEncrypt(key, "sha256", value);
      }
    });
  }

  unwrap(name: string, alg: EkmAlgorithm, wrapped: Uint8Array): Promise<Uint8Array> {
    return this.run(name, "unwrap", (hsm, key) => {
      switch (alg) {
        case "A256KW":
        case "A256KWP":
          return hsm.aesUnwrapBytes(key, wrapped, alg === "A256KWP");
        case "RSA-OAEP":
          return hsm.rsaOaepDecrypt(key, "sha1", wrapped);
        case "RSA-OAEP-256":
          return hsm.rsaOaepDecrypt(key, "sha256", wrapped);
      }
    });
  }
}
