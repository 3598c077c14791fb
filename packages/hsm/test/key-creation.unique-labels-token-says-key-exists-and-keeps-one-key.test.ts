/**
 * Issue 16, "Lookups": a token that refuses duplicate labels (CloudHSM answers
 * CKR_ATTRIBUTE_VALUE_INVALID), imitated by the fault module's `quirk unique-labels` over the jest
 * run's SoftHSM token. Processes that do not share ciop's lock directory (two machines on one HSM)
 * can both find a name free and both try to create it; the token then refuses the later one.
 *
 * Failed before the fix (checked by reverting create.ts): generateKey reported the raw
 * "C_GenerateKey failed ... CKR_ATTRIBUTE_VALUE_INVALID" (ERR_HSM) instead of ERR_KEY_EXISTS, and the
 * later getOrCreateKey process failed the same way instead of returning the key the first one made.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Hsm } from "../src/index.js";
import { faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { openTestHsm, runChild, uniqueName } from "./helpers.js";

const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "unique-labels-"));
const base = uniqueName("uniq");
const pin = { value: process.env.CIOP_TEST_PIN! };
const token = process.env.CIOP_TEST_TOKEN_LABEL!;

/** A module copy imitating a unique-labels token, with extra rules (own settings file per copy). */
const uniqueLabelsModule = (...rules: string[]) =>
  faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, rules: ["quirk unique-labels", ...rules] }));
const lockDir = () => mkdtempSync(path.join(dir, "locks-"));

let plain: Hsm;
beforeAll(async () => {
  plain = await openTestHsm();
  await runChild({ options: { library: process.env.CIOP_TEST_LIB, token, pin } }, process.env); // builds the child bundle
});
afterAll(async () => {
  await plain?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("generateKey of a name another process takes meanwhile: ERR_KEY_EXISTS, as on SoftHSM, not a raw CKR", async () => {
  const name = `${base}-gen`;
  // the token holds our C_GenerateKey for 2 s; meanwhile pkcs11-tool (another process, another
  // lock directory: none) creates a key with that label
  const hsm = await Hsm.open({ library: uniqueLabelsModule("C_GenerateKey delay 2000000"), token, pin, lockDir: lockDir() });
  try {
    const other = spawn(
      "sh",
      ["-c", 'sleep 0.5; exec pkcs11-tool --module "$LIB" --token-label "$TOK" --login --pin "$PIN" --keygen --key-type AES:32 --label "$NAME" --id 0badc0de'],
      { env: { ...process.env, LIB: process.env.CIOP_TEST_LIB, TOK: token, PIN: pin.value, NAME: name }, stdio: "ignore" },
    );
    const otherDone = new Promise((r) => other.on("close", r));
    const err = await hsm.generateKey(name, "AES-256").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(await otherDone).toBe(0);
    expect(err).toMatchObject({ code: "ERR_KEY_EXISTS", message: expect.stringContaining(`'${name}' already exists`) });
    // the key there is the other tool's, the only one with the label
    expect(hsm.findKey(name)).toMatchObject({ id: "0badc0de", createdByCiop: false });
    // and a later generateKey of that name says the same (found by the lookup, as on SoftHSM)
    await expect(hsm.generateKey(name, "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_EXISTS" });
    hsm.deleteKey(name);
  } finally {
    await hsm.close();
  }
}, 30_000);

test("two processes without a shared lock calling getOrCreateKey at once end with one key", async () => {
  const name = `${base}-race`;
  const startAt = Date.now() + 1500;
  // both look the name up at startAt and find nothing; the token lets the first create at +0.5 s
  // and refuses the second at +1.5 s (the label is taken by then)
  const [a, b] = await Promise.all(
    ["C_GenerateKey delay 500000", "C_GenerateKey delay 1500000"].map((rule) =>
      runChild(
        { options: { library: uniqueLabelsModule(rule), token, pin, lockDir: lockDir() }, startAt, getOrCreate: { name, type: "AES-256" } },
        process.env,
      ),
    ),
  );
  expect(a!.json.error).toBeUndefined();
  expect(b!.json.error).toBeUndefined();
  expect([a!.json.created, b!.json.created]).toEqual([true, false]);
  expect(b!.json.id).toBe(a!.json.id);
  expect(plain.listKeys().filter((k) => k.name === name)).toHaveLength(1);
  plain.deleteKey(name);
}, 60_000);
