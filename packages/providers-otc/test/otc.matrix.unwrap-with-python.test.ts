/**
 * Issue 18 (BYOK to more clouds), `otc`: every Open Telekom Cloud KMS wrapping algorithm (and
 * names it does not take) x every ciop key type x wrapping-key size, on the software engine and on
 * the HSM engine (real token), through runExport. Refused combinations carry the expected code
 * and create no key; accepted ones give base64 `encrypted_key_material` (and, for key pairs, the
 * private key ciphertext) that python3 cryptography unwraps with the test's private key to exactly
 * the engine's key (PKCS#8 byte-exact for key pairs). Before this package `otc` did not exist.
 */
import { otcKms } from "@ciop/providers-otc";
import { combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, type RsaKeyPairs } from "@ciop/testkit";
import { checkOtcStyle, ecWithoutPublicKey, expectOtcStyle, otcStyleArtefact } from "./otc-style-matrix.js";

/** OTC's API reference: get-parameters-for-import takes these three wrapping_algorithm values. */
const DIRECT = { RSAES_OAEP_SHA_256: ["oaep", "sha256"], RSAES_OAEP_SHA_1: ["oaep", "sha1"], RSAES_PKCS1_V1_5: ["pkcs1", "sha1"] } as const;

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("otc-matrix");
  keys = rsaKeyPairs(dir, [1024, 2048, 3072, 4096]);
});

describeOnEachEngine("otc-mx", "Open Telekom Cloud KMS matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "otc",
        module: otcKms,
        combos: combos([...Object.keys(DIRECT), "SM2_ENCRYPT", "RSA_AES_KEY_WRAP_SHA_256"], [1024, 2048, 3072, 4096]),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectOtcStyle(DIRECT as unknown as Parameters<typeof expectOtcStyle>[0]),
        artefact: otcStyleArtefact,
        refusedByTokenOutput: ecWithoutPublicKey,
        check: checkOtcStyle("/kms/import-key-material", "Import Key Material > Use Existing Key Material"),
      },
      dir,
    );
    // RSAES_OAEP_SHA_256: AES-256, RSA-2048/3072/4096, P-256, P-384; the other two: AES-256 (RSA-2048 only).
    expect(outcome.accepted.length + outcome.skipped.size).toBe(8);
    expect(outcome.refused.size).toBe(5 * 15 * 4 - 8);
    if (fixture.label === "hsm") {
      // OAEP SHA-1 and PKCS#1 v1.5 of AES-256 stay in SoftHSM; SHA-256 OAEP needs the host.
      expect(outcome.inToken.length).toBe(2);
    }
  });
});
