/**
 * Hsm.sessionCopy: a session object holding the same AES key (what the XKS proxy runs its hot path
 * on): it seals what the token key opens and the other way round, it keeps CKA_SENSITIVE and
 * non-extractability, it is not a token object (not listed, gone after destroySessionKey), and it
 * does not follow a later disable of the original.
 */
import { randomBytes } from "node:crypto";
import { CiopError } from "@ciop/core";
import type { Hsm, HsmKey } from "../src/index.js";
import { openTestHsm, uniqueName } from "./helpers.js";

let hsm: Hsm;
let key: HsmKey;

beforeAll(async () => {
  hsm = await openTestHsm();
  key = await hsm.generateKey(uniqueName("copy"), "AES-256", { extractable: false });
});
afterAll(async () => {
  hsm.deleteKey(key.name);
  await hsm.close();
});

describe("Hsm.sessionCopy", () => {
  it("seals what the token key opens and opens what it seals", () => {
    const copy = hsm.sessionCopy(key);
    try {
      expect(copy.ephemeral).toBe(true);
      expect(copy.handle.equals(key.handle)).toBe(false);
      const iv = randomBytes(12);
      const aad = randomBytes(40);
      const pt = randomBytes(32);
      const ct = hsm.encryptAesGcm(copy, iv, pt, aad);
      expect(hsm.decryptAesGcm(key, iv, ct, aad).equals(pt)).toBe(true);
      const ct2 = hsm.encryptAesGcm(key, iv, pt, aad);
      expect(hsm.decryptAesGcm(copy, iv, ct2, aad).equals(pt)).toBe(true);
    } finally {
      hsm.destroySessionKey(copy);
    }
  });

  it("stays sensitive and non-extractable, is not a token object and is not listed", async () => {
    const copy = hsm.sessionCopy(key);
    try {
      const info = hsm.keyInfo(copy);
      expect(info).toMatchObject({ sensitive: true, extractable: false });
      expect(hsm.listKeys().filter((k) => k.name === key.name)).toHaveLength(1);
      await expect(hsm.exportKeyToHost(copy, "test")).rejects.toBeInstanceOf(CiopError);
    } finally {
      hsm.destroySessionKey(copy);
    }
  });

  it("does not follow a disable of the original, and is unusable once destroyed", () => {
    const copy = hsm.sessionCopy(key);
    const iv = randomBytes(12);
    hsm.setKeyEnabled(key.name, false);
    try {
      expect(() => hsm.encryptAesGcm(hsm.findKey(key.name)!, iv, Buffer.from("x"))).toThrow(/disabled|not permit|KEY_FUNCTION_NOT_PERMITTED/i);
      expect(hsm.encryptAesGcm(copy, iv, Buffer.from("x")).length).toBe(17);
    } finally {
      hsm.setKeyEnabled(key.name, true);
    }
    hsm.destroySessionKey(copy);
    expect(() => hsm.encryptAesGcm(copy, iv, Buffer.from("x"))).toThrow(expect.objectContaining({ ckr: expect.stringMatching(/HANDLE_INVALID/) }));
  });

  it("refuses to copy a session key or a non-AES key", async () => {
    const copy = hsm.sessionCopy(key);
    try {
      expect(() => hsm.sessionCopy(copy)).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
    } finally {
      hsm.destroySessionKey(copy);
    }
    const hmac = await hsm.generateKey(uniqueName("copy-hmac"), "HMAC-256");
    try {
      expect(() => hsm.sessionCopy(hmac)).toThrow(expect.objectContaining({ code: "ERR_KEY_TYPE_MISMATCH" }));
    } finally {
      hsm.deleteKey(hmac.name);
    }
  });
});
