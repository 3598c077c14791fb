/**
 * Issue 14 "Proof" (fault runs, citool): the built citool exports through the fault-injecting
 * PKCS#11 module (tools/pkcs11-fault) over the test token, which returns CKR_DEVICE_ERROR at the
 * wrap (C_WrapKey) or at key generation (C_GenerateKey). citool exits 1 with a message naming the
 * failure, writes no file (not even a partial one) and leaves no key of that name in the token.
 * (It passed on the code before issue 14's changes: citool already cleaned up; this keeps it so.)
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Hsm } from "@ciop/hsm";
import { testToken } from "@ciop/testkit";
import { faultEnv, faultModule } from "../../../tools/pkcs11-fault/fault.cjs";
import { assertBuilt, makeWrappingKeys, runCli, tempDir, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;

beforeAll(async () => {
  assertBuilt();
  keys = await makeWrappingKeys(join(tempDir("fault-wk"), "wk"), [2048]);
}, 120_000);

async function tokenKeyNames(): Promise<string[]> {
  const t = testToken();
  const hsm = await Hsm.open({ library: t.lib, token: t.label, pin: { value: t.pin } });
  try {
    return hsm.listKeys().map((k) => k.name);
  } finally {
    await hsm.close();
  }
}

test.each([
  ["C_WrapKey", /C_WrapKey.*CKR_DEVICE_ERROR|CKR_DEVICE_ERROR.*C_WrapKey/s],
  ["C_GenerateKey", /C_GenerateKey.*CKR_DEVICE_ERROR|CKR_DEVICE_ERROR.*C_GenerateKey/s],
])("CKR_DEVICE_ERROR at %s: exit 1, a message naming it, no file, no key left in the token", async (fn, message) => {
  const t = testToken();
  const cwd = tempDir(`fault-${fn}`);
  const name = `fault-${fn.toLowerCase().replace("_", "-")}-${process.pid}`;
  const r = await runCli(["--hsm-lib", faultModule(), "--token", t.label, "aws", name, keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", cwd], {
    cwd,
    noHsmArgs: true,
    env: faultEnv({ realModule: t.lib, rules: `${fn} fail CKR_DEVICE_ERROR` }),
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
  expect(readdirSync(cwd).filter((f) => !f.startsWith("."))).toEqual([]);
  expect(await tokenKeyNames()).not.toContain(name);
});
