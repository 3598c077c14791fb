/**
 * The proxy's `[hsm] profile` (and the AWS sample proxy's `[hsm_capabilities]`): which AES-GCM
 * behaviour @ciop/hsm expects of the token (its README, "AES-GCM profiles").
 */
import { GCM_PROFILE_NAMES, type GcmIvSource, type GcmProfileName } from "@ciop/hsm";
import { bad } from "./fields.js";

/** The IV source each named profile stands for (what [hsm_capabilities] is compared with). */
export const GCM_PROFILE_IV_SOURCE: Readonly<Record<GcmProfileName, GcmIvSource>> = {
  softhsm: "caller",
  nshield: "token-fills-zero",
  luna: "token-appends",
  cloudhsm: "token-fills-zero",
};

/** A profile setting: "auto" or a named profile; anything else is refused with the list. */
export function gcmProfileSetting(value: string, where: string): "auto" | GcmProfileName {
  if (value === "auto" || (GCM_PROFILE_NAMES as readonly string[]).includes(value)) return value as "auto" | GcmProfileName;
  return bad(`${where} must be one of "auto", ${GCM_PROFILE_NAMES.map((n) => `"${n}"`).join(", ")} (is '${value}')`);
}

/**
 * The AWS sample proxy's [hsm_capabilities], as its do_encrypt reads them: can_generate_iv false →
 * the proxy draws the IV; true with is_zero_iv_required → a zero IV the HSM fills (CloudHSM);
 * true without → an empty IV, the HSM appends its IV after the tag (Luna).
 */
export function sampleIvSource(canGenerateIv: boolean, zeroIvRequired: boolean): GcmIvSource {
  if (!canGenerateIv) return "caller";
  return zeroIvRequired ? "token-fills-zero" : "token-appends";
}
