/**
 * Requests Salesforce BYOK must refuse, run through runExport against the real SoftHSM token (and
 * the software key store): each fails with its error code before any key is created.
 */
import { salesforceByok } from "@ciop/providers-salesforce";
import { opensslRsa, pythonCertificate, scratchDir, describeOnEachEngine, exportRequests, badWrappingKeys, expectBadWrappingKeysRefused } from "@ciop/testkit";
import { expectRefused, exportCreatingKey, type BadWrappingKey } from "@ciop/testkit";

let bad: BadWrappingKey[];
let expired: string;
let cert4096: string;
let cert3072: string;

beforeAll(() => {
  const dir = scratchDir("sf-refusals");
  ({ bad, expiredCertificate: expired, validCertificate: cert4096 } = badWrappingKeys(dir, 4096));
  cert3072 = pythonCertificate(opensslRsa(dir, 3072).privPath);
});

describeOnEachEngine("sf-no", "Salesforce refusals on the $label key store", (fixture) => {
  const req = exportRequests(fixture, () => ({ provider: "salesforce", wrappingKey: cert4096, algorithm: "RSAES_OAEP_SHA_1" }));

  test("bad certificate files, a 3072-bit certificate", async () => {
    await expectBadWrappingKeysRefused(fixture, salesforceByok, bad, (wrappingKey) => req({ wrappingKey }));
    await expectRefused(fixture, salesforceByok, req({ wrappingKey: cert3072 }), "ERR_WRAPPING_KEY_SIZE", "RSA-3072 certificate");
  });

  test("missing or foreign algorithms, PKCS#1 v1.5 without the override, key types other than a 256-bit secret", async () => {
    await expectRefused(fixture, salesforceByok, req({ algorithm: undefined }), "ERR_USAGE", "no algorithm");
    await expectRefused(fixture, salesforceByok, req({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", "AWS algorithm");
    await expectRefused(fixture, salesforceByok, req({ algorithm: "RSA-OAEP" }), "ERR_ALGORITHM_UNSUPPORTED", "JWE name");
    await expectRefused(fixture, salesforceByok, req({ algorithm: "RSAES_PKCS1_V1_5" }), "ERR_ALGORITHM_UNSUPPORTED", "PKCS#1 v1.5");
    for (const keyType of ["AES-128", "HMAC-256", "RSA-2048", "EC-NISTP256"]) {
      await expectRefused(fixture, salesforceByok, req({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
  });

  test("the certificate override goes through with a warning", async () => {
    const r = await exportCreatingKey(fixture, salesforceByok, req({ wrappingKey: expired, allowInvalidCertificate: true }));
    expect(r.plan.warnings.join(" ")).toMatch(/expired/);
  });
});
