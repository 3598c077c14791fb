/**
 * Issue 18 review: a token that fails while @ciop/hsm probes its mechanisms at open (here the
 * fault module answers CKR_DEVICE_ERROR to every C_CreateObject, which the probe uses for its
 * throw-away session keys) is reported as an HSM failure, ERR_HSM naming the CKR, never as
 * ERR_INTERNAL. Before: the raw pkcs11js Error("CKR_DEVICE_ERROR:48") left Hsm.open as it was, and
 * citool reported it as ERR_INTERNAL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { CiopError } from "@ciop/core";
import { Hsm } from "../src/index.js";
import { faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";

const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "probe-failure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("C_CreateObject failing during the open-time probe: ERR_HSM with the CKR name, not ERR_INTERNAL", async () => {
  const library = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, rules: ["C_CreateObject fail CKR_DEVICE_ERROR"] }));
  let caught: unknown;
  try {
    const hsm = await Hsm.open({ library, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
    await hsm.close();
  } catch (err) {
    caught = err;
  }
  expect(CiopError.isInstance(caught)).toBe(true);
  expect((caught as CiopError).code).toBe("ERR_HSM");
  expect((caught as Error).message).toMatch(/CKR_DEVICE_ERROR/);
  expect((caught as Error).message).toMatch(/probing the token's mechanisms/);
});
