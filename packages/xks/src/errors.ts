import { CiopError, type CiopErrorCode } from "@ciop/core";

/** The twelve error names of XKS Proxy API v1.0.3. @public */
export type XksErrorName =
  | "ValidationException"
  | "AuthenticationFailedException"
  | "AccessDeniedException"
  | "InvalidUriPathException"
  | "KeyNotFoundException"
  | "InvalidStateException"
  | "InvalidKeyUsageException"
  | "InvalidCiphertextException"
  | "UnsupportedOperationException"
  | "ThrottlingException"
  | "DependencyTimeoutException"
  | "InternalException";

/** HTTP status for every XKS error name. @public */
export const XKS_ERROR_STATUS: Readonly<Record<XksErrorName, number>> = {
  ValidationException: 400,
  InvalidStateException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  AccessDeniedException: 403,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  ThrottlingException: 429,
  InternalException: 500,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
};

/** All error names, in spec table order. @public */
export const XKS_ERROR_NAMES: readonly XksErrorName[] = Object.keys(XKS_ERROR_STATUS) as XksErrorName[];

/** Keeps a message inside the spec's limit: printable ASCII only, fewer than 512 characters. */
export function sanitizeErrorMessage(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 511 ? `${printable.slice(0, 508)}...` : printable;
}

/**
 * Base class of every XKS protocol error. Carries the spec `errorName` and the HTTP status, and
 * renders the single-line JSON body the spec prescribes.
 * @public
 */
export abstract class XksError extends CiopError {
  abstract readonly errorName: XksErrorName;

  constructor(code: CiopErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, sanitizeErrorMessage(message), options);
  }

  /** HTTP status for this error. */
  get httpStatus(): number {
    return XKS_ERROR_STATUS[this.errorName];
  }

  /** `{"errorName":..,"errorMessage":..}` as one line of JSON. */
  toBody(): string {
    return JSON.stringify({ errorName: this.errorName, errorMessage: this.message });
  }

  /** True for any XKS error, also across duplicate installs. */
  static isXksError(value: unknown): value is XksError {
    if (!CiopError.isInstance(value)) return false;
    const name = (value as unknown as { errorName?: unknown }).errorName;
    return typeof name === "string" && Object.hasOwn(XKS_ERROR_STATUS, name);
  }
}

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** 400: the request body or a parameter is not valid. @public */
export class ValidationException extends XksError {
  readonly errorName = "ValidationException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_VALIDATION", message, options);
  }
}
/** 401: the SigV4 signature is missing, malformed, stale or wrong. @public */
export class AuthenticationFailedException extends XksError {
  readonly errorName = "AuthenticationFailedException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_AUTHENTICATION", message, options);
  }
}
/** 403: secondary authorization refused the request. @public */
export class AccessDeniedException extends XksError {
  readonly errorName = "AccessDeniedException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_ACCESS_DENIED", message, options);
  }
}
/** 404: the URI path is not one this proxy serves (for example an unknown prefix). @public */
export class InvalidUriPathException extends XksError {
  readonly errorName = "InvalidUriPathException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_URI_PATH", message, options);
  }
}
/** 404: the external key is not in the store's allow-list or not in the HSM. @public */
export class KeyNotFoundException extends XksError {
  readonly errorName = "KeyNotFoundException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_KEY_NOT_FOUND", message, options);
  }
}
/** 400: the external key (or its store) is disabled. @public */
export class InvalidStateException extends XksError {
  readonly errorName = "InvalidStateException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_KEY_DISABLED", message, options);
  }
}
/** 400: the key does not permit the requested operation. @public */
export class InvalidKeyUsageException extends XksError {
  readonly errorName = "InvalidKeyUsageException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_KEY_USAGE", message, options);
  }
}
/** 400: ciphertext, IV, tag, AAD or metadata are corrupt or do not match. Fixed message. @public */
export class InvalidCiphertextException extends XksError {
  readonly errorName = "InvalidCiphertextException" as const;
  constructor(message = "the ciphertext could not be decrypted with the given key, IV, tag, AAD and metadata", options?: Opts) {
    super("ERR_DECRYPTION_FAILED", message, options);
  }
}
/** 501: an operation or a parameter size this proxy does not support. @public */
export class UnsupportedOperationException extends XksError {
  readonly errorName = "UnsupportedOperationException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_UNSUPPORTED", message, options);
  }
}
/** 429: request rate above the store's quota. Retryable. @public */
export class ThrottlingException extends XksError {
  readonly errorName = "ThrottlingException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_XKS_THROTTLED", message, options);
  }
}
/** 503: the HSM did not answer in time. Retryable. @public */
export class DependencyTimeoutException extends XksError {
  readonly errorName = "DependencyTimeoutException" as const;
  constructor(message: string, options?: Opts) {
    super("ERR_TIMEOUT", message, options);
  }
}
/** 500: anything else that went wrong. Retryable. @public */
export class InternalException extends XksError {
  readonly errorName = "InternalException" as const;
  constructor(message = "internal error", options?: Opts) {
    super("ERR_INTERNAL", message, options);
  }
}

const CONSTRUCTORS: Readonly<Record<XksErrorName, new (message: string, options?: Opts) => XksError>> = {
  ValidationException,
  AuthenticationFailedException,
  AccessDeniedException,
  InvalidUriPathException,
  KeyNotFoundException,
  InvalidStateException,
  InvalidKeyUsageException,
  InvalidCiphertextException,
  UnsupportedOperationException,
  ThrottlingException,
  DependencyTimeoutException,
  InternalException,
};

/** Builds the error class for `name`. @public */
export function createXksError(name: XksErrorName, message: string, options?: Opts): XksError {
  return new CONSTRUCTORS[name](message, options);
}

/**
 * Maps anything thrown below the protocol layer (HSM, timeouts) onto an XKS error:
 * ERR_KEY_DISABLED → InvalidStateException, ERR_DECRYPTION_FAILED → InvalidCiphertextException,
 * ERR_KEY_NOT_FOUND → KeyNotFoundException, ERR_TIMEOUT → DependencyTimeoutException,
 * everything else → InternalException (with a fixed message: internals never reach KMS).
 * @public
 */
export function toXksError(err: unknown): XksError {
  if (XksError.isXksError(err)) return err;
  if (CiopError.isInstance(err)) {
    switch (err.code) {
      case "ERR_KEY_DISABLED":
        return new InvalidStateException("the external key is disabled", { cause: err });
      case "ERR_DECRYPTION_FAILED":
        return new InvalidCiphertextException(undefined, { cause: err });
      case "ERR_KEY_NOT_FOUND":
        return new KeyNotFoundException("the external key was not found in the HSM", { cause: err });
      case "ERR_TIMEOUT":
        return new DependencyTimeoutException("the HSM did not answer in time", { cause: err });
      case "ERR_XKS_KEY_USAGE":
        return new InvalidKeyUsageException("the key does not permit this operation", { cause: err });
      default:
        break;
    }
  }
  return new InternalException("the key manager failed to complete the request", { cause: err });
}
