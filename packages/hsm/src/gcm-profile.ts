/**
 * How a token does AES-GCM (issue 16, "Vendor behaviour as probed profiles"): who chooses the IV,
 * where a token-chosen IV comes back, and which CKR a bad tag gives. "auto" finds it out at open by
 * behaviour (probe.ts); the named profiles are presets from the vendors' documentation and the AWS
 * sample XKS proxy (ciop has not run on those HSMs), checked against the token at open all the same.
 */
import pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { parseCkr } from "./errors.js";
import { gcmParameter } from "./mechanisms.js";

/**
 * Who chooses the IV of an encryption:
 * - "caller": ciop draws it (12 random bytes) and passes it; the token uses it as given (SoftHSM, NSS);
 * - "token-fills-zero": ciop passes 12 zero bytes and the token writes its IV into them (CloudHSM, nShield);
 * - "token-appends": ciop passes an empty IV and the token returns ciphertext ‖ tag ‖ IV (Luna).
 * Decryption always takes the IV the caller gives.
 */
export type GcmIvSource = "caller" | "token-fills-zero" | "token-appends";

/** The named presets of {@link GcmProfileOption}. */
export type GcmProfileName = "softhsm" | "nshield" | "luna" | "cloudhsm";

export const GCM_PROFILE_NAMES: readonly GcmProfileName[] = ["softhsm", "nshield", "luna", "cloudhsm"];

/** A token's AES-GCM behaviour (what {@link Capabilities.gcm} reports). */
export interface GcmProfile {
  /** "probed" for "auto", the preset's name, or "custom" for an explicit object. */
  readonly name: "probed" | GcmProfileName | "custom";
  /**
   * The CK_GCM_PARAMS layout ciop sends: "v240" (PKCS#11 v2.40 errata / v3.0, with ulIvBits). The
   * short struct of the v2.40 header file (no ulIvBits) cannot be sent through pkcs11js 2.1.7, so a
   * token that takes only that one is refused at open.
   */
  readonly paramLayout: "v240";
  readonly ivSource: GcmIvSource;
  /**
   * CKR names a GCM decryption answers for a ciphertext, tag, AAD or IV that is not authentic; they
   * become ERR_DECRYPTION_FAILED. Any other CKR is reported as the token's error.
   */
  readonly badTagCkrs: readonly string[];
}

/** An explicit profile (Hsm.open's `gcmProfile`). */
export interface GcmProfileSpec {
  ivSource: GcmIvSource;
  /** CKR a bad tag gives on this token (added to the PKCS#11 spec's answers); unset: found at open as with "auto". */
  badTagCkr?: string;
}

/** `HsmOptions.gcmProfile`: "auto" (default) probes; a name or an object is checked against the token at open. */
export type GcmProfileOption = "auto" | GcmProfileName | GcmProfileSpec;

/** Answers the PKCS#11 spec gives to input that is not authentic or not well-formed: never a device fault. */
const SPEC_BAD_INPUT = ["CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_DATA_INVALID", "CKR_DATA_LEN_RANGE"];

/** Answers that mean a resource or the device failed: never taken as a token's bad-tag answer. */
const RESOURCE_FAILURES = new Set([
  "CKR_HOST_MEMORY",
  "CKR_DEVICE_ERROR",
  "CKR_DEVICE_MEMORY",
  "CKR_DEVICE_REMOVED",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_KEY_HANDLE_INVALID",
  "CKR_OBJECT_HANDLE_INVALID",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_FUNCTION_CANCELED",
  "CKR_OPERATION_NOT_INITIALIZED",
  "CKR_USER_NOT_LOGGED_IN",
]);

function badTagSet(extra: string): readonly string[] {
  return SPEC_BAD_INPUT.includes(extra) ? SPEC_BAD_INPUT : [extra, ...SPEC_BAD_INPUT];
}

const PRESETS: Readonly<Record<GcmProfileName, { ivSource: GcmIvSource; badTagCkr: string }>> = {
  // measured (reference/softhsm-pkcs11.md)
  softhsm: { ivSource: "caller", badTagCkr: "CKR_GENERAL_ERROR" },
  // documented: the module fills a zero IV; a bad tag is CKR_FUNCTION_FAILED
  nshield: { ivSource: "token-fills-zero", badTagCkr: "CKR_FUNCTION_FAILED" },
  // documented: an empty IV, the IV appended after the tag; bad tag as the spec says
  luna: { ivSource: "token-appends", badTagCkr: "CKR_ENCRYPTED_DATA_INVALID" },
  // documented: a zero IV buffer that the HSM fills; bad tag as the spec says
  cloudhsm: { ivSource: "token-fills-zero", badTagCkr: "CKR_ENCRYPTED_DATA_INVALID" },
};

