/**
 * The Tencent Cloud KMS provider module.
 */
import { defineAwsStyleProvider } from "@ciop/providers-aws";
import type { ProviderModule } from "@ciop/wrap";
import { TENCENT_RULES } from "./rules.js";

/**
 * Tencent Cloud KMS BYOK (`tencent`): 256-bit key material for an External CMK, RSA-encrypted
 * under the RSA-2048 wrapping key from `GetParametersForImport`; writes
 * `<key>-EncryptedKeyMaterial.b64` (base64, as `ImportKeyMaterial` takes it).
 *
 * @example
 * ```ts
 * const plan = tencentKms.plan({ provider: "tencent", keyName: "k1", wrappingKey, algorithm: "RSAES_OAEP_SHA_256" });
 * const { artefacts } = await tencentKms.export(plan, engine, target);
 * ```
 * @public
 */
export const tencentKms: ProviderModule = defineAwsStyleProvider(TENCENT_RULES);
