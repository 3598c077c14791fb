import pkcs11js from "pkcs11js";
import { CIOP_ID_PREFIX, type Hsm, KEY_TYPES, type KeyType } from "../src/index.js";
import { openRawToken, openTestHsm, uniqueName, type RawToken } from "./helpers.js";

const P = pkcs11js;
let hsm: Hsm;
let tok: RawToken;
let raw: pkcs11js.PKCS11;
let session: Buffer;
const base = uniqueName("gen");

beforeAll(async () => {
  hsm = await openTestHsm();
  tok = openRawToken(P.CKF_SERIAL_SESSION);
  ({ raw, session } = tok);
});
afterAll(async () => {
  tok?.close();
  await hsm?.close();
});

const findByLabel = (label: string, klass: number) =>
  tok.find([
    { type: P.CKA_LABEL, value: label },
    { type: P.CKA_CLASS, value: klass },
  ]);
const get = (h: Buffer, type: number) => tok.get(h, type);
const bool = (h: Buffer, type: number) => tok.bool(h, type);
const ulong = (h: Buffer, type: number) => Number(get(h, type).readBigUInt64LE(0));

const expected: Record<KeyType, { keyType: number; len?: number; bits?: number; params?: string }> = {
  "AES-128": { keyType: P.CKK_AES, len: 16 },
  "AES-192": { keyType: P.CKK_AES, len: 24 },
  "AES-256": { keyType: P.CKK_AES, len: 32 },
  "HMAC-160": { keyType: P.CKK_GENERIC_SECRET, len: 20 },
  "HMAC-224": { keyType: P.CKK_GENERIC_SECRET, len: 28 },
  "HMAC-256": { keyType: P.CKK_GENERIC_SECRET, len: 32 },
  "HMAC-384": { keyType: P.CKK_GENERIC_SECRET, len: 48 },
  "HMAC-512": { keyType: P.CKK_GENERIC_SECRET, len: 64 },
  "RSA-2048": { keyType: P.CKK_RSA, bits: 2048 },
  "RSA-3072": { keyType: P.CKK_RSA, bits: 3072 },
  "RSA-4096": { keyType: P.CKK_RSA, bits: 4096 },
  "EC-NISTP256": { keyType: P.CKK_EC, params: "06082a8648ce3d030107" },
  "EC-NISTP384": { keyType: P.CKK_EC, params: "06052b81040022" },
  "EC-NISTP521": { keyType: P.CKK_EC, params: "06052b81040023" },
  "EC-SECP256K1": { keyType: P.CKK_EC, params: "06052b8104000a" },
};

