/**
 * One conformance suite, run against both engines: every construction is undone by openssl /
 * python with the test's own private wrapping key, and what comes out must be the engine's key
 * (secrets: SHA-256 computed by the engine (C_DigestKey in an HSM) equals openssl's SHA-256 of
 * the recovered bytes; key pairs: the recovered PKCS#8 is exact DER and its public key equals
 * engine.publicKey()).
 */
import type { KeyType } from "@ciop/hsm";
import {
  KEY_TYPES,
  createAlibabaAsymmetricMaterial,
  createCacheOnlyJwe,
  fromBase64,
  parseWrappingKey,
  secretKeyLength,
  splitRsaAesBlob,
  type TargetKey,
  type WrapEngine,
  type WrappingKey,
} from "../../src/index.js";
import {
  jweDecrypt,
  makeWrappingKeyPair,
  pkcs8PublicKey,
  rsaAesEcbUnwrap,
  rsaAesUnwrap,
  rsaAesUnwrapPython,
  rsaOaepDecrypt,
  rsaPkcs1Decrypt,
  sha256Openssl,
  type Hash,
  type WrappingKeyPair,
} from "./openssl.js";

export interface ConformanceSetup {
  engine: WrapEngine;
  /** Returns a fresh target key of `type`, named uniquely. */
  target(type: KeyType): Promise<TargetKey>;
  /** Whether the engine is expected to report hostFallback for (construction, type, hash). */
  expectHostFallback?(construction: string, type: KeyType, hash?: Hash): boolean | undefined;
  /** Number of host-fallback events the engine's HSM has recorded so far (HSM engine only). */
  fallbackEvents?(): number;
}

