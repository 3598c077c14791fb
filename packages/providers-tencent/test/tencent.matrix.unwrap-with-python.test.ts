/**
 * Issue 18 (BYOK to more clouds), `tencent`: every Tencent Cloud KMS wrapping algorithm (and the
 * names Tencent or its neighbours use that ciop refuses) x every ciop key type x wrapping-key size,
 * on the software engine and on the HSM engine (real token), through runExport. Refused
 * combinations must carry the expected code and create no key; accepted ones must give
 * `<key>-EncryptedKeyMaterial.b64`, strict base64 of one RSA-2048 block, that python3 cryptography
 * unwraps with the test's private key to exactly the engine's key. Before this package there was
 * no `tencent` provider: every combination failed.
 */
import type { KeyType } from "@ciop/wrap";
import { tencentKms } from "@ciop/providers-tencent";
import { combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, type Combo, type Expectation, type Hash, type RsaKeyPairs } from "@ciop/testkit";
import type { Scheme } from "@ciop/testkit";

/** The test's own statement of Tencent's import rules (GetParametersForImport / ImportKeyMaterial docs). */
const SCHEME: Record<string, [Scheme, Hash]> = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
};
const REFUSED_NAMES = ["SM2PKE", "RSA_AES_KEY_WRAP_SHA_256", "RSA_OAEP_3072_SHA256"];
const TYPES: readonly KeyType[] = ["AES-256"];

function expectTencent(c: Combo): Expectation {
  const known = SCHEME[c.algorithm!];
  if (known === undefined) return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (!TYPES.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.bits !== 2048) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  return { scheme: known[0], hash: known[1] };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("tencent-matrix");
  keys = rsaKeyPairs(dir, [1024, 2048, 3072, 4096]);
});

describeOnEachEngine("tencent-mx", "Tencent Cloud KMS matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "tencent",
        module: tencentKms,
        combos: combos([...Object.keys(SCHEME), ...REFUSED_NAMES], [1024, 2048, 3072, 4096]),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectTencent,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: (r, c) => {
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`${r.plan.keyName}-EncryptedKeyMaterial.b64`, "base64"]]);
          // One RSA-2048 block (256 bytes) is 344 base64 characters, no line breaks.
          expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[A-Za-z0-9+/]{342}==$/);
          expect(r.artefacts[0]!.usage).toContain("tccli kms ImportKeyMaterial");
          expect(r.artefacts[0]!.usage).toContain(`WrappingAlgorithm ${c.algorithm}`);
          if (c.algorithm === "RSAES_PKCS1_V1_5") expect(r.plan.warnings.join(" ")).toMatch(/legacy/);
          // AES-256 under RSA-2048 (112-bit): the plan says so.
          expect(r.plan.warnings.join(" ")).toMatch(/112-bit security, below the 128 bits/);
        },
      },
      dir,
    );
    // 3 algorithms x AES-256 x RSA-2048; the rest of 6 x 15 x 4 = 360 is refused.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(3);
    expect(outcome.refused.size).toBe(357);
    if (fixture.label === "hsm") {
      // OAEP SHA-1 and PKCS#1 v1.5 of AES-256 stay in SoftHSM; OAEP SHA-256 needs the host.
      expect(outcome.inToken.length).toBe(2);
    }
  });
});