test("every key type generates with the right attributes and the ciop marker", async () => {
  // generate all concurrently: RSA runs on the libuv pool, so this also exercises the session pool
  const keys = await Promise.all(KEY_TYPES.map((t) => hsm.generateKey(`${base}-${t}`, t)));
  for (const key of keys) {
    const want = expected[key.type];
    const name = `${base}-${key.type}`;
    expect(key.name).toBe(name);
    const klass = key.kind === "secret" ? P.CKO_SECRET_KEY : P.CKO_PRIVATE_KEY;
    const objs = findByLabel(name, klass);
    expect(objs).toHaveLength(1);
    const h = objs[0]!;
    expect(ulong(h, P.CKA_KEY_TYPE)).toBe(want.keyType);
    for (const a of [P.CKA_TOKEN, P.CKA_PRIVATE, P.CKA_SENSITIVE, P.CKA_EXTRACTABLE, P.CKA_MODIFIABLE]) expect(bool(h, a)).toBe(true);
    const id = get(h, P.CKA_ID);
    expect(id.subarray(0, CIOP_ID_PREFIX.length).equals(Buffer.from(CIOP_ID_PREFIX))).toBe(true);
    expect(id.toString("hex")).toBe(key.id);
    // generated inside the token, sensitive from birth, and only for its own purpose
    for (const a of [P.CKA_ALWAYS_SENSITIVE, P.CKA_LOCAL]) expect(bool(h, a)).toBe(true);
    for (const a of [P.CKA_NEVER_EXTRACTABLE, P.CKA_UNWRAP, P.CKA_DERIVE]) expect(bool(h, a)).toBe(false);
    const usage: Record<string, number[]> = {
      AES: [P.CKA_ENCRYPT, P.CKA_DECRYPT],
      HMAC: [P.CKA_SIGN, P.CKA_VERIFY],
      RSA: [P.CKA_SIGN, P.CKA_DECRYPT],
      EC: [P.CKA_SIGN],
    };
    for (const a of usage[key.type.split("-")[0]!]!) expect(bool(h, a)).toBe(true);
    if (key.kind === "secret") expect(bool(h, P.CKA_WRAP)).toBe(false);
    if (want.len) expect(ulong(h, P.CKA_VALUE_LEN)).toBe(want.len);
    if (want.bits) expect(get(h, P.CKA_MODULUS).length * 8).toBe(want.bits);
    if (want.params) expect(get(h, P.CKA_EC_PARAMS).toString("hex")).toBe(want.params);
    if (key.kind === "private") {
      // the public half shares label and id
      const pubs = findByLabel(name, P.CKO_PUBLIC_KEY);
      expect(pubs).toHaveLength(1);
      expect(get(pubs[0]!, P.CKA_ID).equals(id)).toBe(true);
      expect(bool(pubs[0]!, P.CKA_TOKEN)).toBe(true);
    }
    // the value never comes out directly
    expect(() =>
      raw.C_GetAttributeValue(session, h, [{ type: key.kind === "secret" ? P.CKA_VALUE : key.type.startsWith("RSA") ? P.CKA_PRIVATE_EXPONENT : P.CKA_VALUE }]),
    ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
  }
  const listed = hsm.listKeys().filter((k) => k.name.startsWith(base));
  expect(listed.map((k) => k.type).sort()).toEqual([...KEY_TYPES].sort());
  for (const k of listed) {
    expect(k).toMatchObject({ createdByCiop: true, enabled: true, extractable: true, sensitive: true });
  }
}, 120_000);

test("a name that exists is never created twice", async () => {
  const name = `${base}-dup`;
  const a = await hsm.generateKey(name, "AES-256");
  await expect(hsm.generateKey(name, "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_EXISTS" });
  const again = await hsm.getOrCreateKey(name, "AES-256");
  expect(again.created).toBe(false);
  expect(again.key.id).toBe(a.id);
  await expect(hsm.getOrCreateKey(name, "AES-128")).rejects.toMatchObject({ code: "ERR_KEY_TYPE_MISMATCH" });
  expect(findByLabel(name, P.CKO_SECRET_KEY)).toHaveLength(1);
});

test("a key ciop did not create is not reused", async () => {
  const name = `${base}-foreign`;
  // made directly through PKCS#11 with a foreign CKA_ID (like pkcs11-tool would)
  tok.generateAes(name, [{ type: P.CKA_ID, value: Buffer.from("f0", "hex") }]);
  await expect(hsm.getOrCreateKey(name, "AES-256")).rejects.toMatchObject({ code: "ERR_KEY_NOT_CIOP" });
  const found = hsm.findKey(name)!;
  expect(found.createdByCiop).toBe(false);
  expect(found.type).toBe("AES-256");
});

test("non-extractable keys for XKS", async () => {
  const key = await hsm.generateKey(`${base}-xks`, "AES-256", { extractable: false });
  expect(hsm.keyInfo(key).extractable).toBe(false);
  await expect(hsm.exportKeyToHost(key, "test")).rejects.toMatchObject({ code: "ERR_HSM", ckr: "CKR_KEY_UNEXTRACTABLE" });
});

test("deleteKey removes both halves; findKey then misses", async () => {
  const name = `${base}-del`;
  await hsm.generateKey(name, "EC-NISTP256");
  hsm.deleteKey(name);
  expect(findByLabel(name, P.CKO_PRIVATE_KEY)).toHaveLength(0);
  expect(findByLabel(name, P.CKO_PUBLIC_KEY)).toHaveLength(0);
  expect(hsm.findKey(name)).toBeUndefined();
  expect(() => hsm.deleteKey(name)).toThrow(expect.objectContaining({ code: "ERR_KEY_NOT_FOUND" }));
});
