import { generateKeyPairSync, randomBytes } from "node:crypto";
import { CiopError } from "@ciop/core";
import {
  createCacheOnlyJwe,
  createAlibabaAsymmetricMaterial,
  createSoftwareEngine,
  fromBase64,
  fromBase64Url,
  generateSoftwareKey,
  joinRsaAesBlob,
  parseWrappingKey,
  rsaAesKeyWrapLength,
  softwareKey,
  splitRsaAesBlob,
  toBase64Url,
} from "../src/index.js";
import { makeWrappingKeyPair, rsaAesUnwrap, type WrappingKeyPair } from "./support/openssl.js";

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    if (typeof p === "function") p();
    else await p;
  } catch (err) {
    if (CiopError.isInstance(err)) return err.code;
    throw err;
  }
  return "no error";
}

let kp: WrappingKeyPair;
beforeAll(() => {
  kp = makeWrappingKeyPair(2048);
});

describe("softwareKey validates material against the declared type", () => {
  it("keeps given PKCS#8 bytes exactly and wraps them byte for byte", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    const t = softwareKey("p384", "EC-NISTP384", der);
    const wk = parseWrappingKey(kp.spkiDer);
    const out = await createSoftwareEngine().rsaAesKeyWrap(wk, t, "sha256");
    expect(rsaAesUnwrap(out.bytes, kp.privatePemPath, "sha256").equals(der)).toBe(true);
    expect(out.bytes.length).toBe(rsaAesKeyWrapLength(wk, der.length));
  });

  it.each([
    ["AES-256 with 16 bytes", () => softwareKey("a", "AES-256", randomBytes(16))],
    ["HMAC-384 with 32 bytes", () => softwareKey("h", "HMAC-384", randomBytes(32))],
    ["RSA-3072 with an RSA-2048 key", () => softwareKey("r", "RSA-3072", generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey)],
    ["EC-NISTP256 with a P-384 key", () => softwareKey("e", "EC-NISTP256", generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey)],
    ["EC-NISTP256 with a public key", () => softwareKey("e", "EC-NISTP256", generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey)],
    [
      "RSA-2048 with trailing zeros after the PKCS#8",
      () =>
        softwareKey(
          "z",
          "RSA-2048",
          Buffer.concat([generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "der", type: "pkcs8" }), Buffer.alloc(3)]),
        ),
    ],
  ])("%s → ERR_KEY_TYPE_MISMATCH", async (_l, fn) => {
    expect(await codeOf(fn)).toBe("ERR_KEY_TYPE_MISMATCH");
  });

  it("unknown key types → ERR_KEY_TYPE_UNSUPPORTED", async () => {
    expect(await codeOf(() => generateSoftwareKey("x", "AES-512" as never))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  });
});

describe("engine refusals", () => {
  const engine = createSoftwareEngine();
  it("an RSA private key does not fit RSA-OAEP directly → ERR_KEY_TYPE_UNSUPPORTED", async () => {
    const t = generateSoftwareKey("rsa", "RSA-2048");
    expect(await codeOf(engine.rsaOaep(parseWrappingKey(kp.spkiDer), t, "sha256"))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  });

  it("digest and AES-GCM transport take secret keys only; publicKey key pairs only", async () => {
    const wk = parseWrappingKey(kp.spkiDer);
    const pair = generateSoftwareKey("ec", "EC-NISTP256");
    const secret = generateSoftwareKey("aes", "AES-256");
    expect(await codeOf(engine.digest(pair, "sha256"))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    expect(await codeOf(engine.rsaOaepAesGcm(wk, pair, "sha1", new Uint8Array()))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    expect(await codeOf(engine.publicKey(secret))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  });

  it("a target that is not a software key → ERR_USAGE", async () => {
    const fake = { engine: "hsm" as const, type: "AES-256" as const, kind: "secret" as const, name: "x" };
    expect(await codeOf(engine.rsaOaep(parseWrappingKey(kp.spkiDer), fake, "sha1"))).toBe("ERR_USAGE");
  });

  it("an EC wrapping key cannot do RSA constructions → ERR_WRAPPING_KEY_INVALID", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ format: "der", type: "spki" });
    expect(await codeOf(engine.rsaOaep(parseWrappingKey(ec), generateSoftwareKey("a", "AES-256"), "sha1"))).toBe("ERR_WRAPPING_KEY_INVALID");
  });
});

describe("constructions validate their inputs", () => {
  const engine = createSoftwareEngine();
  it("cache-only JWE: bad kid → ERR_KID_INVALID; bad jti → ERR_USAGE; non-AES-256 → ERR_KEY_TYPE_UNSUPPORTED", async () => {
    const wk = parseWrappingKey(kp.spkiDer);
    const t = generateSoftwareKey("dek", "AES-256");
    expect(await codeOf(createCacheOnlyJwe({ engine, target: t, wrappingKey: wk, kid: "has space" }))).toBe("ERR_KID_INVALID");
    expect(await codeOf(createCacheOnlyJwe({ engine, target: t, wrappingKey: wk, kid: 'a"b' }))).toBe("ERR_KID_INVALID");
    expect(await codeOf(createCacheOnlyJwe({ engine, target: t, wrappingKey: wk, kid: "k", jti: "a b" }))).toBe("ERR_USAGE");
    const aes128 = generateSoftwareKey("dek128", "AES-128");
    expect(await codeOf(createCacheOnlyJwe({ engine, target: aes128, wrappingKey: wk, kid: "k" }))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  });

  it("Alibaba asymmetric layout needs a key pair", async () => {
    const wk = parseWrappingKey(kp.spkiDer);
    expect(await codeOf(createAlibabaAsymmetricMaterial({ engine, target: generateSoftwareKey("a", "AES-256"), wrappingKey: wk }))).toBe(
      "ERR_KEY_TYPE_UNSUPPORTED",
    );
  });

  it("split/join round-trip at the modulus length", () => {
    const blob = Uint8Array.from(randomBytes(256 + 40));
    const parts = splitRsaAesBlob(blob, { bits: 2048 });
    expect(parts.encryptedKey.length).toBe(256);
    expect(parts.wrappedKey.length).toBe(40);
    expect(Buffer.from(joinRsaAesBlob(parts, 256)).equals(Buffer.from(blob))).toBe(true);
    expect(() => splitRsaAesBlob(blob.subarray(0, 256), 256)).toThrow(CiopError);
    expect(() => joinRsaAesBlob(parts, { bits: 3072 })).toThrow(CiopError);
  });

  it("base64 helpers: unpadded base64url, whitespace-tolerant base64, strict alphabets", () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xfe, 0x01]);
    expect(toBase64Url(bytes)).toBe("-__-AQ");
    expect(Buffer.from(fromBase64Url("-__-AQ")).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(fromBase64("+//+\n AQ==")).equals(Buffer.from(bytes))).toBe(true);
    expect(() => fromBase64("-__-AQ==")).toThrow(CiopError);
    expect(() => fromBase64Url("+//+AQ")).toThrow(CiopError);
  });
});
