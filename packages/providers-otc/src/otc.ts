/**
 * The Open Telekom Cloud KMS and Huawei Cloud KMS provider modules.
 */
import { defineAwsStyleProvider } from "@ciop/providers-aws";
import type { ProviderModule } from "@ciop/wrap";
import { HUAWEI_RULES, OTC_RULES } from "./rules.js";

/**
 * Open Telekom Cloud KMS BYOK (`otc`): AES-256 key material RSA-encrypted under the RSA-2048
 * wrapping key from get-parameters-for-import, or an RSA/EC key pair as a wrapped temporary key
 * plus the wrapped private key; writes `<key>-encrypted_key_material.b64` (and
 * `<key>-encrypted_privatekey.b64` for key pairs), base64.
 *
 * @example
 * ```ts
 * const plan = otcKms.plan({ provider: "otc", keyName: "k1", wrappingKey, algorithm: "RSAES_OAEP_SHA_256", keyType: "EC-NISTP256" });
 * const { artefacts } = await otcKms.export(plan, engine, target);
 * ```
 * @public
 */
export const otcKms: ProviderModule = defineAwsStyleProvider(OTC_RULES);

/**
 * Huawei Cloud KMS BYOK (`huawei`): the same layout and files as {@link otcKms}, with Huawei's one
 * RSA wrapping algorithm (RSAES_OAEP_SHA_256) and its `encrypted_privatekey` API field for key pairs.
 * @public
 */
export const huaweiKms: ProviderModule = defineAwsStyleProvider(HUAWEI_RULES);
