/**
 * Every key type x key-exchange-key size Azure accepts, on the software engine and on the HSM
 * engine (real SoftHSM token). python3 cryptography checks the .byok JSON (members, header, kid,
 * unpadded base64url), unwraps the ciphertext (RSA-OAEP SHA-1 + RFC 5649) with the test's own KEK
 * private key, and the recovered key must equal the engine's key.
 */
import { keyKind, parseWrappingKey, type KeyType, type TargetKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { azureKeyVault, AZURE_KEY_TYPES, AZURE_WRAPPING_KEY_BITS } from "@ciop/providers-azure";
import { hex, opensslRsa, pythonUnwrap, scratchDir, writeArtefact, type TestKeyPair, type UnwrapCase } from "./support/harness.js";
import { engines, type EngineFixture } from "./support/engines.js";

const VAULT_KID = "https://ciop-test-vault.vault.azure.net/keys/kek/1f2e3d4c5b6a79880123456789abcdef";
const MHSM_KID = "https://ciop-test-hsm.managedhsm.azure.net/keys/kek/00112233445566778899aabbccddeeff";

let dir: string;
const pairs = new Map<number, TestKeyPair>();
const wrappingKeys = new Map<number, WrappingKey>();

beforeAll(() => {
  dir = scratchDir("azure-matrix");
  for (const bits of AZURE_WRAPPING_KEY_BITS) {
    const pair = opensslRsa(dir, bits);
    pairs.set(bits, pair);
    wrappingKeys.set(bits, parseWrappingKey(pair.spki));
  }
});

describe.each(engines("az-mx"))("Azure matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("every accepted key type and KEK size gives a .byok that unwraps to the engine's key", async () => {
    const cases: UnwrapCase[] = [];
    const expected = new Map<string, string>();
    const targets = new Map<KeyType, TargetKey>();
    for (const keyType of AZURE_KEY_TYPES) {
      const kid = keyKind(keyType) === "secret" ? MHSM_KID : VAULT_KID;
      for (const bits of AZURE_WRAPPING_KEY_BITS) {
        let plan;
        try {
          plan = azureKeyVault.plan({
            provider: "microsoft-azure",
            keyName: `${fixture.prefix}-${keyType}`,
            wrappingKey: wrappingKeys.get(bits)!,
            keyType,
            azureKek: kid,
          });
        } catch {
          continue;
        }
        let target = targets.get(keyType);
        if (target === undefined) {
          target = await fixture.key(plan.keyName, keyType);
          targets.set(keyType, target);
        }
        const result = await azureKeyVault.export(plan, engine, target);
        expect(result.artefacts).toHaveLength(1);
        const artefact = result.artefacts[0]!;
        expect([artefact.fileName, artefact.encoding]).toEqual([`KeyTransferPackage-${plan.keyName}.byok`, "json"]);
        expect(artefact.usage).toContain("az keyvault key import");
        expect(artefact.usage).toContain(keyType.startsWith("EC") ? "--kty EC-HSM --curve P-" : keyType.startsWith("AES") ? "--kty oct-HSM" : "--kty RSA-HSM");
        const id = `${keyType}.${bits}`;
        const kind = keyKind(keyType);
        cases.push({
          id,
          file: writeArtefact(dir, `${fixture.label}.${id}.byok`, artefact.bytes),
          encoding: "azure-byok",
          scheme: "rsa-aes",
          hash: "sha1",
          priv: pairs.get(bits)!.privPath,
          kind,
          kid,
        });
        expected.set(id, kind === "secret" ? hex(await engine.digest(target, "sha256")) : hex(await engine.publicKey(target)));
      }
    }
    // RSA-2048 x3, RSA-3072 x2, RSA-4096 x1, P-256 x2, P-384 x1, P-521 x1, secp256k1 x2, AES-128/192/256 x3 each.
    expect(cases).toHaveLength(21);
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error }).toEqual({ id: c.id, ok: true, error: undefined });
      expect(r.generator).toMatch(/^ciop \S+$/);
      expect({ id: c.id, got: c.kind === "secret" ? r.sha256 : r.spki }).toEqual({ id: c.id, got: expected.get(c.id) });
    }
  });
});