/** The profile a name or explicit object stands for (not yet checked against a token). */
export function presetProfile(option: GcmProfileName | GcmProfileSpec): GcmProfile {
  if (typeof option === "string") {
    const p = PRESETS[option];
    return { name: option, paramLayout: "v240", ivSource: p.ivSource, badTagCkrs: badTagSet(p.badTagCkr) };
  }
  return { name: "custom", paramLayout: "v240", ivSource: option.ivSource, badTagCkrs: option.badTagCkr ? badTagSet(option.badTagCkr) : SPEC_BAD_INPUT };
}

/** Refuses a `gcmProfile` option that is none of the documented values. */
export function checkGcmProfileOption(option: unknown): GcmProfileOption {
  if (option === undefined || option === "auto") return "auto";
  if (typeof option === "string" && (GCM_PROFILE_NAMES as readonly string[]).includes(option)) return option as GcmProfileName;
  if (option && typeof option === "object") {
    const o = option as Partial<GcmProfileSpec>;
    const sources: readonly string[] = ["caller", "token-fills-zero", "token-appends"];
    if (typeof o.ivSource === "string" && sources.includes(o.ivSource)) {
      if (o.badTagCkr === undefined) return { ivSource: o.ivSource };
      if (typeof o.badTagCkr === "string" && /^CKR_[A-Z_]+$/.test(o.badTagCkr)) return { ivSource: o.ivSource, badTagCkr: o.badTagCkr };
    }
  }
  throw new CiopError(
    "ERR_CONFIG_INVALID",
    `gcmProfile must be "auto", one of ${GCM_PROFILE_NAMES.map((n) => `"${n}"`).join(", ")}, or { ivSource: "caller" | "token-fills-zero" | "token-appends", badTagCkr?: "CKR_..." }`,
  );
}

// ---------------------------------------------------------------- probing

const P = pkcs11js;
type Handle = Buffer;

/** What one encryption attempt on the probe key showed. */
interface Trial {
  ok: boolean;
  /** the CKR when the token refused */
  ckr?: string;
  /** what the token did, in words (for a mismatch message) */
  seen: string;
}

/** The probe's view of the token: a runner that replaces its session after a failure, and the probe key. */
export interface GcmProbeTarget {
  p: pkcs11js.PKCS11;
  /** runs f on the operation session; a throw is caught and answered as `{ error }` */
  op<T>(f: (s: Handle) => T): { value: T } | { error: unknown };
  /** a session AES-256 key with encrypt and decrypt, whose value is `keyValue` */
  key: Handle;
  /** AES-256-GCM on the host (to check the token's answers) */
  hostSeal(iv: Buffer, pt: Buffer): Buffer;
}

function ckrOf(err: unknown): string {
  return parseCkr(err)?.name ?? (err instanceof Error ? err.message : String(err));
}

function trySource(t: GcmProbeTarget, source: GcmIvSource): Trial {
  const pt = Buffer.from("ciop gcm profile probe, 32 bytes");
  const iv = source === "caller" ? Buffer.from("0123456789ab") : source === "token-fills-zero" ? Buffer.alloc(12) : Buffer.alloc(0);
  const extra = source === "token-appends" ? 12 : 0;
  const r = t.op((s) => {
    t.p.C_EncryptInit(s, { mechanism: P.CKM_AES_GCM, parameter: gcmParameter(iv, undefined) }, t.key);
    return Buffer.from(t.p.C_Encrypt(s, pt, Buffer.alloc(pt.length + 16 + extra)));
  });
  if ("error" in r) return { ok: false, ckr: ckrOf(r.error), seen: `refused it with ${ckrOf(r.error)}` };
  const out = r.value;
  if (source === "caller") {
    if (out.equals(t.hostSeal(iv, pt))) return { ok: true, seen: "used the caller's IV" };
    return { ok: false, seen: "did not encrypt under the IV it was given" };
  }
  if (source === "token-fills-zero") {
    if (iv.equals(Buffer.alloc(12))) return { ok: false, seen: "left the zero IV as it was" };
    if (out.equals(t.hostSeal(iv, pt))) return { ok: true, seen: "filled the zero IV" };
    return { ok: false, seen: "wrote an IV into the zero buffer but encrypted under another" };
  }
  if (out.length !== pt.length + 16 + 12) return { ok: false, seen: `returned ${out.length - pt.length - 16} bytes after the tag, not a 12-byte IV` };
  const ivAfter = out.subarray(-12);
  if (out.subarray(0, -12).equals(t.hostSeal(Buffer.from(ivAfter), pt))) return { ok: true, seen: "appended the IV after the tag" };
  return { ok: false, seen: "returned bytes after the tag that are not the IV it used" };
}

