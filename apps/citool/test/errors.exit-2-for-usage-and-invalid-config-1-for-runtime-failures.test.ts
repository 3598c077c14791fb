/**
 * Issue 15: one exit-code rule for both apps, citool's side (src/errors.ts; xks-proxy's is
 * apps/xks-proxy/src/exit-code.ts and its CLI test): 2 for usage errors and an invalid or unreadable
 * configuration, 1 for failures while working.
 */
import { CiopError, USAGE_ERROR_CODES } from "@ciop/core";
import { HsmError } from "@ciop/hsm";
import { exitCodeFor, usageError } from "../src/errors.js";

test("usage errors and invalid configuration exit 2", () => {
  expect(exitCodeFor(usageError("bad flag"))).toBe(2);
  expect(exitCodeFor(new CiopError("ERR_CONFIG_INVALID", "cannot read the configuration file x.toml"))).toBe(2);
  for (const code of USAGE_ERROR_CODES) expect(exitCodeFor(new CiopError(code, "x"))).toBe(2);
});

test("failures while working exit 1", () => {
  expect(exitCodeFor(new HsmError("ERR_HSM_LIBRARY", "cannot load the PKCS#11 library"))).toBe(1);
  expect(exitCodeFor(new CiopError("ERR_KEY_NOT_FOUND", "no such key"))).toBe(1);
  expect(exitCodeFor(new Error("unexpected"))).toBe(1);
  expect(exitCodeFor("thrown string")).toBe(1);
});
