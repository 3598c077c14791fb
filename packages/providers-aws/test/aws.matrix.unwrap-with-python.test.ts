/**
 * Every AWS KMS wrapping algorithm x every ciop key type x wrapping-key size (1024 refused; 2048,
 * 3072, 4096 as AWS issues them), on the software engine and on the HSM engine (real SoftHSM
 * token), through runExport. Refused combinations must carry the expected code and create no key;
 * accepted ones must be done in the token where SoftHSM can, and `<key>-wrapped` must unwrap with
 * python3 cryptography and the test's private key to exactly the engine's key.
 */
import type { KeyType } from "@ciop/wrap";
import { awsKms, AWS_ALGORITHMS } from "@ciop/providers-aws";
import { rsaKeyPairs, scratchDir, type RsaKeyPairs, describeOnEachEngine, combos, directPlaintextBytes, oaepCapacity, runMatrix, tooWeak } from "@ciop/testkit";
import type { Combo, Expectation, Hash, Scheme } from "@ciop/testkit";

/** The test's own statement of AWS KMS's import rules (not read from the provider code). */
const TYPES: readonly KeyType[] = [
  "AES-256",
  "HMAC-224",
  "HMAC-256",
  "HMAC-384",
  "HMAC-512",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
  "EC-NISTP256",
  "EC-NISTP384",
  "EC-NISTP521",
  "EC-SECP256K1",
];
const SCHEME: Record<string, [Scheme, Hash]> = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSA_AES_KEY_WRAP_SHA_256: ["rsa-aes", "sha256"],
  RSA_AES_KEY_WRAP_SHA_1: ["rsa-aes", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
};

function expectAws(c: Combo): Expectation {
  const [scheme, hash] = SCHEME[c.algorithm!]!;
  if (!TYPES.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.keyType.startsWith("RSA-") && scheme !== "rsa-aes") return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (c.keyType.startsWith("EC-") && scheme === "pkcs1") return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (c.bits === 1024) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  if (scheme !== "rsa-aes") {
    const capacity = scheme === "oaep" ? oaepCapacity(c.bits, hash) : c.bits / 8 - 11;
    if (directPlaintextBytes(c.keyType)! > capacity) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  }
  if (tooWeak(c.keyType, c.bits, 4096)) return { refuse: "ERR_WRAPPING_KEY_TOO_WEAK" };
  return { scheme, hash };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("aws-matrix");
  keys = rsaKeyPairs(dir, [1024, 2048, 3072, 4096]);
});

describeOnEachEngine("aws-mx", "AWS KMS matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "aws",
        module: awsKms,
        combos: combos(AWS_ALGORITHMS, [1024, 2048, 3072, 4096]),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectAws,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "binary" }),
        check: (r, c) => {
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`${r.plan.keyName}-wrapped`, "binary"]]);
          expect(r.artefacts[0]!.usage).toContain("import-key-material");
          if (c.algorithm === "RSAES_PKCS1_V1_5") expect(r.plan.warnings.join(" ")).toMatch(/legacy.*2023/);
        },
      },
      dir,
    );
    // 2 x RSA_AES (27 each) + 2 x RSAES_OAEP (21 each) + PKCS#1 v1.5 (15) = 111 of 5 x 15 x 4 = 300.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(111);
    expect(outcome.refused.size).toBe(189);
    if (fixture.label === "hsm") {
      // OAEP SHA-1 and PKCS#1 v1.5 of AES-256/HMAC-224..512 (3 sizes each), RSA-AES SHA-1 of AES-256/HMAC-256/384/512.
      expect(outcome.inToken.length).toBeGreaterThanOrEqual(15 + 15 + 12);
    }
  });
});