/** The CKR a deliberately corrupted tag gives (undefined when decryption did not fail as expected). */
function badTagAnswer(t: GcmProbeTarget): string | undefined {
  const iv = Buffer.from("ba9ba9ba9ba9");
  const pt = Buffer.from("corrupted tag probe");
  const sealed = t.hostSeal(iv, pt);
  sealed[sealed.length - 1]! ^= 0x01;
  const seen: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = t.op((s) => {
      t.p.C_DecryptInit(s, { mechanism: P.CKM_AES_GCM, parameter: gcmParameter(iv, undefined) }, t.key);
      return t.p.C_Decrypt(s, sealed, Buffer.alloc(sealed.length));
    });
    if (!("error" in r)) return undefined;
    seen.push(ckrOf(r.error));
  }
  // the same answer twice, and not one that means a resource failed
  return seen[0] === seen[1] && !RESOURCE_FAILURES.has(seen[0]!) ? seen[0] : undefined;
}

const ORDER: readonly GcmIvSource[] = ["caller", "token-fills-zero", "token-appends"];
const SOURCE_WORDS: Readonly<Record<GcmIvSource, string>> = {
  caller: "use the IV ciop gives",
  "token-fills-zero": "fill a 12-byte zero IV",
  "token-appends": "take an empty IV and append its IV after the tag",
};

/**
 * The token's GCM profile. "auto": the first IV source that works (caller, then zero-fill, then
 * append), checked against the host; the bad-tag CKR by decrypting a corrupted tag. A name or an
 * explicit object: its IV source must work and a corrupted tag must give one of its CKRs, or open
 * fails naming what differed. Returns `{ refusal }` when the token has no usable GCM (auto).
 */
export function probeGcmProfile(t: GcmProbeTarget, option: GcmProfileOption): { profile: GcmProfile } | { refusal: string } {
  if (option !== "auto") {
    const want = presetProfile(option);
    const trial = trySource(t, want.ivSource);
    const label = want.name === "custom" ? "the explicit GCM profile" : `GCM profile "${want.name}"`;
    if (!trial.ok)
      throw new CiopError(
        "ERR_CONFIG_INVALID",
        `${label} expects the token to ${SOURCE_WORDS[want.ivSource]}, but this token ${trial.seen}; use "auto" or the profile that matches the token`,
      );
    const bad = badTagAnswer(t);
    if (typeof option === "object" && option.badTagCkr === undefined) return { profile: { ...want, badTagCkrs: bad ? badTagSet(bad) : SPEC_BAD_INPUT } };
    if (bad === undefined || !want.badTagCkrs.includes(bad))
      throw new CiopError(
        "ERR_CONFIG_INVALID",
        `${label} expects a bad GCM tag to give ${want.badTagCkrs[0]}, but this token answered ${bad ?? "something else (no consistent refusal)"}; use "auto" or the profile that matches the token`,
      );
    return { profile: want };
  }
  const seen: string[] = [];
  for (const source of ORDER) {
    const trial = trySource(t, source);
    if (!trial.ok) {
      seen.push(`${source}: ${trial.seen}`);
      continue;
    }
    const bad = badTagAnswer(t);
    return { profile: { name: "probed", paramLayout: "v240", ivSource: source, badTagCkrs: bad ? badTagSet(bad) : SPEC_BAD_INPUT } };
  }
  const layout = seen.every((s) => s.includes("CKR_MECHANISM_PARAM_INVALID"))
    ? " (every v2.40 CK_GCM_PARAMS was refused as invalid: the token may take only the short struct without ulIvBits, which pkcs11js cannot send)"
    : "";
  return { refusal: `no AES-GCM IV handling of this token works with ciop${layout}: ${seen.join("; ")}` };
}
