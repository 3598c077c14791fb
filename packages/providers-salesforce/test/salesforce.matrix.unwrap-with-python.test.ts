/**
 * Every Salesforce BYOK wrapping algorithm x every ciop key type x certificate size (RSA-4096 as
 * Salesforce issues it; 2048 refused) on the software engine and on the HSM engine (real SoftHSM
 * token), through runExport. Refused combinations must carry the expected code and create no key;
 * accepted ones must be done in the token where SoftHSM can (RSAES_OAEP_SHA_1 and PKCS#1 v1.5 wraps,
 * and the hash by C_DigestKey), and python3 cryptography must decrypt `<key>-wrapped` with the
 * certificate's private key to the secret whose SHA-256 is `<key>-hash`.
 */
import type { KeyType } from "@ciop/wrap";
import { salesforceByok, SALESFORCE_ALGORITHMS } from "@ciop/providers-salesforce";
import { rsaKeyPairs, scratchDir, type RsaKeyPairs, describeOnEachEngine, combos, runMatrix, type Combo, type Expectation, type Hash } from "@ciop/testkit";
import type { Scheme } from "@ciop/testkit";

/** The test's own statement of the rules (not read from the provider code). */
const SCHEME: Record<string, [Scheme, Hash]> = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
  RSAES_OAEP_SHA_512: ["oaep", "sha512"],
};
function expectSalesforce(c: Combo): Expectation {
  if (c.keyType !== ("AES-256" as KeyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.bits !== 4096) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  const [scheme, hash] = SCHEME[c.algorithm!]!;
  return { scheme, hash };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("sf-matrix");
  keys = rsaKeyPairs(dir, [2048, 4096]);
});

describeOnEachEngine("sf-mx", "Salesforce matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x size: refused with the right code and no key, or <key>-wrapped + <key>-hash of the engine's secret", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "salesforce",
        module: salesforceByok,
        combos: combos(SALESFORCE_ALGORITHMS, [2048, 4096]),
        // Salesforce hands out its BYOK wrapping key as a certificate (.crt).
        wrappingKey: keys.certificate,
        privPath: keys.privPath,
        expect: expectSalesforce,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: (r) => {
          const name = r.plan.keyName;
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
            [`${name}-wrapped`, "base64"],
            [`${name}-hash`, "base64"],
          ]);
          expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[A-Za-z0-9+/]{680}[A-Za-z0-9+/=]{4}$/); // 512 bytes, one line
          expect(new TextDecoder().decode(r.artefacts[1]!.bytes)).toMatch(/^[A-Za-z0-9+/]{43}=$/); // 32 bytes
          expect(r.steps[0]).toBe("digest(SHA-256)");
        },
        after: (r, _c, u) => {
          expect(Buffer.from(new TextDecoder().decode(r.artefacts[1]!.bytes), "base64").toString("hex")).toBe(u.sha256);
        },
      },
      dir,
    );
    expect(outcome.accepted.length + outcome.skipped.size).toBe(4);
    expect(outcome.refused.size).toBe(4 * 15 * 2 - 4);
    if (fixture.label === "hsm") expect(outcome.inToken.sort()).toEqual(["RSAES_OAEP_SHA_1.AES-256.4096", "RSAES_PKCS1_V1_5.AES-256.4096"]);
  });
});
