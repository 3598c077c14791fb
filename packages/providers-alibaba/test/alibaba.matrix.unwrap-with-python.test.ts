/**
 * Every Alibaba Cloud KMS wrapping algorithm x every ciop key type x wrapping-key size (RSA-2048 as
 * Alibaba issues it; 3072 refused) on the software engine and on the HSM engine (real SoftHSM
 * token), through runExport. Refused combinations must carry the expected code and create no key;
 * accepted ones must be done in the token where SoftHSM can, and python3 cryptography must decode
 * the base64 `<key>-wrapped` and undo it (RSA-OAEP / PKCS#1 v1.5 of the AES key, or OAEP-SHA-256 of
 * an AES-256 key followed by AES-256-ECB with PKCS#7 padding of the PKCS#8) with the test's private
 * key, recovering exactly the engine's key.
 */
import type { KeyType } from "@ciop/wrap";
import { alibabaKms, ALIBABA_ALGORITHMS } from "@ciop/providers-alibaba";
import { rsaKeyPairs, scratchDir, type RsaKeyPairs, describeOnEachEngine, combos, runMatrix, type Combo, type Expectation, type Hash } from "@ciop/testkit";
import type { Scheme } from "@ciop/testkit";

/** The test's own statement of Alibaba's rules (not read from the provider code). */
const SYMMETRIC: readonly KeyType[] = ["AES-256"];
const ASYMMETRIC: readonly KeyType[] = ["RSA-2048", "RSA-3072", "EC-NISTP256", "EC-SECP256K1"];
const SCHEME: Record<string, [Scheme, Hash]> = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
  RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD: ["rsa-aes-ecb", "sha256"],
};
function expectAlibaba(c: Combo): Expectation {
  const [scheme, hash] = SCHEME[c.algorithm!]!;
  if (![...SYMMETRIC, ...ASYMMETRIC].includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if ((scheme === "rsa-aes-ecb" ? ASYMMETRIC : SYMMETRIC).includes(c.keyType) === false) return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (c.bits !== 2048) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  return { scheme, hash };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("alibaba-matrix");
  keys = rsaKeyPairs(dir, [2048, 3072]);
});

describeOnEachEngine("ali-mx", "Alibaba matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x size: refused with the right code and no key, or base64 material that unwraps to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "alibaba",
        module: alibabaKms,
        combos: combos(ALIBABA_ALGORITHMS, [2048, 3072]),
        // GetParametersForImport returns the public key as base64 of DER SubjectPublicKeyInfo.
        wrappingKey: (c) => Buffer.from(keys.pair(c.bits).spki).toString("base64"),
        privPath: keys.privPath,
        expect: expectAlibaba,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: (r, c) => {
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`${r.plan.keyName}-wrapped`, "base64"]]);
          expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
          expect(r.artefacts[0]!.usage).toContain("ImportKeyMaterial");
          if (c.keyType !== "AES-256" && c.keyType !== "RSA-2048") expect(r.plan.warnings.join(" ")).toMatch(/weaker|112-bit/);
        },
      },
      dir,
    );
    // Symmetric: 3 algorithms x AES-256; asymmetric: 4 key types.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(3 + 4);
    expect(outcome.refused.size).toBe(4 * 15 * 2 - 7);
    if (fixture.label === "hsm") expect(outcome.inToken.sort()).toEqual(["RSAES_OAEP_SHA_1.AES-256.2048", "RSAES_PKCS1_V1_5.AES-256.2048"]);
  });
});
