/**
 * Issue 18 (BYOK to more clouds), `huawei`: every Huawei Cloud KMS wrapping algorithm (and the
 * names Open Telekom Cloud still lists that Huawei's current API does not) x every ciop key type x
 * wrapping-key size, on the software and HSM engines, through runExport: refusals with their code
 * and no key; accepted exports unwrapped by python3 cryptography to exactly the engine's key.
 * Before this package `huawei` did not exist.
 */
import { huaweiKms } from "@ciop/providers-otc";
import { combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, type RsaKeyPairs } from "@ciop/testkit";
import { checkOtcStyle, ecWithoutPublicKey, expectOtcStyle, otcStyleArtefact } from "./otc-style-matrix.js";

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("huawei-matrix");
  keys = rsaKeyPairs(dir, [1024, 2048, 3072, 4096]);
});

describeOnEachEngine("huawei-mx", "Huawei Cloud KMS matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "huawei",
        module: huaweiKms,
        combos: combos(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2_ENCRYPT"], [1024, 2048, 3072, 4096]),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        // Huawei's API (GetParametersForImportRequestBody) lists RSAES_OAEP_SHA_256 and SM2_ENCRYPT only.
        expect: expectOtcStyle({ RSAES_OAEP_SHA_256: ["oaep", "sha256"] }),
        artefact: otcStyleArtefact,
        refusedByTokenOutput: ecWithoutPublicKey,
        check: checkOtcStyle("hcloud KMS ImportKeyMaterial", "--encrypted_privatekey="),
      },
      dir,
    );
    expect(outcome.accepted.length + outcome.skipped.size).toBe(6);
    expect(outcome.refused.size).toBe(4 * 15 * 4 - 6);
  });
});
