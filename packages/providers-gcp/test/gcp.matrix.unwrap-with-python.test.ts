/**
 * Every algorithm x key type x wrapping-key size Compute Engine and Cloud KMS accept, on the
 * software engine and on the HSM engine (real SoftHSM token). Each artefact is decoded and
 * unwrapped by python3 cryptography with the test's own private key; the recovered key must equal
 * the engine's key (SHA-256 from the engine, C_DigestKey in the HSM, for secrets; the public key
 * for pairs). For Compute Engine the `<key>-sha256` file must equal the SHA-256 python computes.
 */
import { readFileSync } from "node:fs";
import { keyKind, parseWrappingKey, type KeyType, type TargetKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { googleCloudKms, googleComputeEngine, GCKMS_ALGORITHMS, GCKMS_KEY_TYPES, GCKMS_WRAPPING_KEY_BITS, GCE_ALGORITHMS } from "@ciop/providers-gcp";
import { hex, opensslRsa, pythonCertificate, pythonUnwrap, scratchDir, writeArtefact, type TestKeyPair, type UnwrapCase } from "./support/harness.js";
import { engines, type EngineFixture } from "./support/engines.js";

let dir: string;
const pairs = new Map<number, TestKeyPair>();
const wrappingKeys = new Map<number, WrappingKey>();
let gceCert: WrappingKey;

beforeAll(() => {
  dir = scratchDir("gcp-matrix");
  for (const bits of [2048, 3072, 4096]) {
    const pair = opensslRsa(dir, bits);
    pairs.set(bits, pair);
    wrappingKeys.set(bits, parseWrappingKey(pair.spki));
  }
  // Compute Engine hands out its wrapping key as a certificate.
  gceCert = parseWrappingKey(pythonCertificate(pairs.get(2048)!.privPath));
});

const KMS_SCHEME: Record<string, ["oaep" | "rsa-aes", "sha1" | "sha256"]> = {
  RSAES_OAEP_SHA_256: ["rsa-aes", "sha256"],
  RSAES_OAEP_SHA_1: ["rsa-aes", "sha1"],
  RSA_OAEP_3072_SHA256_AES_256: ["rsa-aes", "sha256"],
  RSA_OAEP_4096_SHA256_AES_256: ["rsa-aes", "sha256"],
  RSA_OAEP_3072_SHA1_AES_256: ["rsa-aes", "sha1"],
  RSA_OAEP_4096_SHA1_AES_256: ["rsa-aes", "sha1"],
  RSA_OAEP_3072_SHA256: ["oaep", "sha256"],
  RSA_OAEP_4096_SHA256: ["oaep", "sha256"],
};

describe.each(engines("gcp-mx"))("Google matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  const targets = new Map<KeyType, TargetKey>();
  const target = async (keyType: KeyType): Promise<TargetKey> => {
    let t = targets.get(keyType);
    if (t === undefined) {
      t = await fixture.key(`${fixture.prefix}-${keyType}`, keyType);
      targets.set(keyType, t);
    }
    return t;
  };
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("Compute Engine: <key>-wrapped is base64 RSA-OAEP of the AES-256 key, <key>-sha256 its digest", async () => {
    const cases: UnwrapCase[] = [];
    const sha256Files = new Map<string, string>();
    const t = await target("AES-256");
    for (const algorithm of GCE_ALGORITHMS) {
      const plan = googleComputeEngine.plan({
        provider: "google-compute-engine",
        keyName: t.name,
        wrappingKey: gceCert,
        algorithm,
        allowLegacy: true,
      });
      const result = await googleComputeEngine.export(plan, engine, t);
      expect(result.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
        [`${t.name}-wrapped`, "base64"],
        [`${t.name}-sha256`, "base64"],
      ]);
      const [wrapped, sha] = result.artefacts as [(typeof result.artefacts)[0], (typeof result.artefacts)[0]];
      expect(wrapped.usage).toContain("rsaEncryptedKey");
      const id = `gce.${algorithm}`;
      const file = writeArtefact(dir, `${fixture.label}.${id}`, wrapped.bytes);
      expect(readFileSync(file, "utf8")).toMatch(/^[A-Za-z0-9+/]{342}==$/); // 256 bytes, no newline
      sha256Files.set(id, Buffer.from(new TextDecoder().decode(sha.bytes), "base64").toString("hex"));
      const scheme = algorithm === "RSAES_PKCS1_V1_5" ? "pkcs1" : "oaep";
      const hash = algorithm === "RSAES_OAEP_SHA_256" ? "sha256" : "sha1";
      cases.push({ id, file, encoding: "base64", scheme, hash, priv: pairs.get(2048)!.privPath, kind: "secret" });
    }
    const expected = hex(await engine.digest(t, "sha256"));
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error, len: r.len }).toEqual({ id: c.id, ok: true, error: undefined, len: 32 });
      expect(r.sha256).toBe(expected);
      expect(sha256Files.get(c.id)).toBe(r.sha256);
    }
  });

  test("Cloud KMS: every accepted combination unwraps to the engine's key", async () => {
    const cases: UnwrapCase[] = [];
    const expected = new Map<string, string>();
    for (const algorithm of GCKMS_ALGORITHMS) {
      for (const keyType of GCKMS_KEY_TYPES) {
        for (const bits of GCKMS_WRAPPING_KEY_BITS) {
          let plan;
          try {
            plan = googleCloudKms.plan({
              provider: "google-cloud-key-management",
              keyName: `${fixture.prefix}-${keyType}`,
              wrappingKey: wrappingKeys.get(bits)!,
              algorithm,
              keyType,
            });
          } catch {
            continue;
          }
          const t = await target(keyType);
          const result = await googleCloudKms.export(plan, engine, t);
          expect(result.artefacts).toHaveLength(1);
          const artefact = result.artefacts[0]!;
          expect([artefact.fileName, artefact.encoding]).toEqual([`${t.name}-wrapped.bin`, "binary"]);
          expect(artefact.usage).toContain(plan.extra.importMethod);
          const id = `kms.${algorithm}.${keyType}.${bits}`;
          const [scheme, hash] = KMS_SCHEME[algorithm]!;
          const kind = keyKind(keyType);
          cases.push({ id, file: writeArtefact(dir, `${fixture.label}.${id}`, artefact.bytes), encoding: "binary", scheme, hash, priv: pairs.get(bits)!.privPath, kind });
          expected.set(id, kind === "secret" ? hex(await engine.digest(t, "sha256")) : hex(await engine.publicKey(t)));
        }
      }
    }
    // 2 seed algorithms x 22 + 2 x RSA_OAEP_3072_*_AES_256 (10) + 2 x RSA_OAEP_4096_*_AES_256 (12) + 2 x direct OAEP (6): README.
    expect(cases).toHaveLength(100);
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error }).toEqual({ id: c.id, ok: true, error: undefined });
      expect({ id: c.id, got: c.kind === "secret" ? r.sha256 : r.spki }).toEqual({ id: c.id, got: expected.get(c.id) });
    }
  });
});