export function engineConformance(label: string, setup: () => Promise<ConformanceSetup>, teardown?: () => Promise<void>): void {
  describe(`${label}: constructions undone by openssl/python`, () => {
    let s: ConformanceSetup;
    let kp2048: WrappingKeyPair;
    let kp3072: WrappingKeyPair;
    let wk2048: WrappingKey;
    let wk3072: WrappingKey;
    const targets = new Map<KeyType, TargetKey>();
    const get = async (type: KeyType): Promise<TargetKey> => {
      let t = targets.get(type);
      if (!t) {
        t = await s.target(type);
        targets.set(type, t);
      }
      return t;
    };

    beforeAll(async () => {
      s = await setup();
      kp2048 = makeWrappingKeyPair(2048);
      kp3072 = makeWrappingKeyPair(3072);
      wk2048 = parseWrappingKey(kp2048.spkiDer);
      wk3072 = parseWrappingKey(kp3072.publicPem);
    });
    if (teardown) afterAll(teardown);

    const checkSecret = async (target: TargetKey, recovered: Buffer): Promise<void> => {
      expect(recovered.length).toBe(secretKeyLength(target.type));
      const engineDigest = Buffer.from(await s.engine.digest(target, "sha256"));
      expect(sha256Openssl(recovered).equals(engineDigest)).toBe(true);
    };
    const checkPrivate = async (target: TargetKey, recovered: Buffer): Promise<void> => {
      const info = pkcs8PublicKey(recovered);
      expect({ exact: info.exact, size: info.size }).toEqual({ exact: true, size: info.derLength });
      const pub = Buffer.from(await s.engine.publicKey(target));
      expect(info.spki.equals(pub)).toBe(true);
    };
    let eventsBefore = 0;
    const mark = (): void => {
      eventsBefore = s.fallbackEvents?.() ?? 0;
    };
    const checkFallback = (construction: string, type: KeyType, got: boolean, hash?: Hash): void => {
      const want = s.expectHostFallback?.(construction, type, hash);
      if (want !== undefined) expect({ construction, type, hash, hostFallback: got }).toEqual({ construction, type, hash, hostFallback: want });
      if (s.fallbackEvents) {
        // The engine's flag and the HSM's own record of host-side steps must agree.
        const recorded = s.fallbackEvents() > eventsBefore;
        expect({ construction, type, hash, recorded }).toEqual({ construction, type, hash, recorded: got });
      }
    };

    it.each<Hash>(["sha1", "sha256"])("RSA-OAEP %s of an AES-256 key decrypts with openssl pkeyutl", async (hash) => {
      const t = await get("AES-256");
      mark();
      const out = await s.engine.rsaOaep(wk2048, t, hash);
      expect(out.bytes.length).toBe(256);
      await checkSecret(t, rsaOaepDecrypt(out.bytes, kp2048.privatePemPath, hash));
      checkFallback("rsaOaep", t.type, out.hostFallback, hash);
    });

    it("RSA-OAEP with the wrong hash does not decrypt", async () => {
      const t = await get("AES-256");
      const out = await s.engine.rsaOaep(wk2048, t, "sha256");
      expect(() => rsaOaepDecrypt(out.bytes, kp2048.privatePemPath, "sha1")).toThrow();
    });

    it("RSA-OAEP SHA-256 of an EC P-256 PKCS#8 (fits in RSA-2048) decrypts with openssl", async () => {
      const t = await get("EC-NISTP256");
      const out = await s.engine.rsaOaep(wk2048, t, "sha256");
      await checkPrivate(t, rsaOaepDecrypt(out.bytes, kp2048.privatePemPath, "sha256"));
    });

    it("PKCS#1 v1.5 of an AES-256 key decrypts with openssl pkeyutl", async () => {
      const t = await get("AES-256");
      mark();
      const out = await s.engine.rsaPkcs1v15(wk2048, t);
      await checkSecret(t, rsaPkcs1Decrypt(out.bytes, kp2048.privatePemPath));
      checkFallback("rsaPkcs1v15", t.type, out.hostFallback);
    });

    it.each<Hash>(["sha1", "sha256"])("RSA-AES key wrap %s of an AES-256 key unwraps with openssl and python", async (hash) => {
      const t = await get("AES-256");
      mark();
      const out = await s.engine.rsaAesKeyWrap(wk3072, t, hash);
      expect(out.bytes.length).toBe(384 + 40);
      await checkSecret(t, rsaAesUnwrap(out.bytes, kp3072.privatePemPath, hash));
      await checkSecret(t, rsaAesUnwrapPython(out.bytes, kp3072.privatePemPath, hash));
      checkFallback("rsaAesKeyWrap", t.type, out.hostFallback, hash);
    });

    it("RSA-AES key wrap with the wrong OAEP hash does not unwrap", async () => {
      const t = await get("AES-256");
      const out = await s.engine.rsaAesKeyWrap(wk2048, t, "sha1");
      expect(() => rsaAesUnwrap(out.bytes, kp2048.privatePemPath, "sha256")).toThrow();
    });

    it("RSA-AES key wrap SHA-256 of an HMAC-384 secret unwraps with openssl", async () => {
      const t = await get("HMAC-384");
      const out = await s.engine.rsaAesKeyWrap(wk2048, t, "sha256");
      await checkSecret(t, rsaAesUnwrap(out.bytes, kp2048.privatePemPath, "sha256"));
    });

    it.each<[KeyType, Hash]>([
      ["RSA-2048", "sha256"],
      ["RSA-2048", "sha1"],
      ["EC-NISTP256", "sha256"],
      ["EC-NISTP384", "sha1"],
    ])("RSA-AES key wrap of a %s key pair (%s) gives exact PKCS#8 whose public key matches", async (type, hash) => {
      const t = await get(type);
      mark();
      const out = await s.engine.rsaAesKeyWrap(wk3072, t, hash);
      const { encryptedKey } = splitRsaAesBlob(out.bytes, wk3072);
      expect(encryptedKey.length).toBe(384);
      await checkPrivate(t, rsaAesUnwrap(out.bytes, kp3072.privatePemPath, hash));
      await checkPrivate(t, rsaAesUnwrapPython(out.bytes, kp3072.privatePemPath, hash));
      checkFallback("rsaAesKeyWrap", type, out.hostFallback, hash);
    });

    it.each<KeyType>(KEY_TYPES.filter((k) => k !== "RSA-4096"))("RSA-AES key wrap SHA-1 of %s under RSA-3072 gives the exact key", async (type) => {
      const t = await get(type);
      mark();
      const out = await s.engine.rsaAesKeyWrap(wk3072, t, "sha1");
      const recovered = rsaAesUnwrapPython(out.bytes, kp3072.privatePemPath, "sha1");
      if (t.kind === "secret") await checkSecret(t, recovered);
      else await checkPrivate(t, recovered);
      checkFallback("rsaAesKeyWrap", type, out.hostFallback, "sha1");
    });

    it.each<KeyType>(["AES-128", "AES-192", "HMAC-160", "HMAC-224", "HMAC-256", "HMAC-512"])("RSA-OAEP SHA-1 of %s decrypts to the key", async (type) => {
      const t = await get(type);
      mark();
      const out = await s.engine.rsaOaep(wk2048, t, "sha1");
      await checkSecret(t, rsaOaepDecrypt(out.bytes, kp2048.privatePemPath, "sha1"));
      checkFallback("rsaOaep", type, out.hostFallback, "sha1");
    });

    it.each<KeyType>(["RSA-2048", "EC-NISTP256"])("Alibaba asymmetric layout of %s decrypts with openssl (OAEP-SHA-256 + AES-256-ECB)", async (type) => {
      const t = await get(type);
      mark();
      const out = await createAlibabaAsymmetricMaterial({ engine: s.engine, target: t, wrappingKey: wk2048 });
      const blob = fromBase64(out.base64);
      expect(Buffer.from(blob).equals(Buffer.from(out.bytes))).toBe(true);
      await checkPrivate(t, rsaAesEcbUnwrap(blob, kp2048.privatePemPath, "sha256"));
      expect(() => rsaAesEcbUnwrap(blob, kp2048.privatePemPath, "sha1")).toThrow();
      checkFallback("rsaAesEcb", type, out.hostFallback, "sha256");
    });

    it("cache-only JWE decrypts with jwcrypto, header members exact, fresh CEK/IV per call", async () => {
      const t = await get("AES-256");
      mark();
      const a = await createCacheOnlyJwe({ engine: s.engine, target: t, wrappingKey: wk3072, kid: "ciop-key_1.0" });
      const dec = jweDecrypt(a.jwe, kp3072.privatePemPath);
      expect(dec.headerKeys).toEqual(["alg", "enc", "kid"]);
      expect(dec.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid: "ciop-key_1.0" });
      expect(a.header).toBe('{"alg":"RSA-OAEP","enc":"A256GCM","kid":"ciop-key_1.0"}');
      await checkSecret(t, dec.payload);
      expect(a.jwe).not.toMatch(/[=+/]/);
      expect(JSON.parse(a.body)).toEqual({ kid: "ciop-key_1.0", jwe: a.jwe });
      checkFallback("rsaOaepAesGcm", t.type, a.hostFallback, "sha1");

      const b = await createCacheOnlyJwe({ engine: s.engine, target: t, wrappingKey: wk3072, kid: "ciop-key_1.0", jti: "e5ab58fd2ced013f2a46d5c8144dd439" });
      const decB = jweDecrypt(b.jwe, kp3072.privatePemPath);
      expect(decB.headerKeys).toEqual(["alg", "enc", "kid", "jti"]);
      expect(decB.header.jti).toBe("e5ab58fd2ced013f2a46d5c8144dd439");
      expect(decB.payload.equals(dec.payload)).toBe(true);
      const [, ekA, ivA] = a.jwe.split(".");
      const [, ekB, ivB] = b.jwe.split(".");
      expect(ekA).not.toBe(ekB);
      expect(ivA).not.toBe(ivB);
      expect(Buffer.from(ivB!, "base64url").length).toBe(12);
    });

    it("the JWE's AAD is bound: a tampered header does not decrypt", async () => {
      const t = await get("AES-256");
      const a = await createCacheOnlyJwe({ engine: s.engine, target: t, wrappingKey: wk2048, kid: "k1" });
      const forged = Buffer.from('{"alg":"RSA-OAEP","enc":"A256GCM","kid":"k2"}').toString("base64url");
      const tampered = [forged, ...a.jwe.split(".").slice(1)].join(".");
      expect(() => jweDecrypt(tampered, kp2048.privatePemPath)).toThrow();
    });
  });
}
