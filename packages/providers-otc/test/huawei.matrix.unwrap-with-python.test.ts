/**
 * Issue 18 (BYOK to more clouds), `huawei`: every Huawei Cloud KMS wrapping algorithm (and the
 * names Open Telekom Cloud still lists that Huawei's current API does not) x every ciop key type x
 * wrapping-key size, on the software and HSM engines, through runExport: refusals with their code
 * and no key; accepted exports unwrapped by python3 cryptography to exactly the engine's key.
 * Before this package `huawei` did not exist.
 */
import { parseWrappingKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { huaweiKms } from "@ciop/providers-otc";
import { combos, engines, opensslRsa, runMatrix, scratchDir, type EngineFixture, type TestKeyPair } from "@ciop/testkit";
import { checkOtcStyle, expectOtcStyle, otcStyleArtefact } from "./otc-style-matrix.js";

let dir: string;
const pairs = new Map<number, TestKeyPair>();
const wrappingKeys = new Map<number, WrappingKey>();

beforeAll(() => {
  dir = scratchDir("huawei-matrix");
  for (const bits of [1024, 2048, 3072, 4096]) {
    const pair = opensslRsa(dir, bits);
    pairs.set(bits, pair);
    wrappingKeys.set(bits, parseWrappingKey(pair.spki));
  }
});

describe.each(engines("huawei-mx"))("Huawei Cloud KMS matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine,
      {
        provider: "huawei",
        module: huaweiKms,
        combos: combos(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2_ENCRYPT"], [1024, 2048, 3072, 4096]),
        wrappingKey: (c) => wrappingKeys.get(c.bits)!,
        privPath: (c) => pairs.get(c.bits)!.privPath,
        // Huawei's API (GetParametersForImportRequestBody) lists RSAES_OAEP_SHA_256 and SM2_ENCRYPT only.
        expect: expectOtcStyle({ RSAES_OAEP_SHA_256: ["oaep", "sha256"] }),
        artefact: otcStyleArtefact,
        check: checkOtcStyle("hcloud KMS ImportKeyMaterial", "--encrypted_privatekey="),
      },
      dir,
    );
    expect(outcome.accepted.length + outcome.skipped.size).toBe(6);
    expect(outcome.refused.size).toBe(4 * 15 * 4 - 6);
  });
});
