import { CiopError } from "@ciop/core";

/**
 * The error codes this proxy answers with, and their HTTP status. The API reference fixes the
 * statuses (400, 401, 403, 404, 429, 5xx) and the `{code, message}` body; the code names follow
 * Microsoft's troubleshooting guide (BadRequest, Unauthorized, Forbidden, KeyNotFound, Throttled,
 * InternalServerError, BadGateway, ServiceUnavailable) and the reference's KeyDisabled example.
 * @public
 */
export const EKM_ERROR_STATUS = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  KeyDisabled: 403,
  OperationNotSupported: 403,
  KeyNotFound: 404,
  Throttled: 429,
  InternalServerError: 500,
  BadGateway: 502,
  ServiceUnavailable: 503,
} as const;

/** @public */
export type EkmErrorCode = keyof typeof EKM_ERROR_STATUS;

/** Printable ASCII, at most 300 characters: messages may carry client text and go into logs. */
export function sanitizeMessage(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 300 ? `${printable.slice(0, 297)}...` : printable;
}

/**
 * An error of the EKM proxy API: the API's `code`, the HTTP status and a message without secrets.
 * @public
 */
export class EkmError extends CiopError {
  readonly ekmCode: EkmErrorCode;

  constructor(ekmCode: EkmErrorCode, message: string, options?: { cause?: unknown }) {
    super("ERR_AZURE_EKM", sanitizeMessage(message), { ...(options?.cause !== undefined ? { cause: options.cause } : {}), details: { code: ekmCode } });
    this.ekmCode = ekmCode;
  }

  get httpStatus(): number {
    return EKM_ERROR_STATUS[this.ekmCode];
  }

  /** The ProxyError body. */
  toBody(): { code: string; message: string } {
    return { code: this.ekmCode, message: this.message };
  }

  static isEkmError(value: unknown): value is EkmError {
    return CiopError.isInstance(value) && value.code === "ERR_AZURE_EKM" && typeof (value as { ekmCode?: unknown }).ekmCode === "string";
  }
}

/**
 * Maps an error thrown by the key manager (see {@link EkmCrypto}) to the API's error. Unknown errors
 * become InternalServerError with a fixed message (their text may hold details not meant for the caller).
 * @public
 */
export function ekmErrorFrom(err: unknown): EkmError {
  if (EkmError.isEkmError(err)) return err;
  if (!CiopError.isInstance(err)) return new EkmError("InternalServerError", "internal error");
  switch (err.code) {
    case "ERR_KEY_DISABLED":
      return new EkmError("KeyDisabled", "the key is disabled");
    case "ERR_KEY_NOT_FOUND":
      return new EkmError("KeyNotFound", "no such key");
    case "ERR_DECRYPTION_FAILED":
      return new EkmError("BadRequest", "the wrapped value does not unwrap under this key");
    case "ERR_USAGE":
      return new EkmError("BadRequest", err.message);
    case "ERR_MECHANISM_UNSUPPORTED":
    case "ERR_HOST_FALLBACK_REFUSED":
    case "ERR_ALGORITHM_UNSUPPORTED":
      return new EkmError("OperationNotSupported", "the key manager cannot do this operation with this key");
    case "ERR_TIMEOUT":
      return new EkmError("ServiceUnavailable", "the HSM did not answer in time");
    case "ERR_HSM":
    case "ERR_HSM_LIBRARY":
    case "ERR_TOKEN_NOT_FOUND":
    case "ERR_PIN_INCORRECT":
    case "ERR_PIN_MISSING":
      return new EkmError("BadGateway", "the HSM failed the operation");
    default:
      return /TIMEOUT/.test(err.code)
        ? new EkmError("ServiceUnavailable", "the HSM did not answer in time")
        : new EkmError("InternalServerError", "internal error");
  }
}
