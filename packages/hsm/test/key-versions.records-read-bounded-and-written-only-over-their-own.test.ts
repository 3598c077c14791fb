/**
 * Issue 18 review C, findings 10 and 2, on the jest run's SoftHSM token.
 *
 * Finding 10: a data object with the records' application is read only up to the record size
 * bound: the value is read into a buffer of that size, so a larger one is refused by the token and
 * never copied into this process. Failed before the fix (checked by reverting versions.ts): the
 * 1 MiB value came back whole from C_GetAttributeValue, and only then was it dropped.
 *
 * Finding 2: writing the record of version 2 of `fam` leaves alone the record that `fam~v2`
 * version 1 had (both once used the label `fam~v2~meta`), and a version label is refused as a
 * family name. Failed before the fix: the write destroyed every object labelled `fam~v2~meta`, and
 * the name `fam~v2` was accepted.
 */
import pkcs11js from "pkcs11js";
import { KEY_VERSION_APPLICATION, type Hsm } from "../src/index.js";
import { openRawToken, openTestHsm, uniqueName, type RawToken } from "./helpers.js";

const P = pkcs11js;
let hsm: Hsm;
let raw: RawToken;

beforeAll(async () => {
  hsm = await openTestHsm();
  raw = openRawToken(P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
});
afterAll(async () => {
  raw?.close();
  await hsm?.close();
});

/** A private data object with the records' application, made with a PKCS#11 session of its own. */
function plant(label: string, value: Buffer): Buffer {
  return raw.raw.C_CreateObject(raw.session, [
    { type: P.CKA_CLASS, value: P.CKO_DATA },
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_LABEL, value: label },
    { type: P.CKA_APPLICATION, value: KEY_VERSION_APPLICATION },
    { type: P.CKA_VALUE, value },
  ]);
}

test("finding 10: a 1 MiB value under a record label is never read whole", async () => {
  const name = uniqueName("big");
  const big = plant(`${name}~meta`, Buffer.alloc(1 << 20, 0x7b));
  // the real library, watched (not replaced): every value it hands back is measured
  const p = (hsm as unknown as { ctx: { p: pkcs11js.PKCS11 } }).ctx.p;
  const spy = jest.spyOn(p, "C_GetAttributeValue");
  try {
    expect(hsm.keyVersionRecords(name)).toEqual([]);
    const sizes = spy.mock.results
      .filter((r) => r.type === "return")
      .flatMap((r) => (r.value as pkcs11js.Attribute[]).map((a) => (a.value as Buffer | undefined)?.length ?? 0));
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8192);
  } finally {
    spy.mockRestore();
    raw.raw.C_DestroyObject(raw.session, big);
  }
});

test("finding 2: a record is written only over its own family's; a version label is no family name", async () => {
  const fam = uniqueName("fam");
  await hsm.generateKey(fam, "AES-256");
  const v2 = await hsm.generateKeyVersion(fam, 2, "AES-256", { description: "two" });
  // what the old code let `keys annotate 'fam~v2' 1` write: a record of "family" fam~v2, version 1
  const other = plant(
    `${fam}~v2~meta`,
    Buffer.from(
      JSON.stringify({ format: 1, name: `${fam}~v2`, version: 1, keyId: v2.key.id, created: "x", updated: "x", description: "other", annotations: {} }),
    ),
  );
  const write = async () => hsm.writeKeyVersionRecord({ name: `${fam}~v2`, version: 1, keyId: v2.key.id, created: "x", description: null, annotations: {} });
  await expect(write()).rejects.toMatchObject({ code: "ERR_KEY_NAME_INVALID" });
  await hsm.writeKeyVersionRecord({ ...v2.record, annotations: { note: "kept" } });
  expect(raw.find([{ type: P.CKA_LABEL, value: `${fam}~v2~meta` }])).toHaveLength(1); // the other one is still there
  const recs = hsm.keyVersionRecords(fam);
  expect(recs.map((r) => [r.version, r.description, r.annotations.note, r.v1KeyId])).toEqual([[2, "two", "kept", hsm.findKey(fam)!.id]]);
  raw.raw.C_DestroyObject(raw.session, other);
  hsm.deleteKey(`${fam}~v2`);
  expect(await hsm.deleteKeyVersionRecords(`${fam}~v2`)).toBe(1);
  hsm.deleteKey(fam);
});
