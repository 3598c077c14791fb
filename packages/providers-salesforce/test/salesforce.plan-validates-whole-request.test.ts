import { parseWrappingKey, type ExportRequest, type WrappingKey } from "@ciop/wrap";
import { salesforceByok, SALESFORCE_ALGORITHMS } from "@ciop/providers-salesforce";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, pythonCertificate, scratchDir } from "@ciop/testkit";

let cert4096: WrappingKey;
let bare4096: WrappingKey;
let expired4096: WrappingKey;
let future4096: WrappingKey;
let rsa2048: WrappingKey;
let rsa3072: WrappingKey;
let ecKey: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("sf-plan");
  const pair = opensslRsa(dir, 4096);
  cert4096 = parseWrappingKey(pythonCertificate(pair.privPath));
  bare4096 = parseWrappingKey(pair.spki);
  ({ expired: expired4096, future: future4096 } = certificatePair(pair));
  rsa2048 = parseWrappingKey(pythonCertificate(opensslRsa(dir, 2048).privPath));
  rsa3072 = parseWrappingKey(opensslRsa(dir, 3072).spki);
  ecKey = ecWrappingKey(dir);
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "salesforce", keyName: "sf-k", wrappingKey: cert4096, algorithm: "RSAES_OAEP_SHA_1", ...over };
}

test("accepts the seed call (AES-256 default, RSAES_OAEP_SHA_1, 4096-bit certificate) without warnings", () => {
  const plan = salesforceByok.plan(req({}));
  expect(plan).toMatchObject({ provider: "salesforce", keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_1", warnings: [] });
  expect(salesforceByok.algorithms).toEqual(SALESFORCE_ALGORITHMS);
  expect(salesforceByok.wrappingKeyBits).toEqual([4096]);
});

test("accepts RSAES_OAEP_SHA_512 silently, RSAES_OAEP_SHA_256 with a warning, PKCS#1 v1.5 only with allowLegacy", () => {
  expect(salesforceByok.plan(req({ algorithm: "RSAES_OAEP_SHA_512" })).warnings).toEqual([]);
  expect(salesforceByok.plan(req({ algorithm: "RSAES_OAEP_SHA_256" })).warnings.join(" ")).toMatch(/SHA-512/);
  expect(planFailure(() => salesforceByok.plan(req({ algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
  expect(salesforceByok.plan(req({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/legacy/);
});

test("warns about a bare public key instead of the BYOK certificate", () => {
  expect(salesforceByok.plan(req({ wrappingKey: bare4096 })).warnings.join(" ")).toMatch(/certificate/);
});

test("refuses a missing or unknown algorithm", () => {
  expect(planFailure(() => salesforceByok.plan(req({ algorithm: undefined }))).code).toBe("ERR_USAGE");
  for (const algorithm of ["RSA_AES_KEY_WRAP_SHA_256", "RSAES_OAEP_SHA_384", "rsaes_oaep_sha_1"]) {
    expect(planFailure(() => salesforceByok.plan(req({ algorithm }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
  }
});

test("refuses other key types", () => {
  for (const keyType of ["AES-128", "HMAC-256", "RSA-2048", "EC-NISTP256"]) {
    expect(planFailure(() => salesforceByok.plan(req({ keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
  }
});

test("refuses wrapping keys that are not RSA-4096 and certificates outside their validity", () => {
  expect(planFailure(() => salesforceByok.plan(req({ wrappingKey: rsa2048 }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
  expect(planFailure(() => salesforceByok.plan(req({ wrappingKey: rsa3072 }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
  expect(planFailure(() => salesforceByok.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
  expect(planFailure(() => salesforceByok.plan(req({ wrappingKey: expired4096 }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  expect(planFailure(() => salesforceByok.plan(req({ wrappingKey: future4096 }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  expect(salesforceByok.plan(req({ wrappingKey: expired4096, allowInvalidCertificate: true })).warnings.join(" ")).toMatch(/expired/);
});

test("refuses other providers and unsafe key names", () => {
  expect(planFailure(() => salesforceByok.plan(req({ provider: "aws" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
  expect(planFailure(() => salesforceByok.plan(req({ keyName: "../sf" }))).code).toBe("ERR_KEY_NAME_INVALID");
});
