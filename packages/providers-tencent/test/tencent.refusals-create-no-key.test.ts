/**
 * Issue 18 (BYOK to more clouds), `tencent`: requests Tencent Cloud KMS must refuse, run through
 * runExport against the real token (and the software key store): each must fail with its code
 * before any key is created, and the SM2/SM4 and RSA-AES names must say why. The certificate
 * override then goes through with a warning. Before this package `tencent` did not exist.
 */
import type { ExportRequestInput } from "@ciop/wrap";
import { tencentKms } from "@ciop/providers-tencent";
import { badWrappingKeys, describeOnEachEngine, expectBadWrappingKeysRefused, expectRefused, expectUnsafeKeyNamesRefused } from "@ciop/testkit";
import { exportCreatingKey, exportRequests, opensslRsa, scratchDir, type BadWrappingKey, type EngineFixture } from "@ciop/testkit";

let bad: BadWrappingKey[];
let expiredCertificate: string;
let rsa2048: Uint8Array;
let rsa3072: Uint8Array;

beforeAll(() => {
  const dir = scratchDir("tencent-refusals");
  ({ bad, expiredCertificate } = badWrappingKeys(dir, 2048));
  rsa2048 = opensslRsa(dir, 2048).spki;
  rsa3072 = opensslRsa(dir, 3072).spki;
});

function refusedSaying(fixture: EngineFixture, request: ExportRequestInput, code: string, text: RegExp): Promise<void> {
  return expectRefused(fixture, tencentKms, request, code, `${request.algorithm} ${request.keyType}`, text);
}

describeOnEachEngine("tencent-no", "Tencent Cloud KMS refusals on the $label key store", (fixture) => {
  const req = exportRequests(fixture, () => ({ provider: "tencent", wrappingKey: rsa2048, algorithm: "RSAES_OAEP_SHA_1", keyType: "AES-256" }));

  test("bad wrapping-key files, and RSA-3072 (Tencent issues RSA_2048 only)", async () => {
    await expectBadWrappingKeysRefused(fixture, tencentKms, bad, (wrappingKey) => req({ wrappingKey }));
    await expectRefused(fixture, tencentKms, req({ wrappingKey: rsa3072 }), "ERR_WRAPPING_KEY_SIZE", "RSA-3072");
  });

  test("SM2/SM4 and RSA-AES names are refused with the reason; legacy PKCS#1 v1.5 needs the override", async () => {
    await refusedSaying(fixture, req({ algorithm: "SM2PKE" }), "ERR_ALGORITHM_UNSUPPORTED", /SM4.*FIPS-compliant region/);
    await refusedSaying(fixture, req({ keyType: "SM4" }), "ERR_KEY_TYPE_UNSUPPORTED", /SM4.*FIPS-compliant region/);
    await refusedSaying(fixture, req({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", /only symmetric key material/);
    await expectRefused(fixture, tencentKms, req({ algorithm: undefined }), "ERR_USAGE", "no algorithm");
    await expectRefused(fixture, tencentKms, req({ algorithm: "RSAES_PKCS1_V1_5" }), "ERR_ALGORITHM_UNSUPPORTED", "PKCS#1 v1.5 without allowLegacy");
    for (const keyType of ["AES-128", "HMAC-256", "RSA-2048", "EC-NISTP256", "aes-256"]) {
      await expectRefused(fixture, tencentKms, req({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
  });

  test("other providers' names, provider options and unsafe key names", async () => {
    await expectRefused(fixture, tencentKms, req({ provider: "aws" }), "ERR_PROVIDER_UNKNOWN", "aws name");
    await expectRefused(fixture, tencentKms, req({ providerOptions: { region: "ap-guangzhou" } }), "ERR_USAGE", "provider option");
    await expectUnsafeKeyNamesRefused(fixture, tencentKms, (keyName) => req({ keyName }));
  });

  test("an expired certificate goes through with allowInvalidCertificate, with a warning", async () => {
    const request = req({ wrappingKey: expiredCertificate, allowInvalidCertificate: true });
    const result = await exportCreatingKey(fixture, tencentKms, request);
    expect(result.plan.warnings.join(" ")).toMatch(/expired/);
  });
});
