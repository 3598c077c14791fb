import { parseWrappingKey, type ExportRequest, type WrappingKey } from "@ciop/wrap";
import { alibabaKms, ALIBABA_ALGORITHMS } from "@ciop/providers-alibaba";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, scratchDir } from "@ciop/testkit";

let rsa2048: WrappingKey;
let rsa3072: WrappingKey;
let ecKey: WrappingKey;
let expired: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("ali-plan");
  const pair = opensslRsa(dir, 2048);
  rsa2048 = parseWrappingKey(pair.spki);
  rsa3072 = parseWrappingKey(opensslRsa(dir, 3072).spki);
  ecKey = ecWrappingKey(dir);
  ({ expired } = certificatePair(pair));
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "alibaba", keyName: "ali-k", wrappingKey: rsa2048, algorithm: "RSAES_OAEP_SHA_256", ...over };
}

test("symmetric: AES-256 (default) with the OAEP algorithms; a strength warning under RSA-2048", () => {
  for (const algorithm of ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]) {
    const plan = alibabaKms.plan(req({ algorithm }));
    expect(plan).toMatchObject({ provider: "alibaba", keyType: "AES-256", algorithm });
    expect(plan.warnings.join(" ")).toMatch(/112-bit/);
  }
  expect(alibabaKms.names).toEqual(["alibaba"]);
  expect(alibabaKms.algorithms).toEqual(ALIBABA_ALGORITHMS);
  expect(alibabaKms.wrappingKeyBits).toEqual([2048]);
});

test("asymmetric: RSA-2048/3072, P-256 and secp256k1 with RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", () => {
  const algorithm = "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD";
  expect(alibabaKms.plan(req({ algorithm, keyType: "RSA-2048" })).warnings).toEqual([]);
  for (const keyType of ["RSA-3072", "EC-NISTP256", "EC-SECP256K1"]) {
    // Alibaba offers nothing above RSA-2048: allowed, with a note that the transfer is capped at 112 bits.
    expect(alibabaKms.plan(req({ algorithm, keyType })).warnings.join(" ")).toMatch(/no larger wrapping key/);
  }
});

test("PKCS#1 v1.5 only with allowLegacy, with a warning", () => {
  expect(planFailure(() => alibabaKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
  expect(alibabaKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/legacy/);
});

test("refuses algorithm x key type mismatches", () => {
  for (const keyType of ["RSA-2048", "EC-NISTP256"]) {
    expect(planFailure(() => alibabaKms.plan(req({ keyType }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    expect(planFailure(() => alibabaKms.plan(req({ keyType }))).message).toContain("RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD");
  }
  expect(planFailure(() => alibabaKms.plan(req({ algorithm: "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", keyType: "AES-256" }))).code).toBe(
    "ERR_ALGORITHM_UNSUPPORTED",
  );
});

test("refuses a missing or unknown algorithm, unsupported key types", () => {
  expect(planFailure(() => alibabaKms.plan(req({ algorithm: undefined }))).code).toBe("ERR_USAGE");
  expect(planFailure(() => alibabaKms.plan(req({ algorithm: "SM2PKE" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
  for (const keyType of ["AES-128", "RSA-4096", "EC-NISTP384", "EC-NISTP521", "HMAC-256"]) {
    expect(planFailure(() => alibabaKms.plan(req({ keyType, algorithm: "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD" }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  }
});

test("refuses wrapping keys other than RSA-2048, and expired certificates", () => {
  expect(planFailure(() => alibabaKms.plan(req({ wrappingKey: rsa3072 }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
  expect(planFailure(() => alibabaKms.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
  expect(planFailure(() => alibabaKms.plan(req({ wrappingKey: expired }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  expect(planFailure(() => alibabaKms.plan(req({ provider: "aws" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
});
