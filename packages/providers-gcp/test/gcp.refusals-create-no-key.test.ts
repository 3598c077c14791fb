/**
 * Requests Compute Engine and Cloud KMS must refuse, run through runExport against the real
 * SoftHSM token (and the software key store): each fails with its error code before any key is
 * created; the certificate override then goes through with a warning.
 */
import { runExport, type ExportRequestInput, type ProviderModule } from "@ciop/wrap";
import { googleCloudKms, googleComputeEngine } from "@ciop/providers-gcp";
import { opensslRsa, scratchDir, describeOnEachEngine, exportRequests, badWrappingKeys, expectBadWrappingKeysRefused, expectRefused } from "@ciop/testkit";
import { exportCreatingKey, refusedWhereNotPossible, type BadWrappingKey } from "@ciop/testkit";

let bad2048: BadWrappingKey[];
let bad3072: BadWrappingKey[];
let expired2048: string;
let cert2048: string;
let rsa3072: Uint8Array;
let rsa4096: Uint8Array;

beforeAll(() => {
  const dir = scratchDir("gcp-refusals");
  ({ bad: bad2048, expiredCertificate: expired2048, validCertificate: cert2048 } = badWrappingKeys(dir, 2048));
  ({ bad: bad3072 } = badWrappingKeys(dir, 3072));
  rsa3072 = opensslRsa(dir, 3072).spki;
  rsa4096 = opensslRsa(dir, 4096).spki;
});

describeOnEachEngine("gcp-no", "Google refusals on the $label key store", (fixture) => {
  const gce = exportRequests(fixture, () => ({ provider: "google-compute-engine", wrappingKey: cert2048, algorithm: "RSAES_OAEP_SHA_1" }));
  const kms = exportRequests(fixture, () => ({ provider: "google-cloud-key-management", wrappingKey: rsa3072, algorithm: "RSA_OAEP_3072_SHA256_AES_256" }));
  const refused = (m: ProviderModule, r: ExportRequestInput, code: string, label: string) => expectRefused(fixture, m, r, code, label);

  test("bad wrapping-key files for both services", async () => {
    await expectBadWrappingKeysRefused(fixture, googleComputeEngine, bad2048, (wrappingKey) => gce({ wrappingKey }), "GCE ");
    await expectBadWrappingKeysRefused(fixture, googleCloudKms, bad3072, (wrappingKey) => kms({ wrappingKey }), "KMS ");
  });

  test("Compute Engine: wrong algorithm, PKCS#1 v1.5 without the override, non-AES-256 targets, non-2048 keys", async () => {
    await refused(googleComputeEngine, gce({ algorithm: undefined }), "ERR_USAGE", "no algorithm");
    await refused(googleComputeEngine, gce({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", "AWS algorithm");
    await refused(googleComputeEngine, gce({ algorithm: "RSAES_PKCS1_V1_5" }), "ERR_ALGORITHM_UNSUPPORTED", "PKCS#1 v1.5");
    for (const keyType of ["AES-128", "RSA-2048", "EC-NISTP256", "HMAC-256"]) {
      await refused(googleComputeEngine, gce({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
    await refused(googleComputeEngine, gce({ wrappingKey: rsa3072 }), "ERR_WRAPPING_KEY_SIZE", "RSA-3072 CSEK key");
  });

  test("Cloud KMS: missing or foreign algorithm, key pairs by direct OAEP, unsupported types, size mismatch, weak keys", async () => {
    await refused(googleCloudKms, kms({ algorithm: undefined }), "ERR_USAGE", "no algorithm");
    await refused(googleCloudKms, kms({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", "AWS algorithm");
    await refused(googleCloudKms, kms({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true }), "ERR_ALGORITHM_UNSUPPORTED", "PKCS#1 v1.5");
    await refused(googleCloudKms, kms({ algorithm: "RSA_OAEP_3072_SHA256", keyType: "EC-NISTP256" }), "ERR_ALGORITHM_UNSUPPORTED", "EC by direct OAEP");
    for (const keyType of ["EC-NISTP521", "AES-128", "AES-192"]) {
      await refused(googleCloudKms, kms({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
    await refused(googleCloudKms, kms({ algorithm: "RSA_OAEP_4096_SHA256_AES_256" }), "ERR_WRAPPING_KEY_SIZE", "4096 method, 3072 key");
    await refused(googleCloudKms, kms({ keyType: "EC-NISTP384" }), "ERR_WRAPPING_KEY_TOO_WEAK", "P-384 under RSA-3072");
    await refused(googleCloudKms, kms({ keyType: "RSA-4096" }), "ERR_WRAPPING_KEY_TOO_WEAK", "RSA-4096 under RSA-3072");
  });

  test("the certificate override and the default RSA-2048 target go through", async () => {
    const r = await exportCreatingKey(fixture, googleComputeEngine, gce({ wrappingKey: expired2048, allowInvalidCertificate: true }));
    expect(r.plan.warnings.join(" ")).toMatch(/expired/);
    // Issue 16 (three tokens): on a token that cannot make the host step RSA-AES of an RSA key needs
    // (SoftHSM through p11-kit 0.24's RPC, decided by the probe) the refusal is checked instead.
    const request = kms({ wrappingKey: rsa4096, algorithm: "RSAES_OAEP_SHA_1", keyType: undefined });
    if (await refusedWhereNotPossible(fixture, googleCloudKms, request, ["rsa-aes", "sha1", "RSA-2048"], "RSA-AES of RSA-2048")) return;
    const d = await runExport(googleCloudKms, request, fixture.source());
    expect(d.plan.keyType).toBe("RSA-2048");
    expect(d.plan.extra.importMethod).toBe("RSA_OAEP_4096_SHA1_AES_256");
  });
});
