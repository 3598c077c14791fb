/**
 * Issue 16, "Lookups": `xks-proxy keys list` on a token holding AES keys made by another tool
 * (pkcs11-tool): two sharing one label, one without a label. Each is listed with the usage the
 * token has. Failed before the fix (checked by reverting admin/keys.ts): the list looked each key up
 * by label, which @ciop/hsm now refuses for a shared or empty label, so the command failed (exit 2,
 * ERR_USAGE) instead of listing the keys.
 */
import { randomBytes } from "node:crypto";
import { admin, deleteSecretKey, foreignAesKey, hsmArgs, tempDir } from "./admin-helpers.js";

const label = `xks-shared-${process.pid}-${Date.now().toString(36)}`;
const ids = [randomBytes(5).toString("hex"), randomBytes(5).toString("hex")];
const noLabelId = randomBytes(5).toString("hex");
let hsm: string[];

beforeAll(() => {
  hsm = hsmArgs(tempDir("keys-foreign"));
  // pkcs11-tool, or plain pkcs11js on a token pkcs11-tool cannot open (NSS softokn, issue 16)
  for (const id of ids) foreignAesKey(label, id);
  foreignAesKey(undefined, noLabelId);
});
afterAll(() => {
  for (const id of [...ids, noLabelId]) {
    try {
      deleteSecretKey(id);
    } catch {
      /* best effort */
    }
  }
});

test("keys list --json shows both keys of a shared label and the key without a label, with the token's usage", async () => {
  const r = await admin(["keys", "list", "--json", ...hsm]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const keys = (JSON.parse(r.out) as { keys: Array<{ name: string; id: string; usage: string; createdByCiop: boolean }> }).keys;
  for (const id of [...ids, noLabelId]) {
    const k = keys.find((x) => x.id === id);
    // the other tool's AES keys have both usages (pkcs11-tool's on SoftHSM; p11-raw.cjs sets both)
    expect(k).toMatchObject({ createdByCiop: false, usage: "encrypt-decrypt" });
  }
  expect(keys.filter((x) => x.name === label)).toHaveLength(2);
});
