/**
 * Requests Alibaba Cloud KMS must refuse, run through runExport against the real SoftHSM token
 * (and the software key store): each fails with its error code before any key is created.
 */
import { alibabaKms } from "@ciop/providers-alibaba";
import { opensslRsa, scratchDir, describeOnEachEngine, exportRequests, badWrappingKeys, expectBadWrappingKeysRefused, expectRefused } from "@ciop/testkit";
import { exportCreatingKey, type BadWrappingKey } from "@ciop/testkit";

let bad: BadWrappingKey[];
let expired: string;
let rsa2048: string;
let rsa4096: Uint8Array;

beforeAll(() => {
  const dir = scratchDir("alibaba-refusals");
  ({ bad, expiredCertificate: expired } = badWrappingKeys(dir, 2048));
  rsa2048 = Buffer.from(opensslRsa(dir, 2048).spki).toString("base64");
  rsa4096 = opensslRsa(dir, 4096).spki;
});

describeOnEachEngine("ali-no", "Alibaba refusals on the $label key store", (fixture) => {
  const req = exportRequests(fixture, () => ({ provider: "alibaba", wrappingKey: rsa2048, algorithm: "RSAES_OAEP_SHA_256" }));

  test("bad wrapping-key files and a 4096-bit key", async () => {
    await expectBadWrappingKeysRefused(fixture, alibabaKms, bad, (wrappingKey) => req({ wrappingKey }));
    await expectRefused(fixture, alibabaKms, req({ wrappingKey: rsa4096 }), "ERR_WRAPPING_KEY_SIZE", "RSA-4096");
  });

  test("missing or foreign algorithms, PKCS#1 v1.5 without the override, algorithm x key type mismatches, unsupported types", async () => {
    await expectRefused(fixture, alibabaKms, req({ algorithm: undefined }), "ERR_USAGE", "no algorithm");
    await expectRefused(fixture, alibabaKms, req({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", "AWS algorithm");
    await expectRefused(fixture, alibabaKms, req({ algorithm: "SM2PKE" }), "ERR_ALGORITHM_UNSUPPORTED", "SM2PKE");
    await expectRefused(fixture, alibabaKms, req({ algorithm: "RSAES_PKCS1_V1_5" }), "ERR_ALGORITHM_UNSUPPORTED", "PKCS#1 v1.5");
    await expectRefused(fixture, alibabaKms, req({ keyType: "RSA-2048" }), "ERR_ALGORITHM_UNSUPPORTED", "RSA key by direct OAEP");
    await expectRefused(
      fixture,
      alibabaKms,
      req({ algorithm: "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", keyType: "AES-256" }),
      "ERR_ALGORITHM_UNSUPPORTED",
      "AES by the asymmetric layout",
    );
    for (const keyType of ["AES-128", "EC-NISTP384", "RSA-4096", "HMAC-256"]) {
      await expectRefused(fixture, alibabaKms, req({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
  });

  test("the certificate and legacy overrides go through with warnings", async () => {
    const r = await exportCreatingKey(
      fixture,
      alibabaKms,
      req({ wrappingKey: expired, allowInvalidCertificate: true, algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true }),
    );
    expect(r.plan.warnings.join(" ")).toMatch(/expired/);
    expect(r.plan.warnings.join(" ")).toMatch(/legacy/);
  });
});
