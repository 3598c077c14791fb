/**
 * Issue 18 (BYOK to more clouds), `tencent`: plan() validates the whole request against Tencent
 * Cloud KMS's rules before any key exists, and the module's tables are Tencent's. Before this
 * package there was no `tencent` module.
 */
import { planExport, type ExportRequest, type WrappingKey } from "@ciop/wrap";
import { tencentKms, TENCENT_ALGORITHMS } from "@ciop/providers-tencent";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let spki2048: Uint8Array;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("tencent-plan");
  wk = rsaWrappingKeys(dir, [1024, 2048, 4096]);
  spki2048 = opensslRsa(dir, 2048).spki;
  ecKey = ecWrappingKey(dir);
  expiredCert = certificatePair(opensslRsa(dir, 2048)).expired;
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "tencent", keyName: "plan-k", wrappingKey: wk[2048]!, algorithm: "RSAES_OAEP_SHA_256", ...over };
}

describe("tencentKms.plan accepts", () => {
  test("AES-256 by default, with Tencent's names and tables", () => {
    const plan = tencentKms.plan(req({}));
    expect(plan).toMatchObject({ provider: "tencent", keyName: "plan-k", keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_256" });
    expect(tencentKms.names).toEqual(["tencent"]);
    expect(tencentKms.algorithms).toEqual(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]);
    expect(tencentKms.keyTypes).toEqual(["AES-256"]);
    expect(tencentKms.wrappingKeyBits).toEqual([2048]);
    expect(tencentKms.outputFiles(plan)).toEqual(["plan-k-EncryptedKeyMaterial.b64"]);
    // The only wrapping key Tencent issues is RSA-2048 (112-bit): said, not refused.
    expect(plan.warnings.join(" ")).toMatch(/112-bit/);
  });

  test("the wrapping key as GetParametersForImport returns it: base64 text of the DER public key", () => {
    const { plan, files } = planExport(tencentKms, { ...req({}), wrappingKey: Buffer.from(spki2048).toString("base64") });
    expect(plan.wrappingKey).toMatchObject({ type: "RSA", bits: 2048 });
    expect(files).toEqual(["plan-k-EncryptedKeyMaterial.b64"]);
  });

  test("RSAES_PKCS1_V1_5 only with allowLegacy, with a warning; an expired certificate only with the override", () => {
    expect(tencentKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/legacy/);
    expect(tencentKms.plan(req({ wrappingKey: expiredCert, allowInvalidCertificate: true })).warnings.join(" ")).toMatch(/expired/);
  });
});

describe("tencentKms.plan refuses", () => {
  test("no algorithm (ERR_USAGE) listing Tencent's, an unknown one naming it", () => {
    expect(planFailure(() => tencentKms.plan(req({ algorithm: undefined })))).toEqual({
      code: "ERR_USAGE",
      message: expect.stringContaining(TENCENT_ALGORITHMS.join(", ")),
    });
    expect(planFailure(() => tencentKms.plan(req({ algorithm: "RSAES_OAEP_SHA_512" })))).toEqual({
      code: "ERR_ALGORITHM_UNSUPPORTED",
      message: expect.stringContaining("RSAES_OAEP_SHA_512"),
    });
  });

  test("SM2PKE / SM2_ENCRYPT and SM4 with the SM-CRYPTO reason, RSA-AES names with the symmetric-only reason", () => {
    for (const algorithm of ["SM2PKE", "SM2_ENCRYPT"]) {
      expect(planFailure(() => tencentKms.plan(req({ algorithm })))).toEqual({
        code: "ERR_ALGORITHM_UNSUPPORTED",
        message: expect.stringMatching(/SM-CRYPTO.*SM4/),
      });
    }
    expect(planFailure(() => tencentKms.plan(req({ keyType: "SM4" })))).toEqual({
      code: "ERR_KEY_TYPE_UNSUPPORTED",
      message: expect.stringMatching(/SM-CRYPTO.*SM4/),
    });
    for (const algorithm of ["RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1"]) {
      expect(planFailure(() => tencentKms.plan(req({ algorithm })))).toEqual({
        code: "ERR_ALGORITHM_UNSUPPORTED",
        message: expect.stringMatching(/only symmetric/),
      });
    }
  });

  test("legacy PKCS#1 v1.5 without the override; key types other than AES-256", () => {
    expect(planFailure(() => tencentKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    for (const keyType of ["AES-128", "HMAC-256", "RSA-2048", "EC-NISTP256"]) {
      expect(planFailure(() => tencentKms.plan(req({ keyType })))).toEqual({ code: "ERR_KEY_TYPE_UNSUPPORTED", message: expect.stringContaining(keyType) });
    }
  });

  test("wrapping keys other than RSA-2048, expired certificates, provider options, other names", () => {
    expect(planFailure(() => tencentKms.plan(req({ wrappingKey: wk[4096]! })))).toEqual({
      code: "ERR_WRAPPING_KEY_SIZE",
      message: expect.stringMatching(/4096.*2048/),
    });
    expect(planFailure(() => tencentKms.plan(req({ wrappingKey: wk[1024]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => tencentKms.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(planFailure(() => tencentKms.plan(req({ wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(planFailure(() => tencentKms.plan(req({ providerOptions: { kek: "x" } })))).toEqual({
      code: "ERR_USAGE",
      message: expect.stringContaining('"kek"'),
    });
    expect(planFailure(() => tencentKms.plan(req({ provider: "aws" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
    expect(planFailure(() => tencentKms.plan(req({ keyName: "../x" }))).code).toBe("ERR_KEY_NAME_INVALID");
  });
});
