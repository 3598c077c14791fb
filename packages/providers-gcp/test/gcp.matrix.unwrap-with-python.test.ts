/**
 * Every algorithm x every ciop key type x wrapping-key size for Google Compute Engine (CSEK) and
 * Google Cloud KMS import jobs, on the software engine and on the HSM engine (real SoftHSM token),
 * through runExport. Refused combinations must carry the expected code and create no key; accepted
 * ones must be done in the token where SoftHSM can, and the artefact must unwrap with python3
 * cryptography and the test's private key to exactly the engine's key. For Compute Engine the
 * `<key>-sha256` file must equal the SHA-256 python computes over the recovered key.
 */
import { createPublicKey } from "node:crypto";
import type { KeyType } from "@ciop/wrap";
import { googleCloudKms, googleComputeEngine, GCKMS_ALGORITHMS, GCE_ALGORITHMS } from "@ciop/providers-gcp";
import { rsaKeyPairs, scratchDir, type RsaKeyPairs, describeOnEachEngine, combos, runMatrix, tooWeak, type Combo, type Expectation } from "@ciop/testkit";
import type { Hash, Scheme } from "@ciop/testkit";

/** The test's own statement of Google's rules (not read from the provider code). */
const GCE_SCHEME: Record<string, [Scheme, Hash]> = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
};
function expectGce(c: Combo): Expectation {
  if (c.keyType !== "AES-256") return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.bits !== 2048) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  const [scheme, hash] = GCE_SCHEME[c.algorithm!]!;
  return { scheme, hash };
}

const KMS_TYPES: readonly KeyType[] = [
  "AES-256",
  "HMAC-160",
  "HMAC-224",
  "HMAC-256",
  "HMAC-384",
  "HMAC-512",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "EC-NISTP256",
  "EC-NISTP384",
  "EC-SECP256K1",
];
/** [scheme, hash, wrapping-key size fixed by the import method]. Seed names take 3072 or 4096. */
const KMS_METHOD: Record<string, [Scheme, Hash, number?]> = {
  RSAES_OAEP_SHA_256: ["rsa-aes", "sha256"],
  RSAES_OAEP_SHA_1: ["rsa-aes", "sha1"],
  RSA_OAEP_3072_SHA256_AES_256: ["rsa-aes", "sha256", 3072],
  RSA_OAEP_4096_SHA256_AES_256: ["rsa-aes", "sha256", 4096],
  RSA_OAEP_3072_SHA1_AES_256: ["rsa-aes", "sha1", 3072],
  RSA_OAEP_4096_SHA1_AES_256: ["rsa-aes", "sha1", 4096],
  RSA_OAEP_3072_SHA256: ["oaep", "sha256", 3072],
  RSA_OAEP_4096_SHA256: ["oaep", "sha256", 4096],
};
function expectKms(c: Combo): Expectation {
  const [scheme, hash, bits] = KMS_METHOD[c.algorithm!]!;
  if (!KMS_TYPES.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (scheme === "oaep" && !(c.keyType.startsWith("AES-") || c.keyType.startsWith("HMAC-"))) return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (c.bits === 2048 || (bits !== undefined && bits !== c.bits)) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  if (tooWeak(c.keyType, c.bits, 4096)) return { refuse: "ERR_WRAPPING_KEY_TOO_WEAK" };
  return { scheme, hash };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("gcp-matrix");
  keys = rsaKeyPairs(dir, [2048, 3072, 4096]);
});

describeOnEachEngine("gcp-mx", "Google matrix on the $label engine", (fixture, engine) => {
  test("Compute Engine: refusals, and <key>-wrapped (base64 rsaEncryptedKey) + <key>-sha256 for the AES-256 key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "google-compute-engine",
        module: googleComputeEngine,
        combos: combos(GCE_ALGORITHMS, [2048, 3072]),
        // Compute Engine hands out its wrapping key as a certificate (google-cloud-csek-ingress.pem).
        wrappingKey: keys.certificate,
        privPath: keys.privPath,
        expect: expectGce,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: (r, c) => {
          const name = r.plan.keyName;
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
            [`${name}-wrapped`, "base64"],
            [`${name}-sha256`, "base64"],
          ]);
          expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[A-Za-z0-9+/]{342}==$/); // 256 bytes, one line
          expect(r.artefacts[0]!.usage).toContain("rsaEncryptedKey");
          if (c.algorithm !== "RSAES_OAEP_SHA_1") expect(r.plan.warnings.join(" ")).toContain("RSAES_OAEP_SHA_1");
        },
        after: (r, _c, u) => {
          expect(Buffer.from(new TextDecoder().decode(r.artefacts[1]!.bytes), "base64").toString("hex")).toBe(u.sha256);
        },
      },
      dir,
    );
    expect(outcome.accepted.length + outcome.skipped.size).toBe(3);
    expect(outcome.refused.size).toBe(3 * 15 * 2 - 3);
    if (fixture.label === "hsm") expect(outcome.inToken.sort()).toEqual(["RSAES_OAEP_SHA_1.AES-256.2048", "RSAES_PKCS1_V1_5.AES-256.2048"]);
  });

  test("Cloud KMS: every import method x key type x wrapping-key size", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "google-cloud-key-management",
        module: googleCloudKms,
        combos: combos(GCKMS_ALGORITHMS, [2048, 3072, 4096]),
        // Import jobs hand out a PEM public key.
        wrappingKey: (c) =>
          createPublicKey({ key: Buffer.from(keys.pair(c.bits).spki), format: "der", type: "spki" }).export({ type: "spki", format: "pem" }) as string,
        privPath: keys.privPath,
        expect: expectKms,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "binary" }),
        check: (r) => {
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`${r.plan.keyName}-wrapped.bin`, "binary"]]);
          expect(r.plan.extra.importMethod).toMatch(/^RSA_OAEP_(3072|4096)_SHA(1|256)(_AES_256)?$/);
          expect(r.artefacts[0]!.usage).toContain(r.plan.extra.importMethod);
        },
      },
      dir,
    );
    // 2 seed names x 22 + 2 x RSA_OAEP_3072_*_AES_256 (10) + 2 x RSA_OAEP_4096_*_AES_256 (12) + 2 x direct OAEP (6) = 100.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(100);
    expect(outcome.refused.size).toBe(8 * 15 * 3 - 100);
    if (fixture.label === "hsm") {
      // SHA-1 import methods of AES-256 and HMAC-256/384/512 are composed inside SoftHSM.
      expect(outcome.inToken.length).toBeGreaterThanOrEqual(4 * 4);
    }
  });
});
