/**
 * Final review of issues 16-18: the one-key-per-name lock was named after the library path, the
 * key-version record lock after the token (manufacturer, model, serial). Two processes reaching one
 * token through different module files (p11-kit's RPC client, a wrapper) did not take turns on key
 * creation. Both locks are now named after the token (keys/token-lock.ts).
 *
 * Here two Hsm contexts share a lock directory: one through SoftHSM directly, one through a copy of
 * the fault module in front of it whose C_GenerateKey takes 1.5 s. Both ask for one new name at
 * once. Before: two keys with that label were made (SoftHSM allows it), and the name was ambiguous.
 */
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Hsm } from "../src/index.js";
import { faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { uniqueName } from "./helpers.js";

const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "one-lock-"));
const token = process.env.CIOP_TEST_TOKEN_LABEL!;
const pin = { value: process.env.CIOP_TEST_PIN! };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("getOrCreateKey of one name through two module paths to one token: one key, made once", async () => {
  const lockDir = mkdtempSync(path.join(dir, "locks-"));
  const slow = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, rules: ["C_GenerateKey delay 1500000"] }));
  const viaShim = await Hsm.open({ library: slow, token, pin, lockDir });
  const direct = await Hsm.open({ library: process.env.CIOP_TEST_LIB!, token, pin, lockDir });
  const name = uniqueName("onelock");
  try {
    const first = viaShim.getOrCreateKey(name, "AES-256");
    await new Promise((r) => setTimeout(r, 300)); // the shim's C_GenerateKey is under way, its lock held
    const second = direct.getOrCreateKey(name, "AES-256");
    const [a, b] = await Promise.all([first, second]);
    expect([a.created, b.created]).toEqual([true, false]);
    expect(b.key.id).toBe(a.key.id);
    expect((await direct.listKeys()).filter((k) => k.name === name)).toHaveLength(1);
  } finally {
    for (const k of (await direct.listKeys()).filter((x) => x.name === name)) direct.deleteKey(k.name);
    await viaShim.close();
    await direct.close();
  }
});
