/**
 * Token selection (label, serial, #index, CIOP_TOKEN), the three protection models, and where the
 * PIN comes from (options, CIOP_PIN, CIOP_PIN_FILE, a prompt); a missing PIN is an error that says
 * where a PIN may come from, never a silent default.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Hsm, type HsmOptions } from "../src/index.js";

const lib = () => process.env.CIOP_TEST_LIB!;
const label = () => process.env.CIOP_TEST_TOKEN_LABEL!;
const pin = () => process.env.CIOP_TEST_PIN!;
let serial: string;

/** Opens with `opts`, returns the token facts, closes. */
async function facts(opts: HsmOptions): Promise<Hsm["token"]> {
  const h = await Hsm.open({ library: lib(), ...opts });
  try {
    return h.token;
  } finally {
    await h.close();
  }
}

/** Runs `f` with environment variables set, restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

beforeAll(async () => {
  serial = (await facts({ token: label(), pin: { value: pin() } })).serial;
});

test("by label, by serial and by #index all reach the same token", async () => {
  expect(serial).toMatch(/^[0-9a-f]{16}$/);
  expect((await facts({ token: serial, pin: { value: pin() } })).label).toBe(label());
  expect((await facts({ token: "#0", pin: { value: pin() } })).serial).toBe(serial);
  // and with no selector on a library with exactly one initialised token
  expect((await facts({ pin: { value: pin() } })).serial).toBe(serial);
});

test("CIOP_TOKEN and CIOP_PIN from the environment", async () => {
  const t = await withEnv({ CIOP_TOKEN: serial, CIOP_PIN: pin() }, () => facts({}));
  expect(t.label).toBe(label());
});

test("CIOP_PIN_FILE (trailing newline ignored) and a PIN file given in options", async () => {
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "pin-"));
  const f = path.join(dir, "pin");
  writeFileSync(f, `${pin()}\n`, { mode: 0o600 });
  expect((await withEnv({ CIOP_PIN_FILE: f }, () => facts({ token: label() }))).serial).toBe(serial);
  expect((await facts({ token: label(), pin: { file: f } })).serial).toBe(serial);
  await expect(facts({ token: label(), pin: { file: path.join(dir, "absent") } })).rejects.toMatchObject({ code: "ERR_PIN_MISSING" });
});

test("softcard: the named token with its passphrase from an env var; operator card set: the named token with its PIN from a prompt", async () => {
  const soft = await withEnv({ MY_SOFTCARD_PASS: pin() }, () => facts({ protection: { kind: "softcard", name: label() }, pin: { env: "MY_SOFTCARD_PASS" } }));
  expect(soft.serial).toBe(serial);
  const asked: string[] = [];
  const ocs = await facts({
    protection: { kind: "ocs", name: label() },
    pin: {
      prompt: async (what) => {
        asked.push(what);
        return pin();
      },
    },
  });
  expect(ocs.serial).toBe(serial);
  expect(asked).toEqual([`PIN of card set '${label()}'`]);
  // the protection's name selects the token; an unknown card set is not silently replaced by another token
  await expect(facts({ protection: { kind: "softcard", name: "no-such-softcard" }, pin: { value: pin() } })).rejects.toMatchObject({
    code: "ERR_TOKEN_NOT_FOUND",
  });
});

test("module protection with no PIN anywhere is ERR_PIN_MISSING, naming the PIN sources", async () => {
  const err = await facts({ token: label() }).catch((e: Error) => e);
  expect(err).toMatchObject({ code: "ERR_PIN_MISSING" });
  expect((err as Error).message).toMatch(/CIOP_PIN.*CIOP_PIN_FILE/);
  // neutral for CLI and API users: the environment and a prompt come first, the API option last
  expect((err as Error).message).toMatch(/^no PIN of token '[^']+': set CIOP_PIN .*CIOP_PIN_FILE .*PIN prompt.*options\.pin/);
  expect((err as Error).message).not.toMatch(/pass options\.pin/);
  await expect(withEnv({ EMPTY_PIN_VAR: "" }, () => facts({ token: label(), pin: { env: "EMPTY_PIN_VAR" } }))).rejects.toMatchObject({
    code: "ERR_PIN_MISSING",
  });
  await expect(facts({ token: label(), pin: { prompt: async () => "" } })).rejects.toMatchObject({ code: "ERR_PIN_MISSING" });
});

test("an unknown selector lists the tokens that exist", async () => {
  const err = await facts({ token: "nope", pin: { value: pin() } }).catch((e: Error) => e);
  expect(err).toMatchObject({ code: "ERR_TOKEN_NOT_FOUND" });
  expect((err as Error).message).toContain(`#0 '${label()}' (serial ${serial})`);
  await expect(facts({ token: "#7", pin: { value: pin() } })).rejects.toMatchObject({ code: "ERR_TOKEN_NOT_FOUND" });
});

test("a library path that does not exist is ERR_HSM_LIBRARY with a hint", async () => {
  const err = await Hsm.open({ library: "/nonexistent/libpkcs11.so", token: "x", pin: { value: "1234" } }).catch((e: Error) => e);
  expect(err).toMatchObject({ code: "ERR_HSM_LIBRARY" });
  expect((err as Error).message).toContain("CIOP_PKCS11_LIB");
});
