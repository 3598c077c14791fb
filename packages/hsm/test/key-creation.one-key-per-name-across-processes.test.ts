/**
 * A key name maps to one key, also when separate processes ask for it at the same moment, and a key
 * made by one process is usable by another straight away.
 */
import pkcs11js from "pkcs11js";
import type { Hsm } from "../src/index.js";
import { openTestHsm, runChild, uniqueName } from "./helpers.js";

const P = pkcs11js;
let hsm: Hsm;
const base = uniqueName("xproc");
const testOptions = () => ({ library: process.env.CIOP_TEST_LIB, token: process.env.CIOP_TEST_TOKEN_LABEL, pin: { value: process.env.CIOP_TEST_PIN } });

/** Objects labelled `name` on the token, counted through a raw pkcs11js session. */
function countObjects(name: string): number {
  const raw = new P.PKCS11();
  raw.load(process.env.CIOP_TEST_LIB!);
  try {
    raw.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch {
    /* initialised by the Hsm */
  }
  const slot = raw.C_GetSlotList(true).find((s) => raw.C_GetTokenInfo(s).label.trim() === process.env.CIOP_TEST_TOKEN_LABEL)!;
  const s = raw.C_OpenSession(slot, P.CKF_SERIAL_SESSION);
  try {
    raw.C_FindObjectsInit(s, [{ type: P.CKA_LABEL, value: name }]);
    const n = raw.C_FindObjects(s, 100).length;
    raw.C_FindObjectsFinal(s);
    return n;
  } finally {
    raw.C_CloseSession(s);
  }
}

beforeAll(async () => {
  hsm = await openTestHsm();
  // build the child bundle once, outside the timed race
  await runChild({ options: testOptions() }, process.env);
});
afterAll(() => hsm?.close());

test.each([
  ["AES-256", 4, 1],
  ["EC-NISTP384", 3, 2],
  ["RSA-2048", 2, 2],
] as const)(
  "%s: %i processes calling getOrCreateKey at once end up with one key (%i token objects)",
  async (type, n, objects) => {
    const name = `${base}-${type}`;
    const startAt = Date.now() + 1500;
    const results = await Promise.all(Array.from({ length: n }, () => runChild({ options: testOptions(), startAt, getOrCreate: { name, type } }, process.env)));
    for (const r of results) expect(r.json?.error).toBeUndefined();
    expect(results.filter((r) => r.json.created === true)).toHaveLength(1);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    expect(results.every((r) => r.json.sameName === 1)).toBe(true);
    // this process (a further one) sees that one key, and the token holds exactly its objects
    const seen = hsm.findKey(name);
    expect(seen?.id).toBe(results[0]!.json.id);
    expect(seen?.type).toBe(type);
    expect(countObjects(name)).toBe(objects);
  },
  60_000,
);

test("a key created here is found and used by a second process at once", async () => {
  const name = `${base}-seen`;
  const key = await hsm.generateKey(name, "AES-256");
  const r = await runChild({ options: testOptions(), find: name, encrypt: name }, process.env);
  expect(r.json).toMatchObject({ found: { id: key.id, type: "AES-256", createdByCiop: true }, encrypt: { ok: true } });
});

test("a key created by a second process is found here without reopening", async () => {
  const name = `${base}-theirs`;
  const r = await runChild({ options: testOptions(), getOrCreate: { name, type: "HMAC-256" } }, process.env);
  expect(r.json.created).toBe(true);
  const k = hsm.findKey(name);
  expect(k).toMatchObject({ id: r.json.id, type: "HMAC-256", createdByCiop: true });
  expect(hsm.signHmac(k!, "sha256", Buffer.from("x"))).toHaveLength(32);
});

test("generateKey on a name another process holds is ERR_KEY_EXISTS, and no second key appears", async () => {
  const name = `${base}-taken`;
  await runChild({ options: testOptions(), getOrCreate: { name, type: "AES-256" } }, process.env);
  await expect(hsm.generateKey(name, "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_EXISTS" });
  expect(countObjects(name)).toBe(1);
});

test("in one process, concurrent getOrCreateKey calls on one name share one key", async () => {
  const name = `${base}-inproc`;
  const all = await Promise.all(Array.from({ length: 6 }, () => hsm.getOrCreateKey(name, "AES-256")));
  expect(all.filter((r) => r.created)).toHaveLength(1);
  expect(new Set(all.map((r) => r.key.id)).size).toBe(1);
  expect(countObjects(name)).toBe(1);
});
