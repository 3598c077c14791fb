/**
 * Alibaba Cloud KMS asymmetric import (`RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD`):
 * `RSA-OAEP-SHA-256(ephemeral AES-256) ‖ AES-256-ECB-PKCS7(ephemeral, PKCS#8 private key)`,
 * uploaded as base64.
 */
import { CiopError } from "@ciop/core";
import type { TargetKey, WrapEngine, WrappingKey, WrapResult } from "./engine.js";
import { toBase64 } from "./base64.js";

/** Input of {@link createAlibabaAsymmetricMaterial}. @public */
export interface AlibabaAsymmetricRequest {
  engine: WrapEngine;
  /** An RSA or EC key pair (PKCS#8 inside). */
  target: TargetKey;
  /** The RSA_2048 public key from GetParametersForImport. */
  wrappingKey: WrappingKey;
}

/**
 * Builds Alibaba's asymmetric EncryptedKeyMaterial. `bytes` is the binary blob (RSA part first,
 * modulus length), `base64` the string to pass as `EncryptedKeyMaterial`.
 * @public
 */
export async function createAlibabaAsymmetricMaterial(request: AlibabaAsymmetricRequest): Promise<WrapResult & { base64: string }> {
  const { engine, target, wrappingKey } = request;
  if (target.kind !== "private") {
    throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", `The Alibaba asymmetric layout carries a key pair; "${target.name}" is ${target.type}.`);
  }
  const out = await engine.rsaAesEcb(wrappingKey, target, "sha256");
  return { ...out, base64: toBase64(out.bytes) };
}
