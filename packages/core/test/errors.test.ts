import { CiopError } from "../src/index.js";

test("isInstance recognises ciop errors by marker, not by class identity", () => {
  const e = new CiopError("ERR_KEY_NOT_FOUND", "no such key");
  expect(CiopError.isInstance(e)).toBe(true);
  expect(CiopError.isInstance(new Error("x"))).toBe(false);
  expect(CiopError.isInstance({ code: "ERR_KEY_NOT_FOUND" })).toBe(false);
  expect(e.name).toBe("CiopError");
});

test("usage errors are told apart from runtime failures", () => {
  expect(new CiopError("ERR_ALGORITHM_UNSUPPORTED", "x").isUsageError).toBe(true);
  expect(new CiopError("ERR_HSM", "x").isUsageError).toBe(false);
});

test("subclasses keep their own name and the cause", () => {
  class HsmError extends CiopError {}
  const cause = new Error("inner");
  const e = new HsmError("ERR_HSM", "outer", { cause });
  expect(e.name).toBe("HsmError");
  expect(e.cause).toBe(cause);
});
