import pkcs11js from "pkcs11js";
import { CiopError, type CiopErrorCode } from "@ciop/core";

/** Return codes pkcs11js 2.1.7 has no name for (it reports them as CKR_VENDOR_DEFINED). */
const EXTRA_CKR_NAMES: Record<number, string> = {
  27: "CKR_ACTION_PROHIBITED",
  26: "CKR_NEW_PIN_MODE",
  28: "CKR_NEXT_OTP",
  29: "CKR_PUBLIC_KEY_INVALID",
  512: "CKR_FUNCTION_REJECTED",
  432: "CKR_CURVE_NOT_SUPPORTED",
};

let nameByCode: Map<number, string> | undefined;
let codeByName: Map<string, number> | undefined;

function tables(): { nameByCode: Map<number, string>; codeByName: Map<string, number> } {
  if (!nameByCode || !codeByName) {
    nameByCode = new Map();
    codeByName = new Map();
    const mod = pkcs11js as unknown as Record<string, unknown>;
    for (const key of Object.keys(mod)) {
      const v = mod[key];
      if (key.startsWith("CKR_") && typeof v === "number") {
        if (!nameByCode.has(v)) nameByCode.set(v, key);
        codeByName.set(key, v);
      }
    }
    for (const [code, name] of Object.entries(EXTRA_CKR_NAMES)) {
      nameByCode.set(Number(code), name);
      codeByName.set(name, Number(code));
    }
  }
  return { nameByCode, codeByName };
}

/** The CKR_* name of a PKCS#11 return value (e.g. 0xa0 → "CKR_PIN_INCORRECT"). @public */
export function ckrName(code: number): string {
  return tables().nameByCode.get(code) ?? `CKR_0x${code.toString(16)}`;
}

/**
 * An error returned by the PKCS#11 library (or raised while talking to it). `ckr` is the CKR_* name,
 * `ckrCode` its number and `fn` the PKCS#11 function that failed.
 *
 * @example
 * ```ts
 * try { await Hsm.open({ pin: { value: "wrong" } }) } catch (err) {
 *   if (err instanceof HsmError && err.ckr === "CKR_PIN_INCORRECT") { ... } // err.code === "ERR_PIN_INCORRECT"
 * }
 * ```
 * @public
 */
export class HsmError extends CiopError {
  /** CKR_* name, e.g. "CKR_PIN_INCORRECT"; undefined when the failure did not come from the library. */
  readonly ckr: string | undefined;
  /** Numeric CK_RV. */
  readonly ckrCode: number | undefined;
  /** PKCS#11 function, e.g. "C_Login". */
  readonly fn: string | undefined;
  /**
   * The token or this process could not give an answer (no file descriptor left, a token that
   * stopped answering or reported nothing at all): a resource failure to retry, never a statement
   * about the key. Set, for example, when a key search came back empty but could not be trusted.
   */
  readonly unavailable: boolean;

  constructor(
    code: CiopErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown>; ckr?: string; ckrCode?: number; fn?: string; unavailable?: boolean },
  ) {
    super(code, message, {
      cause: options?.cause,
      details: {
        ...(options?.details ?? {}),
        ...(options?.ckr ? { ckr: options.ckr, ckrCode: options.ckrCode, fn: options.fn } : {}),
        ...(options?.unavailable ? { unavailable: true } : {}),
      },
    });
    this.ckr = options?.ckr;
    this.ckrCode = options?.ckrCode;
    this.fn = options?.fn;
    this.unavailable = options?.unavailable === true;
  }
}

/** Extracts (code, name) from whatever pkcs11js threw. Returns undefined if it is not a PKCS#11 error. */
export function parseCkr(err: unknown): { code: number; name: string } | undefined {
  // Duck-typed, not `instanceof Error`: native code may create the Error in another realm (jest's vm
  // contexts, worker isolates), where instanceof fails.
  if (typeof err !== "object" || err === null || typeof (err as { message?: unknown }).message !== "string") return undefined;
  const { nameByCode, codeByName } = tables();
  const e = err as Error & { code?: unknown };
  const m = /\b(CKR_[A-Z0-9_]+)(?::(\d+))?/.exec(`${e.message}\n${e.stack ?? ""}`);
  let code: number | undefined;
  if (typeof e.code === "number" && e.code !== 0) code = e.code;
  else if (m?.[2] !== undefined) code = Number(m[2]);
  else if (m?.[1] !== undefined) code = codeByName.get(m[1]);
  if (code === undefined) {
    if (m?.[1] === undefined) return undefined;
    return { code: -1, name: m[1] };
  }
  // pkcs11js labels codes missing from its table "CKR_VENDOR_DEFINED" (e.g. 0x1B CKR_ACTION_PROHIBITED).
  const name = nameByCode.get(code) ?? (code >= 0x80000000 ? "CKR_VENDOR_DEFINED" : `CKR_0x${code.toString(16)}`);
  return { code, name };
}

