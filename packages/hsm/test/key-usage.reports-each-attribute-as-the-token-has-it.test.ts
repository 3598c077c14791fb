/**
 * Hsm.keyUsage reports each usage attribute on its own, as the token holds it: checked against keys
 * made with raw pkcs11js (each usage combination set by a session that knows nothing about ciop),
 * against ciop-made AES and RSA keys, and after disable/enable.
 */
import pkcs11js from "pkcs11js";
import { randomBytes } from "node:crypto";
import type { Hsm } from "../src/index.js";
import { openRawToken, openTestHsm, uniqueName, type RawToken } from "./helpers.js";

const P = pkcs11js;
let hsm: Hsm;
let tok: RawToken;
let raw: pkcs11js.PKCS11;
let session: Buffer;
const base = uniqueName("usage");

beforeAll(async () => {
  hsm = await openTestHsm();
  tok = openRawToken(P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  ({ raw, session } = tok);
});
afterAll(async () => {
  tok?.close();
  await hsm?.close();
});

type Flags = { encrypt: boolean; decrypt: boolean; sign: boolean; verify: boolean; wrap: boolean; unwrap: boolean };

/** A token AES key created outside ciop with exactly these usage flags (the login is shared with the Hsm). */
function rawAesKey(label: string, f: Flags): void {
  raw.C_CreateObject(session, [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_LABEL, value: label },
    { type: P.CKA_ID, value: Buffer.from(label) },
    { type: P.CKA_VALUE, value: randomBytes(32) },
    { type: P.CKA_ENCRYPT, value: f.encrypt },
    { type: P.CKA_DECRYPT, value: f.decrypt },
    { type: P.CKA_SIGN, value: f.sign },
    { type: P.CKA_VERIFY, value: f.verify },
    { type: P.CKA_WRAP, value: f.wrap },
    { type: P.CKA_UNWRAP, value: f.unwrap },
  ]);
}

const none: Flags = { encrypt: false, decrypt: false, sign: false, verify: false, wrap: false, unwrap: false };

test("foreign AES keys: every usage combination is reported attribute by attribute", () => {
  const cases: Array<[string, Flags]> = [
    ["enc-only", { ...none, encrypt: true }],
    ["dec-only", { ...none, decrypt: true }],
    ["no-usage", none],
    ["wrap-unwrap", { ...none, wrap: true, unwrap: true }],
    ["sign-verify", { ...none, sign: true, verify: true }],
    ["enc-wrap", { ...none, encrypt: true, wrap: true }],
  ];
  for (const [suffix, flags] of cases) {
    const label = `${base}-${suffix}`;
    rawAesKey(label, flags);
    const key = hsm.findKey(label)!;
    expect({ label, found: key !== undefined }).toEqual({ label, found: true });
    expect({ label, usage: hsm.keyUsage(key) }).toEqual({ label, usage: flags });
  }
});

/** The usage flags as a raw pkcs11js session reads them (public-side ones from the object with the same CKA_ID). */
function rawUsage(id: string, pair: boolean): Flags {
  const find = (klass: number) =>
    tok.find(
      [
        { type: P.CKA_ID, value: Buffer.from(id, "hex") },
        { type: P.CKA_CLASS, value: klass },
      ],
      1,
    )[0]!;
  const read = (h: Buffer, t: number) => tok.bool(h, t);
  const k = find(pair ? P.CKO_PRIVATE_KEY : P.CKO_SECRET_KEY);
  const pub = pair ? find(P.CKO_PUBLIC_KEY) : k;
  return {
    encrypt: read(pub, P.CKA_ENCRYPT),
    decrypt: read(k, P.CKA_DECRYPT),
    sign: read(k, P.CKA_SIGN),
    verify: read(pub, P.CKA_VERIFY),
    wrap: read(pub, P.CKA_WRAP),
    unwrap: read(k, P.CKA_UNWRAP),
  };
}

test("ciop AES-256 key: matches the raw attributes; disable clears encrypt/decrypt, enable restores", async () => {
  const key = await hsm.generateKey(`${base}-aes`, "AES-256");
  const enabled = hsm.keyUsage(key);
  expect(enabled).toEqual(rawUsage(key.id, false));
  expect(enabled).toMatchObject({ encrypt: true, decrypt: true, wrap: false, unwrap: false });
  hsm.setKeyEnabled(key.name, false);
  const disabled = hsm.keyUsage(key);
  expect(disabled).toEqual(rawUsage(key.id, false));
  expect(disabled).toMatchObject({ encrypt: false, decrypt: false, wrap: false, unwrap: false });
  expect(hsm.keyInfo(key).enabled).toBe(false);
  hsm.setKeyEnabled(key.name, true);
  expect(hsm.keyUsage(key)).toEqual(enabled);
});

test("ciop RSA key pair: private-side usages from the private key, public-side from the public half", async () => {
  const key = await hsm.generateKey(`${base}-rsa`, "RSA-2048");
  const enabled = hsm.keyUsage(key);
  expect(enabled).toEqual(rawUsage(key.id, true));
  expect(enabled).toEqual({ encrypt: true, decrypt: true, sign: true, verify: true, wrap: false, unwrap: false });
  hsm.setKeyEnabled(key.name, false);
  expect(hsm.keyUsage(key)).toEqual(none);
  expect(rawUsage(key.id, true)).toEqual(none);
});
