/**
 * Every ciop key type x key-exchange-key size x container (Key Vault, Managed HSM) on the software
 * engine and on the HSM engine (real SoftHSM token), through runExport. Refused combinations must
 * carry the expected code and create no key; accepted ones must be done in the token where SoftHSM
 * can, and python3 cryptography must accept the .byok JSON (exact members, header, kid, unpadded
 * base64url) and unwrap the ciphertext (RSA-OAEP SHA-1 + RFC 5649) with the test's KEK private key
 * to exactly the engine's key.
 */
import type { KeyType } from "@ciop/wrap";
import { azureKeyVault } from "@ciop/providers-azure";
import { rsaKeyPairs, scratchDir, type RsaKeyPairs, describeOnEachEngine, combos, runMatrix, tooWeak, type Combo, type Expectation } from "@ciop/testkit";

const VAULT_KID = "https://ciop-test-vault.vault.azure.net/keys/kek/1f2e3d4c5b6a79880123456789abcdef";
const MHSM_KID = "https://ciop-test-hsm.managedhsm.azure.net/keys/kek/00112233445566778899aabbccddeeff";

/** The test's own statement of Azure's rules (not read from the provider code). */
const VAULT_TYPES: readonly KeyType[] = ["RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384", "EC-NISTP521", "EC-SECP256K1"];
const MHSM_TYPES: readonly KeyType[] = [...VAULT_TYPES, "AES-128", "AES-192", "AES-256"];
function expectAzure(c: Combo): Expectation {
  const types = c.tag === "managedhsm" ? MHSM_TYPES : VAULT_TYPES;
  if (!types.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (tooWeak(c.keyType, c.bits, 4096)) return { refuse: "ERR_WRAPPING_KEY_TOO_WEAK" };
  return { scheme: "rsa-aes", hash: "sha1" };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("azure-matrix");
  keys = rsaKeyPairs(dir, [2048, 3072, 4096]);
});

describeOnEachEngine("az-mx", "Azure matrix on the $label engine", (fixture, engine) => {
  test("every key type x KEK size x container: refused with the right code and no key, or a .byok that unwraps to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "microsoft-azure",
        module: azureKeyVault,
        combos: combos(
          [undefined],
          [2048, 3072, 4096],
          [
            { extra: { providerOptions: { kek: VAULT_KID } }, tag: "vault" },
            { extra: { providerOptions: { kek: MHSM_KID } }, tag: "managedhsm" },
          ],
        ),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectAzure,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "azure-byok", kid: r.plan.extra.azureKek! }),
        check: (r, c) => {
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`KeyTransferPackage-${r.plan.keyName}.byok`, "json"]]);
          expect(r.plan.extra.azureKek).toBe(c.tag === "vault" ? VAULT_KID : MHSM_KID);
          const usage = r.artefacts[0]!.usage;
          expect(usage).toContain("az keyvault key import");
          expect(usage).toContain(c.tag === "vault" ? "--vault-name ciop-test-vault" : "--hsm-name ciop-test-hsm");
          expect(usage).toContain(c.keyType.startsWith("EC") ? "--kty EC-HSM --curve P-" : c.keyType.startsWith("AES") ? "--kty oct-HSM" : "--kty RSA-HSM");
        },
        after: (_r, _c, u) => {
          expect(u.generator).toMatch(/^ciop \S+/);
        },
      },
      dir,
    );
    // Per container: RSA-2048 x3, RSA-3072 x2, RSA-4096 x1, P-256 x2, P-384 x1, P-521 x1, secp256k1 x2 = 12; Managed HSM adds AES-128/192/256 x3.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(12 + 12 + 9);
    expect(outcome.refused.size).toBe(15 * 3 * 2 - 33);
    if (fixture.label === "hsm") {
      // AES (oct-HSM) keys are wrapped entirely inside SoftHSM: KWP + OAEP SHA-1.
      expect(outcome.inToken.filter((id) => id.includes(".AES-"))).toHaveLength(9);
    }
  });
});
