/**
 * Issue 16 ("library_parameters to the HSM settings of every app"): the admin commands take
 * --hsm-params like citool, so a library that needs C_Initialize parameters (NSS softokn) can be
 * named on the command line. Before, `keys list --hsm-lib <softokn> --hsm-params …` was a usage error
 * (exit 2, unknown option) and the only ways in were [hsm] library_parameters or $CIOP_PKCS11_PARAMS.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { admin } from "./admin-helpers.js";

const skip = process.env.CIOP_TEST_NSS_SKIP;
if (skip) process.stderr.write(`NSS softokn admin test skipped: ${skip}\n`);
const nssTest = skip ? test.skip : test;

const nss = () => ({
  lib: process.env.CIOP_TEST_NSS_LIB!,
  params: process.env.CIOP_TEST_NSS_PARAMS!,
  token: process.env.CIOP_TEST_NSS_TOKEN!,
  pin: process.env.CIOP_TEST_NSS_PIN!,
});

let pinFile = "";
beforeAll(() => {
  const dir = mkdtempSync(join(process.env.CIOP_TEST_DIR!, "admin-hsm-params-"));
  pinFile = join(dir, "pin");
  if (!skip) writeFileSync(pinFile, `${nss().pin}\n`, { mode: 0o600 });
  // only the option under test may carry the parameters
  delete process.env.CIOP_PKCS11_PARAMS;
});

nssTest("without --hsm-params the library refuses to start and the error says parameters are needed", async () => {
  const r = await admin(["keys", "list", "--hsm-lib", nss().lib, "--token", nss().token, "--pin-file", pinFile]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/library parameters/);
});

nssTest("keys create and keys list reach NSS softokn's token through --hsm-params", async () => {
  const base = ["--hsm-lib", nss().lib, "--hsm-params", nss().params, "--token", nss().token, "--pin-file", pinFile];
  const name = `admin-params-${process.pid}`;
  const created = await admin(["keys", "create", name, ...base]);
  expect(created.err).toBe("");
  expect(created.code).toBe(0);
  const listed = await admin(["keys", "list", "--json", ...base]);
  expect(listed.code).toBe(0);
  const names = (JSON.parse(listed.out).keys as Array<{ name: string }>).map((k) => k.name);
  expect(names).toContain(name);
  // the parameters (a path on this machine) are not echoed
  expect(listed.out + listed.err + created.out).not.toContain(nss().params);
});

test("--hsm-params is an option of every admin command that opens the HSM", async () => {
  for (const argv of [
    ["keys", "list", "--help"],
    ["salesforce", "--help"],
    ["azure-ekm", "--help"],
  ]) {
    const r = await admin(argv);
    expect(`${argv.join(" ")}: ${r.out}${r.err}`).toMatch(/--hsm-params/);
  }
});
