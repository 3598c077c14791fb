/**
 * Issue 16, "Three tokens in CI" (NSS softokn): `[hsm] library_parameters` is read (so the
 * unknown-key check knows it) and reaches @ciop/hsm's C_Initialize options for the server and the
 * admin commands. Before it existed, the key was refused as unknown and NSS could not be opened.
 */
import { adminHsmOptions, serverHsmOptions } from "../src/hsm-options.js";
import { parseConfig } from "../src/proxy-config.js";
import { testDir } from "./proxy-helpers.js";

const dir = testDir("config-libparams");
const PARAMS = "configdir='sql:/var/lib/ciop/nss' certPrefix='' keyPrefix='' secmod='secmod.db' flags=noModDB";

function config(hsmLine: string): string {
  return [
    "[hsm]",
    'library = "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"',
    'token = "NSS Certificate DB"',
    'pin_env = "PIN"',
    hsmLine,
    "",
    "[[stores]]",
    'name = "a"',
    'uri_prefix = "/a/xks"',
    'keys = ["k1"]',
    "[[stores.credentials]]",
    'access_key_id = "AAAAAAAAAAAAAAAAAAAAAAAA"',
    `secret_access_key = "${"s".repeat(44)}"`,
    "",
  ].join("\n");
}
const load = (text: string) => parseConfig(text, { dir, env: { PIN: "1234" } });

test("library_parameters is read and passed to the server's and the admin commands' HSM options", async () => {
  const cfg = await load(config(`library_parameters = "${PARAMS}"`));
  expect(cfg.hsm.libraryParameters).toBe(PARAMS);
  expect(serverHsmOptions(cfg.hsm).libraryParameters).toBe(PARAMS);
  expect(adminHsmOptions(cfg.hsm, {}).libraryParameters).toBe(PARAMS);
});

test("without it nothing is passed (@ciop/hsm then reads CIOP_PKCS11_PARAMS)", async () => {
  const cfg = await load(config(""));
  expect(cfg.hsm.libraryParameters).toBeUndefined();
  expect(serverHsmOptions(cfg.hsm).libraryParameters).toBeUndefined();
});

test("a misspelling is refused naming library_parameters; a non-string is refused", async () => {
  await expect(load(config(`library_params = "${PARAMS}"`))).rejects.toThrow(/library_parameters/);
  await expect(load(config("library_parameters = 5"))).rejects.toThrow(/library_parameters/);
});
