/**
 * `[hsm] allow_host_fallback` (default false) reaches Hsm.open's allowHostFallback: on the test
 * SoftHSM token treated as hardware (assumeHardwareToken), a host-side step is refused without it
 * and allowed (and reported) with it.
 */
import { CiopError, zeroize } from "@ciop/core";
import { generateXksCredential } from "@ciop/xks";
import { parseConfig } from "../src/proxy-config.js";
import { HsmBackend } from "../src/hsm-backend.js";
import { ciopToml, replaceOrThrow, storeToml, testDir } from "./proxy-helpers.js";

const C = generateXksCredential();
const keyName = `ahf-${process.pid}`;
let dir: string;

const text = (hsmLine: string) =>
  replaceOrThrow(
    ciopToml({ stores: storeToml("s", "/s", [keyName], [C]), healthKey: "ahf-health" }),
    'pin_env = "CIOP_TEST_PIN"',
    `pin_env = "CIOP_TEST_PIN"\n${hsmLine}`,
  );

beforeAll(() => {
  dir = testDir("allow-host-fallback");
});

test("parsed: default false, true/false as written, anything else refused", async () => {
  expect((await parseConfig(text(""), { dir })).hsm.allowHostFallback).toBe(false);
  expect((await parseConfig(text("allow_host_fallback = true"), { dir })).hsm.allowHostFallback).toBe(true);
  expect((await parseConfig(text("allow_host_fallback = false"), { dir })).hsm.allowHostFallback).toBe(false);
  await expect(parseConfig(text('allow_host_fallback = "yes"'), { dir })).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringContaining("hsm.allow_host_fallback"),
  });
});

test("on a token treated as hardware: refused without the setting, allowed and reported with it", async () => {
  const outcome = async (hsmLine: string): Promise<{ allows: boolean; result: string; count: number }> => {
    const cfg = await parseConfig(text(hsmLine), { dir });
    const backend = await HsmBackend.open(cfg.hsm, {}, { assumeHardwareToken: true });
    try {
      const hsm = backend.hsm;
      const { key } = await hsm.getOrCreateKey(keyName, "AES-256");
      let result: string;
      try {
        const bytes = await hsm.exportKeyToHost(key, "test: the proxy's host-fallback switch");
        result = `exported ${bytes.length} bytes`;
        zeroize(bytes);
      } catch (err) {
        if (!CiopError.isInstance(err)) throw err;
        result = (err as CiopError).code;
      }
      return { allows: hsm.allowsHostFallback(), result, count: hsm.hostFallbackCount };
    } finally {
      await backend.close();
    }
  };
  expect(await outcome("")).toEqual({ allows: false, result: "ERR_HOST_FALLBACK_REFUSED", count: 0 });
  expect(await outcome("allow_host_fallback = false")).toEqual({ allows: false, result: "ERR_HOST_FALLBACK_REFUSED", count: 0 });
  expect(await outcome("allow_host_fallback = true")).toEqual({ allows: true, result: "exported 32 bytes", count: 1 });
});
