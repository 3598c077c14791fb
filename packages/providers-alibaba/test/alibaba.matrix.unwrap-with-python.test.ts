/**
 * Every Alibaba algorithm x key type on the software engine and on the HSM engine (real SoftHSM
 * token): python3 cryptography decodes the base64 EncryptedKeyMaterial and unwraps it with the
 * test's own RSA-2048 private key (direct OAEP / PKCS#1 v1.5, or OAEP-SHA-256 + AES-256-ECB with
 * strict PKCS#7 unpadding); the recovered key must equal the engine's key.
 */
import { keyKind, parseWrappingKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { alibabaKms, ALIBABA_ALGORITHMS, ALIBABA_KEY_TYPES } from "@ciop/providers-alibaba";
import { hex, opensslRsa, pythonUnwrap, scratchDir, writeArtefact, type TestKeyPair, type UnwrapCase } from "./support/harness.js";
import { engines, type EngineFixture } from "./support/engines.js";

const SCHEME = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
  RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD: ["rsa-aes-ecb", "sha256"],
} as const;

let dir: string;
let pair: TestKeyPair;
let wrappingKey: WrappingKey;

beforeAll(() => {
  dir = scratchDir("ali-matrix");
  pair = opensslRsa(dir, 2048);
  wrappingKey = parseWrappingKey(pair.spki);
});

describe.each(engines("ali-mx"))("Alibaba matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("every accepted algorithm x key type unwraps to the engine's key", async () => {
    const cases: UnwrapCase[] = [];
    const expected = new Map<string, string>();
    const targets = new Map<string, Awaited<ReturnType<EngineFixture["key"]>>>();
    for (const algorithm of ALIBABA_ALGORITHMS) {
      for (const keyType of ALIBABA_KEY_TYPES) {
        let plan;
        try {
          plan = alibabaKms.plan({ provider: "alibaba", keyName: `${fixture.prefix}-${keyType}`, wrappingKey, algorithm, keyType, allowLegacy: true });
        } catch {
          continue;
        }
        let target = targets.get(keyType);
        if (target === undefined) {
          target = await fixture.key(plan.keyName, keyType);
          targets.set(keyType, target);
        }
        const result = await alibabaKms.export(plan, engine, target);
        expect(result.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([[`${plan.keyName}-wrapped`, "base64"]]);
        expect(result.artefacts[0]!.usage).toContain("ImportKeyMaterial");
        const id = `${algorithm}.${keyType}`;
        const [scheme, hash] = SCHEME[algorithm];
        const kind = keyKind(keyType);
        cases.push({ id, file: writeArtefact(dir, `${fixture.label}.${id}`, result.artefacts[0]!.bytes), encoding: "base64", scheme, hash, priv: pair.privPath, kind });
        expected.set(id, kind === "secret" ? hex(await engine.digest(target, "sha256")) : hex(await engine.publicKey(target)));
      }
    }
    // 3 symmetric algorithms x AES-256 + the asymmetric algorithm x 4 key pairs.
    expect(cases).toHaveLength(7);
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error }).toEqual({ id: c.id, ok: true, error: undefined });
      expect({ id: c.id, got: c.kind === "secret" ? r.sha256 : r.spki }).toEqual({ id: c.id, got: expected.get(c.id) });
    }
  });
});
