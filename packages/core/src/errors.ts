/**
 * The one error base class of ciop. Every package throws a subclass of {@link CiopError} with a
 * string `code` from {@link CiopErrorCode}, so callers can `switch (err.code)` or use `instanceof`.
 * A `Symbol.for` marker keeps {@link CiopError.isInstance} true across duplicate installs and the
 * ESM/CJS split.
 *
 * @example
 * ```ts
 * try { await exportKey(req) } catch (err) {
 *   if (CiopError.isInstance(err) && err.code === "ERR_WRAPPING_KEY_TOO_WEAK") { ... }
 * }
 * ```
 * @public
 */
export type CiopErrorCode =
  // usage: the caller asked for something invalid (CLI exit status 2)
  | "ERR_USAGE"
  | "ERR_CONFIG_INVALID"
  | "ERR_PROVIDER_UNKNOWN"
  | "ERR_ALGORITHM_UNSUPPORTED"
  | "ERR_KEY_TYPE_UNSUPPORTED"
  | "ERR_WRAPPING_KEY_INVALID"
  | "ERR_WRAPPING_KEY_TOO_WEAK"
  | "ERR_WRAPPING_KEY_SIZE"
  | "ERR_CERTIFICATE_NOT_VALID"
  | "ERR_KID_INVALID"
  | "ERR_KEY_NAME_INVALID"
  | "ERR_OUTPUT_EXISTS"
  // key store state
  | "ERR_KEY_NOT_FOUND"
  | "ERR_KEY_EXISTS"
  | "ERR_KEY_NOT_CIOP"
  | "ERR_KEY_TYPE_MISMATCH"
  | "ERR_KEY_DISABLED"
  // HSM
  | "ERR_HSM"
  | "ERR_HSM_LIBRARY"
  | "ERR_TOKEN_NOT_FOUND"
  | "ERR_PIN_INCORRECT"
  | "ERR_PIN_MISSING"
  | "ERR_MECHANISM_UNSUPPORTED"
  | "ERR_HOST_FALLBACK_REFUSED"
  | "ERR_TIMEOUT"
  // XKS proxy protocol (@ciop/xks): one per spec errorName not covered above
  | "ERR_XKS_VALIDATION"
  | "ERR_XKS_AUTHENTICATION"
  | "ERR_XKS_ACCESS_DENIED"
  | "ERR_XKS_URI_PATH"
  | "ERR_XKS_KEY_USAGE"
  | "ERR_XKS_UNSUPPORTED"
  | "ERR_XKS_THROTTLED"
  // Azure Managed HSM external key manager protocol (@ciop/azure-ekm): the API's own code is in the error
  | "ERR_AZURE_EKM"
  // crypto results (fixed, detail-free messages)
  | "ERR_DECRYPTION_FAILED"
  | "ERR_INTERNAL";

const MARKER = Symbol.for("ciop.error");

/** Codes that mean "the request was wrong" rather than "something failed while doing it". */
export const USAGE_ERROR_CODES: ReadonlySet<CiopErrorCode> = new Set<CiopErrorCode>([
  "ERR_USAGE",
  "ERR_CONFIG_INVALID",
  "ERR_PROVIDER_UNKNOWN",
  "ERR_ALGORITHM_UNSUPPORTED",
  "ERR_KEY_TYPE_UNSUPPORTED",
  "ERR_WRAPPING_KEY_INVALID",
  "ERR_WRAPPING_KEY_TOO_WEAK",
  "ERR_WRAPPING_KEY_SIZE",
  "ERR_CERTIFICATE_NOT_VALID",
  "ERR_KID_INVALID",
  "ERR_KEY_NAME_INVALID",
  "ERR_OUTPUT_EXISTS",
  "ERR_KEY_NOT_CIOP",
  "ERR_KEY_TYPE_MISMATCH",
]);

/** @public */
export class CiopError extends Error {
  /** Machine-readable code; stable across releases. */
  readonly code: CiopErrorCode;
  /** Extra structured facts (never secrets) for logs and `--json` output. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: CiopErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
    this.name = new.target.name;
    Object.defineProperty(this, MARKER, { value: true });
    if (typeof Error.captureStackTrace === "function") Error.captureStackTrace(this, new.target);
  }

  /** True for any ciop error, even one thrown by another copy of this package. */
  static isInstance(value: unknown): value is CiopError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** True when the error is the caller's fault (bad argument, unsupported combination...). */
  get isUsageError(): boolean {
    return USAGE_ERROR_CODES.has(this.code);
  }
}
