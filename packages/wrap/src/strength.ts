/**
 * Security strength (bits) of keys, after NIST SP 800-57 Part 1 Rev. 5 §5.6.1 (Table 2), and the
 * rule that a wrapping key must protect what it wraps.
 */
import { CiopError } from "@ciop/core";
import type { KeyType } from "@ciop/hsm";
import type { WrappingKey } from "./engine.js";
import { keyKind } from "./key-types.js";

/**
 * Strength of an RSA key of `bits` modulus bits. SP 800-57 gives 80 (1024), 112 (2048),
 * 128 (3072), 192 (7680) and 256 (15360); RSA-4096 is rated 152 (the SP 800-56B Rev. 2
 * Appendix D approximation). Sizes in between get the figure of the next size below; below 1024: 0.
 * @public
 */
export function rsaStrength(bits: number): number {
  if (bits >= 15360) return 256;
  if (bits >= 7680) return 192;
  if (bits >= 4096) return 152;
  if (bits >= 3072) return 128;
  if (bits >= 2048) return 112;
  if (bits >= 1024) return 80;
  return 0;
}

/**
 * Strength of an elliptic-curve key with an order of `bits` bits: half the size, with P-521
 * rated 256 as SP 800-57 does (secp256k1 and P-256: 128; P-384: 192).
 * @public
 */
export function ecStrength(bits: number): number {
  if (bits >= 512) return 256;
  return Math.floor(bits / 2);
}

/**
 * Strength of a ciop key type:
 * - AES-N: N.
 * - HMAC-N (a generic secret of N bits): min(N, 256). A key cannot be stronger than its length,
 *   and 256 is the highest strength SP 800-57 defines; HMAC-160 is therefore 160.
 * - RSA-N: {@link rsaStrength}; EC: {@link ecStrength} (P-256/secp256k1 128, P-384 192, P-521 256).
 * @public
 */
export function keyTypeStrength(type: KeyType): number {
  const [family, size] = type.split("-") as [string, string];
  switch (family) {
    case "AES":
      return Number(size);
    case "HMAC":
      return Math.min(Number(size), 256);
    case "RSA":
      return rsaStrength(Number(size));
    case "EC":
      return type === "EC-NISTP521" ? 256 : type === "EC-NISTP384" ? 192 : 128;
    default:
      keyKind(type); // throws ERR_KEY_TYPE_UNSUPPORTED
      return 0;
  }
}

/** Strength of a parsed wrapping key. @public */
export function wrappingKeyStrength(key: Pick<WrappingKey, "type" | "bits">): number {
  return key.type === "RSA" ? rsaStrength(key.bits) : ecStrength(key.bits);
}

/** Input of {@link checkWrappingStrength}. @public */
export interface WrappingStrengthCheck {
  wrappingKey: Pick<WrappingKey, "type" | "bits"> & { strength?: number };
  targetType: KeyType;
  /** The largest RSA wrapping key the provider issues (e.g. 4096). Caps what can be demanded. */
  providerMaxBits?: number;
  /** Turn a refusal into a warning. */
  allowWeak?: boolean;
}

const RSA_SIZES = [2048, 3072, 4096, 7680, 15360];

/**
 * Checks that a wrapping key is strong enough for the target and returns warnings for the operator.
 *
 * - Key-pair targets (RSA/EC): the wrapping key must be at least as strong as the target, where the
 *   requirement is capped at the strength of the largest RSA key the provider offers
 *   (`providerMaxBits`): with a 4096-bit maximum, P-384, P-521 and RSA-4096 targets need RSA-4096.
 *   Otherwise throws `ERR_WRAPPING_KEY_TOO_WEAK` naming both strengths and the RSA size needed,
 *   unless `allowWeak` (then the same text comes back as a warning).
 * - Secret targets (AES/HMAC): never throws; warns when the wrapping key is below 128 bits.
 *
 * @returns warnings (possibly empty).
 * @public
 */
export function checkWrappingStrength(check: WrappingStrengthCheck): string[] {
  const { wrappingKey, targetType, providerMaxBits, allowWeak = false } = check;
  const have = wrappingKey.strength ?? wrappingKeyStrength(wrappingKey);
  const target = keyTypeStrength(targetType);
  const wrapName = `${wrappingKey.type}-${wrappingKey.bits}`;
  if (keyKind(targetType) === "secret") {
    if (have < 128) {
      return [`The wrapping key ${wrapName} offers ${have}-bit security, below the 128 bits recommended for wrapping ${targetType} (${target}-bit).`];
    }
    return [];
  }
  const cap = providerMaxBits !== undefined ? rsaStrength(providerMaxBits) : Infinity;
  const required = Math.min(target, cap);
  if (have >= required) return [];
  const sizes = RSA_SIZES.filter((b) => providerMaxBits === undefined || b <= providerMaxBits);
  const needed = sizes.find((b) => rsaStrength(b) >= required) ?? providerMaxBits ?? 15360;
  const message =
    `The wrapping key ${wrapName} offers ${have}-bit security, weaker than the target key ${targetType} (${target}-bit security)` +
    (required < target ? `; the strongest wrapping key this provider offers gives ${required} bits` : "") +
    `. Use an RSA-${needed} wrapping key (${rsaStrength(needed)}-bit security)`;
  if (allowWeak) return [`${message}; continuing because weak wrapping keys were allowed.`];
  throw new CiopError("ERR_WRAPPING_KEY_TOO_WEAK", `${message}, or explicitly allow a weak wrapping key.`, {
    details: { wrappingStrength: have, targetStrength: target, requiredStrength: required, neededRsaBits: needed },
  });
}