const DEFAULT_MAP: Record<string, CiopErrorCode> = {
  CKR_PIN_INCORRECT: "ERR_PIN_INCORRECT",
  CKR_PIN_INVALID: "ERR_PIN_INCORRECT",
  CKR_PIN_LEN_RANGE: "ERR_PIN_INCORRECT",
  CKR_PIN_LOCKED: "ERR_PIN_INCORRECT",
  CKR_PIN_EXPIRED: "ERR_PIN_INCORRECT",
  CKR_MECHANISM_INVALID: "ERR_MECHANISM_UNSUPPORTED",
  CKR_MECHANISM_PARAM_INVALID: "ERR_MECHANISM_UNSUPPORTED",
  CKR_TOKEN_NOT_PRESENT: "ERR_TOKEN_NOT_FOUND",
  CKR_TOKEN_NOT_RECOGNIZED: "ERR_TOKEN_NOT_FOUND",
  CKR_SLOT_ID_INVALID: "ERR_TOKEN_NOT_FOUND",
  // A stale object handle (CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID) is not "key not
  // found": only a search that succeeded and came back empty says that (Hsm.refind).
};

const HINTS: Record<string, string> = {
  CKR_PIN_INCORRECT: "the PIN (or passphrase) was rejected by the token",
  CKR_PIN_LEN_RANGE: "the PIN length is outside what the token accepts",
  CKR_PIN_LOCKED: "the PIN is locked on the token",
  CKR_KEY_FUNCTION_NOT_PERMITTED: "the key's attributes do not permit this operation (is it disabled?)",
  CKR_KEY_UNEXTRACTABLE: "the key is not extractable (CKA_EXTRACTABLE=false), so it cannot be wrapped",
  CKR_KEY_NOT_WRAPPABLE: "the token will not wrap this key with this mechanism or wrapping key",
  CKR_MECHANISM_INVALID: "the token does not implement this mechanism",
  CKR_MECHANISM_PARAM_INVALID: "the token rejects the mechanism parameters",
  CKR_ARGUMENTS_BAD: "the token rejects the arguments (often: unsupported mechanism parameters)",
  CKR_ACTION_PROHIBITED: "the token prohibits this change (is the object CKA_MODIFIABLE=false?)",
  CKR_ATTRIBUTE_READ_ONLY: "the attribute cannot be changed",
  CKR_OBJECT_HANDLE_INVALID: "the object no longer exists or its handle went stale",
  CKR_USER_NOT_LOGGED_IN: "not logged in to the token",
};

/**
 * Converts anything pkcs11js throws (Pkcs11Error, or the plain `Error("CKR_X:NN")` of
 * C_CreateObject/C_SetAttributeValue/C_CopyObject) into an {@link HsmError}.
 */
export function toHsmError(err: unknown, fn: string, context?: string, override?: Partial<Record<string, CiopErrorCode>>): HsmError {
  if (err instanceof HsmError) return err;
  if (CiopError.isInstance(err)) {
    const ce = err as CiopError;
    return new HsmError(ce.code, ce.message, { cause: err });
  }
  const parsed = parseCkr(err);
  if (!parsed) {
    const msg = typeof (err as { message?: unknown } | null)?.message === "string" ? (err as Error).message : String(err);
    return new HsmError("ERR_HSM", `${fn} failed${context ? ` (${context})` : ""}: ${msg}`, { cause: err, fn });
  }
  const code = override?.[parsed.name] ?? DEFAULT_MAP[parsed.name] ?? "ERR_HSM";
  const hint = HINTS[parsed.name];
  const hex = parsed.code >= 0 ? ` (0x${parsed.code.toString(16)})` : "";
  const message = `${fn} failed${context ? ` while ${context}` : ""}: ${parsed.name}${hex}${hint ? `: ${hint}` : ""}`;
  return new HsmError(code, message, { cause: err, ckr: parsed.name, ckrCode: parsed.code >= 0 ? parsed.code : undefined, fn });
}

/** Runs a PKCS#11 call, normalising its errors. */
export function call<T>(fn: string, f: () => T, context?: string, override?: Partial<Record<string, CiopErrorCode>>): T {
  try {
    return f();
  } catch (err) {
    throw toHsmError(err, fn, context, override);
  }
}

/** Async flavour of {@link call}. */
export async function callAsync<T>(fn: string, f: () => Promise<T>, context?: string, override?: Partial<Record<string, CiopErrorCode>>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw toHsmError(err, fn, context, override);
  }
}

export function isCkr(err: unknown, ...names: string[]): boolean {
  if (err instanceof HsmError) return err.ckr !== undefined && names.includes(err.ckr);
  const p = parseCkr(err);
  return p !== undefined && names.includes(p.name);
}
