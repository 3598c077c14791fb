/**
 * Every algorithm x key type x wrapping-key size AWS KMS accepts, on the software engine and on the
 * HSM engine (real SoftHSM token): each `<key>-wrapped` file is unwrapped by python3 cryptography
 * with the test's own private wrapping key, and the recovered key must equal the engine's key
 * (SHA-256 computed by the engine, C_DigestKey in the HSM, for secrets; the public key for pairs).
 */
import { keyKind, parseWrappingKey, type KeyType, type TargetKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { awsKms, AWS_ALGORITHMS, AWS_KEY_TYPES, AWS_WRAPPING_KEY_BITS } from "@ciop/providers-aws";
import { hex, opensslRsa, pythonUnwrap, scratchDir, writeArtefact, type TestKeyPair, type UnwrapCase } from "./support/harness.js";
import { engines, type EngineFixture } from "./support/engines.js";

const SCHEME = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSA_AES_KEY_WRAP_SHA_256: ["rsa-aes", "sha256"],
  RSA_AES_KEY_WRAP_SHA_1: ["rsa-aes", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
} as const;

let dir: string;
const pairs = new Map<number, TestKeyPair>();
const wrappingKeys = new Map<number, WrappingKey>();

beforeAll(() => {
  dir = scratchDir("aws-matrix");
  for (const bits of AWS_WRAPPING_KEY_BITS) {
    const pair = opensslRsa(dir, bits);
    pairs.set(bits, pair);
    wrappingKeys.set(bits, parseWrappingKey(pair.spki));
  }
});

describe.each(engines("aws-mx"))("AWS KMS matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("every accepted combination unwraps to the engine's key", async () => {
    const cases: UnwrapCase[] = [];
    const expected = new Map<string, string>();
    const targets = new Map<KeyType, TargetKey>();
    let refused = 0;
    const fallbacks: string[] = [];
    for (const algorithm of AWS_ALGORITHMS) {
      for (const keyType of AWS_KEY_TYPES) {
        for (const bits of AWS_WRAPPING_KEY_BITS) {
          let plan;
          try {
            plan = awsKms.plan({
              provider: "aws",
              keyName: `${fixture.prefix}-${keyType}`,
              wrappingKey: wrappingKeys.get(bits)!,
              algorithm,
              keyType,
              allowLegacy: true,
            });
          } catch {
            refused++;
            continue;
          }
          let target = targets.get(keyType);
          if (target === undefined) {
            target = await fixture.key(plan.keyName, keyType);
            targets.set(keyType, target);
          }
          const result = await awsKms.export(plan, engine, target);
          if (fixture.label === "hsm" && keyType === "AES-256" && algorithm.endsWith("SHA_1")) {
            // SoftHSM can do these inside the token (OAEP SHA-1, KWP of a 32-byte key): no host fallback.
            expect({ id: `${algorithm}/${bits}`, hostFallback: result.hostFallback }).toEqual({ id: `${algorithm}/${bits}`, hostFallback: false });
          }
          fallbacks.push(`${algorithm}/${keyType}/${bits}: ${result.hostFallback ? "host" : "hsm"} ${result.steps.join(" + ")}`);
          expect(result.artefacts).toHaveLength(1);
          const artefact = result.artefacts[0]!;
          expect(artefact.fileName).toBe(`${plan.keyName}-wrapped`);
          expect(artefact.encoding).toBe("binary");
          expect(artefact.usage).toMatch(/import-key-material/);
          const id = `${algorithm}.${keyType}.${bits}`;
          const [scheme, hash] = SCHEME[algorithm];
          const kind = keyKind(keyType);
          cases.push({ id, file: writeArtefact(dir, `${fixture.label}.${id}`, artefact.bytes), encoding: "binary", scheme, hash, priv: pairs.get(bits)!.privPath, kind });
          expected.set(id, kind === "secret" ? hex(await engine.digest(target, "sha256")) : hex(await engine.publicKey(target)));
        }
      }
    }
    // 2 x RSA_AES (27 each) + 2 x RSAES_OAEP (21 each) + PKCS#1 v1.5 (15): see README matrix.
    expect(cases).toHaveLength(111);
    expect(refused).toBe(AWS_ALGORITHMS.length * AWS_KEY_TYPES.length * AWS_WRAPPING_KEY_BITS.length - 111);
    if (process.env.CIOP_SHOW_STEPS) console.log(fallbacks.join("\n"));
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error }).toEqual({ id: c.id, ok: true, error: undefined });
      expect({ id: c.id, got: c.kind === "secret" ? r.sha256 : r.spki }).toEqual({ id: c.id, got: expected.get(c.id) });
    }
  });
});
