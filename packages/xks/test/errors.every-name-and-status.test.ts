import { CiopError } from "@ciop/core";
import { XKS_ERROR_NAMES, XKS_ERROR_STATUS, XksError, createXksError, sanitizeErrorMessage, toXksError, InvalidCiphertextException } from "../src/index.js";

const EXPECTED: Record<string, number> = {
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

describe("XKS error model", () => {
  it("has exactly the twelve spec error names with their HTTP statuses", () => {
    expect(XKS_ERROR_NAMES).toHaveLength(12);
    expect({ ...XKS_ERROR_STATUS }).toEqual(EXPECTED);
  });

  it.each(Object.entries(EXPECTED))("%s renders status %i and a one-line JSON body", (name, status) => {
    const e = createXksError(name as never, "what went wrong");
    expect(e).toBeInstanceOf(XksError);
    expect(e).toBeInstanceOf(CiopError);
    expect(e.constructor.name).toBe(name);
    expect(e.errorName).toBe(name);
    expect(e.httpStatus).toBe(status);
    const body = e.toBody();
    expect(body).not.toContain("\n");
    expect(JSON.parse(body)).toEqual({ errorName: name, errorMessage: "what went wrong" });
    expect(XksError.isXksError(e)).toBe(true);
  });

  it("keeps errorMessage printable ASCII and under 512 characters", () => {
    const e = createXksError("ValidationException", `é\n\t${"x".repeat(2000)}`);
    const { errorMessage } = JSON.parse(e.toBody()) as { errorMessage: string };
    expect(errorMessage.length).toBeLessThan(512);
    expect(errorMessage).toMatch(/^[\x20-\x7e]*$/);
    expect(sanitizeErrorMessage("ok")).toBe("ok");
  });

  it("maps errors from below onto spec names without leaking their text", () => {
    expect(toXksError(new CiopError("ERR_KEY_DISABLED", "x")).errorName).toBe("InvalidStateException");
    expect(toXksError(new CiopError("ERR_DECRYPTION_FAILED", "x")).errorName).toBe("InvalidCiphertextException");
    expect(toXksError(new CiopError("ERR_KEY_NOT_FOUND", "x")).errorName).toBe("KeyNotFoundException");
    expect(toXksError(new CiopError("ERR_TIMEOUT", "x")).errorName).toBe("DependencyTimeoutException");
    const internal = toXksError(new Error("CKR_DEVICE_ERROR secret detail"));
    expect(internal.errorName).toBe("InternalException");
    expect(internal.toBody()).not.toContain("secret detail");
    const passthrough = new InvalidCiphertextException();
    expect(toXksError(passthrough)).toBe(passthrough);
  });
});
