/**
 * The same conformance suite as the software engine, on the HSM engine over a real SoftHSM2 token:
 * every construction undone by openssl / python with the test's own private key, and each step
 * SoftHSM 2.6.1 can do inside the token must be done there (hostFallback false, no host-fallback
 * event recorded by @ciop/hsm); the steps it cannot do must say so (hostFallback true).
 */
import { Hsm } from "@ciop/hsm";
import type { KeyType } from "@ciop/hsm";
import { createHsmEngine, hsmKey } from "../src/index.js";
import { engineConformance } from "./support/engine-conformance.js";
import type { Hash } from "./support/openssl.js";

let hsm: Hsm;
let n = 0;

/**
 * What SoftHSM 2.6.1 can do in the token: CKM_RSA_PKCS_OAEP with SHA-1 only, CKM_RSA_PKCS, RFC 5649
 * (0x210A) exact for AES keys but zero-padding PKCS#8, no AES-ECB with padding. undefined = either is
 * acceptable (the in-token path exists only for some PKCS#8 lengths).
 */
function softHsmInToken(construction: string, type: KeyType, hash?: Hash): boolean | undefined {
  const secret = type.startsWith("AES-") || type.startsWith("HMAC-");
  switch (construction) {
    case "rsaOaep":
      return secret && hash === "sha1";
    case "rsaPkcs1v15":
      return secret;
    case "rsaAesKeyWrap":
      if (!secret) return type === "EC-NISTP384" || type === "EC-SECP256K1" ? undefined : false;
      return hash === "sha1" && !["HMAC-160", "HMAC-224"].includes(type);
    case "rsaAesEcb":
      return false;
    case "rsaOaepAesGcm":
      return hsm.capabilities().aesGcmKeyWrap && hash === "sha1";
    default:
      return undefined;
  }
}

engineConformance(
  "HSM engine (SoftHSM2)",
  async () => {
    hsm = await Hsm.open({
      library: process.env.CIOP_TEST_LIB!,
      token: process.env.CIOP_TEST_TOKEN_LABEL!,
      pin: { value: process.env.CIOP_TEST_PIN! },
    });
    return {
      engine: createHsmEngine(hsm),
      target: async (type) => hsmKey(await hsm.generateKey(`wrap-hsm-${process.pid}-${type}-${n++}`, type)),
      expectHostFallback: (construction, type, hash) => {
        const inToken = softHsmInToken(construction, type, hash);
        return inToken === undefined ? undefined : !inToken;
      },
      fallbackEvents: () => hsm.hostFallbacks.length,
    };
  },
  async () => {
    await hsm?.close();
  },
);
