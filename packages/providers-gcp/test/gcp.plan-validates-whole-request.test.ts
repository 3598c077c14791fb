import { parseWrappingKey, type ExportRequest, type WrappingKey } from "@ciop/wrap";
import { googleCloudKms, googleComputeEngine, GCKMS_ALGORITHMS, GCKMS_KEY_TYPES } from "@ciop/providers-gcp";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, pythonCertificate, scratchDir, type TestKeyPair } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let cert2048: WrappingKey;
let expired2048: WrappingKey;
let future3072: WrappingKey;
let ecKey: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("gcp-plan");
  wk = {};
  const pairs: Record<number, TestKeyPair> = {};
  for (const bits of [2048, 3072, 4096]) {
    pairs[bits] = opensslRsa(dir, bits);
    wk[bits] = parseWrappingKey(pairs[bits]!.spki);
  }
  cert2048 = parseWrappingKey(pythonCertificate(pairs[2048]!.privPath));
  expired2048 = certificatePair(pairs[2048]!).expired;
  future3072 = certificatePair(pairs[3072]!).future;
  ecKey = ecWrappingKey(dir);
});

describe("googleComputeEngine.plan", () => {
  const req = (over: Partial<ExportRequest>): ExportRequest => ({
    provider: "google-compute-engine",
    keyName: "gce-k",
    wrappingKey: cert2048,
    algorithm: "RSAES_OAEP_SHA_1",
    ...over,
  });

  test("accepts the seed call: AES-256 default, RSA-2048 certificate, RSAES_OAEP_SHA_1", () => {
    const plan = googleComputeEngine.plan(req({}));
    expect(plan).toMatchObject({ provider: "google-compute-engine", keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_1" });
    expect(googleComputeEngine.names).toEqual(["google-compute-engine"]);
    expect(googleComputeEngine.wrappingKeyBits).toEqual([2048]);
    // RSA-2048 (112-bit) is below 128 bits for an AES-256 secret: a warning, never a refusal.
    expect(plan.warnings.join(" ")).toMatch(/112-bit/);
    expect(plan.warnings.join(" ")).not.toMatch(/only unwraps/);
  });

  test("accepts the seed's other algorithms with a warning saying what Google accepts", () => {
    expect(googleComputeEngine.plan(req({ algorithm: "RSAES_OAEP_SHA_256" })).warnings.join(" ")).toMatch(/only unwraps RSAES_OAEP_SHA_1/);
    expect(planFailure(() => googleComputeEngine.plan(req({ algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    expect(googleComputeEngine.plan(req({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/RSAES_OAEP_SHA_1/);
  });

  test("warns when the wrapping key is a bare public key rather than Google's certificate", () => {
    expect(googleComputeEngine.plan(req({ wrappingKey: wk[2048]! })).warnings.join(" ")).toMatch(/csek-ingress/);
  });

  test("refuses a missing or unknown algorithm, other key types, other sizes, EC keys, expired certificates", () => {
    expect(planFailure(() => googleComputeEngine.plan(req({ algorithm: undefined }))).code).toBe("ERR_USAGE");
    expect(planFailure(() => googleComputeEngine.plan(req({ algorithm: "RSA_AES_KEY_WRAP_SHA_1" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    for (const keyType of ["AES-128", "RSA-2048", "EC-NISTP256", "HMAC-256"]) {
      expect(planFailure(() => googleComputeEngine.plan(req({ keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
      expect(planFailure(() => googleComputeEngine.plan(req({ keyType }))).message).toMatch(new RegExp(`${keyType}.*Accepted: AES-256`));
    }
    for (const bits of [3072, 4096]) {
      expect(planFailure(() => googleComputeEngine.plan(req({ wrappingKey: wk[bits]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    }
    expect(planFailure(() => googleComputeEngine.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(planFailure(() => googleComputeEngine.plan(req({ wrappingKey: expired2048 }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(googleComputeEngine.plan(req({ wrappingKey: expired2048, allowInvalidCertificate: true })).warnings.join(" ")).toMatch(/expired/);
    expect(planFailure(() => googleComputeEngine.plan(req({ provider: "google-cloud-key-management" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
    expect(planFailure(() => googleComputeEngine.plan(req({ keyName: "a/b" }))).code).toBe("ERR_KEY_NAME_INVALID");
  });
});

describe("googleCloudKms.plan", () => {
  const req = (over: Partial<ExportRequest>): ExportRequest => ({
    provider: "google-cloud-key-management",
    keyName: "kms-k",
    wrappingKey: wk[3072]!,
    algorithm: "RSAES_OAEP_SHA_256",
    ...over,
  });

  test("defaults to RSA-2048 and maps seed names to Google import methods", () => {
    const plan = googleCloudKms.plan(req({}));
    expect(plan).toMatchObject({ keyType: "RSA-2048", algorithm: "RSAES_OAEP_SHA_256", extra: { importMethod: "RSA_OAEP_3072_SHA256_AES_256" } });
    expect(googleCloudKms.plan(req({ algorithm: "RSAES_OAEP_SHA_1", wrappingKey: wk[4096]! })).extra.importMethod).toBe("RSA_OAEP_4096_SHA1_AES_256");
    expect(googleCloudKms.plan(req({ algorithm: "RSA_OAEP_3072_SHA256", keyType: "AES-256" })).extra.importMethod).toBe("RSA_OAEP_3072_SHA256");
    expect(googleCloudKms.defaultKeyType).toBe("RSA-2048");
    expect(googleCloudKms.wrappingKeyBits).toEqual([3072, 4096]);
  });

  test("accepts secp256k1, AES-256 and HMAC targets", () => {
    for (const keyType of ["EC-SECP256K1", "AES-256", "HMAC-256", "HMAC-512"]) {
      expect(googleCloudKms.plan(req({ keyType })).keyType).toBe(keyType);
    }
  });

  test("refuses a missing or unknown algorithm (ERR_USAGE / ERR_ALGORITHM_UNSUPPORTED), listing the accepted ones", () => {
    expect(planFailure(() => googleCloudKms.plan(req({ algorithm: undefined }))).code).toBe("ERR_USAGE");
    for (const algorithm of ["RSAES_PKCS1_V1_5", "RSA_AES_KEY_WRAP_SHA_256", "RSA_OAEP_2048_SHA256"]) {
      expect(planFailure(() => googleCloudKms.plan(req({ algorithm }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
      expect(planFailure(() => googleCloudKms.plan(req({ algorithm }))).message).toContain(GCKMS_ALGORITHMS.join(", "));
    }
  });

  test("refuses key pairs under the direct RSA_OAEP_*_SHA256 methods", () => {
    for (const keyType of ["RSA-2048", "EC-NISTP256", "EC-SECP256K1"]) {
      expect(planFailure(() => googleCloudKms.plan(req({ algorithm: "RSA_OAEP_3072_SHA256", keyType }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    }
  });

  test("refuses key types Cloud KMS does not import", () => {
    for (const keyType of ["EC-NISTP521", "AES-128", "AES-192"]) {
      expect(planFailure(() => googleCloudKms.plan(req({ keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    }
    expect(GCKMS_KEY_TYPES).not.toContain("EC-NISTP521");
  });

  test("refuses RSA-2048 wrapping keys, sizes that contradict the import method, EC keys", () => {
    expect(planFailure(() => googleCloudKms.plan(req({ wrappingKey: wk[2048]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => googleCloudKms.plan(req({ algorithm: "RSA_OAEP_4096_SHA256_AES_256", wrappingKey: wk[3072]! }))).code).toBe(
      "ERR_WRAPPING_KEY_SIZE",
    );
    expect(planFailure(() => googleCloudKms.plan(req({ algorithm: "RSA_OAEP_3072_SHA1_AES_256", wrappingKey: wk[4096]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => googleCloudKms.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
  });

  test("refuses wrapping keys weaker than the target (P-384 and RSA-4096 need RSA-4096)", () => {
    for (const keyType of ["EC-NISTP384", "RSA-4096"]) {
      expect(planFailure(() => googleCloudKms.plan(req({ keyType }))).code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
      expect(planFailure(() => googleCloudKms.plan(req({ keyType }))).message).toMatch(/128-bit.*RSA-4096/);
      expect(googleCloudKms.plan(req({ keyType, allowWeakWrappingKey: true })).warnings.join(" ")).toMatch(/128-bit/);
      expect(googleCloudKms.plan(req({ keyType, wrappingKey: wk[4096]! })).warnings).toEqual([]);
    }
  });

  test("refuses a not-yet-valid certificate", () => {
    expect(planFailure(() => googleCloudKms.plan(req({ wrappingKey: future3072 }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  });
});
