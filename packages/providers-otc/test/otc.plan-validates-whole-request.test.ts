/**
 * Issue 18 (BYOK to more clouds), `otc` and `huawei`: plan() validates the whole request against
 * Open Telekom Cloud's and Huawei Cloud's import rules before any key exists, the modules' tables
 * are theirs, and the files are named before the key exists (two for key pairs). Before this
 * package neither module existed.
 */
import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { huaweiKms, otcKms } from "@ciop/providers-otc";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("otc-plan");
  wk = rsaWrappingKeys(dir, [1024, 2048, 3072]);
  ecKey = ecWrappingKey(dir);
  expiredCert = certificatePair(opensslRsa(dir, 2048)).expired;
});

function req(provider: string, over: Partial<ExportRequest>): ExportRequest {
  return { provider, keyName: "plan-k", wrappingKey: wk[2048]!, algorithm: "RSAES_OAEP_SHA_256", ...over };
}

const PAIRS = ["RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384"];

describe("the modules' tables", () => {
  test("otc and huawei: names, algorithms, key types, RSA-2048 wrapping key", () => {
    expect(otcKms.names).toEqual(["otc"]);
    expect(huaweiKms.names).toEqual(["huawei"]);
    expect(otcKms.algorithms).toEqual(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]);
    expect(huaweiKms.algorithms).toEqual(["RSAES_OAEP_SHA_256"]);
    for (const m of [otcKms, huaweiKms]) {
      expect(m.keyTypes).toEqual(["AES-256", ...PAIRS]);
      expect(m.defaultKeyType).toBe("AES-256");
      expect(m.wrappingKeyBits).toEqual([2048]);
    }
  });
});

describe.each([
  ["otc", otcKms],
  ["huawei", huaweiKms],
] as const)("%s plan", (name, module) => {
  test("AES-256 by default, one file; key pairs under RSAES_OAEP_SHA_256, two files", () => {
    const plan = module.plan(req(name, {}));
    expect(plan).toMatchObject({ provider: name, keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_256" });
    expect(module.outputFiles(plan)).toEqual(["plan-k-encrypted_key_material.b64"]);
    for (const keyType of PAIRS) {
      const pair = module.plan(req(name, { keyType }));
      expect(module.outputFiles(pair)).toEqual(["plan-k-encrypted_key_material.b64", "plan-k-encrypted_privatekey.b64"]);
      // Only RSA-2048 is as weak as the wrapping key; the rest get the capped-strength note.
      expect(/issues no larger wrapping key/.test(pair.warnings.join(" "))).toBe(keyType !== "RSA-2048");
    }
  });

  test("refuses SM2 and SM4, HMAC, P-521 and secp256k1 saying why; other types; other wrapping keys", () => {
    expect(planFailure(() => module.plan(req(name, { algorithm: "SM2_ENCRYPT" })))).toEqual({
      code: "ERR_ALGORITHM_UNSUPPORTED",
      message: expect.stringMatching(/SM2 encryption/),
    });
    expect(planFailure(() => module.plan(req(name, { keyType: "SM4" })))).toEqual({ code: "ERR_KEY_TYPE_UNSUPPORTED", message: expect.stringMatching(/SM4/) });
    for (const keyType of ["HMAC-256", "HMAC-384", "HMAC-512"]) {
      expect(planFailure(() => module.plan(req(name, { keyType })))).toEqual({ code: "ERR_KEY_TYPE_UNSUPPORTED", message: expect.stringMatching(/HMAC/) });
    }
    for (const keyType of ["EC-NISTP521", "EC-SECP256K1"]) {
      expect(planFailure(() => module.plan(req(name, { keyType })))).toEqual({
        code: "ERR_KEY_TYPE_UNSUPPORTED",
        message: expect.stringMatching(/P-256 and P-384/),
      });
    }
    for (const keyType of ["AES-128", "AES-192", "HMAC-224"]) {
      expect(planFailure(() => module.plan(req(name, { keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    }
    expect(planFailure(() => module.plan(req(name, { wrappingKey: wk[3072]! })))).toEqual({
      code: "ERR_WRAPPING_KEY_SIZE",
      message: expect.stringMatching(/3072.*2048/),
    });
    expect(planFailure(() => module.plan(req(name, { wrappingKey: wk[1024]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => module.plan(req(name, { wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(planFailure(() => module.plan(req(name, { wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(planFailure(() => module.plan(req(name, { providerOptions: { project_id: "p" } })))).toEqual({
      code: "ERR_USAGE",
      message: expect.stringContaining('"project_id"'),
    });
    expect(planFailure(() => module.plan(req(name, { algorithm: undefined }))).code).toBe("ERR_USAGE");
  });
});

describe("algorithm x key type", () => {
  test("otc: RSAES_OAEP_SHA_1 and RSAES_PKCS1_V1_5 carry AES-256 only; PKCS#1 v1.5 needs allowLegacy", () => {
    expect(otcKms.plan(req("otc", { algorithm: "RSAES_OAEP_SHA_1" })).warnings.join(" ")).toMatch(/console wizard offers only RSAES_OAEP_SHA_256/);
    expect(otcKms.plan(req("otc", { algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/legacy/);
    expect(planFailure(() => otcKms.plan(req("otc", { algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    for (const keyType of PAIRS) {
      for (const algorithm of ["RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]) {
        expect(planFailure(() => otcKms.plan(req("otc", { algorithm, keyType, allowLegacy: true })))).toEqual({
          code: "ERR_ALGORITHM_UNSUPPORTED",
          message: expect.stringContaining("only with RSAES_OAEP_SHA_256"),
        });
      }
    }
  });

  test("huawei: only RSAES_OAEP_SHA_256; the names only OTC lists say so", () => {
    for (const algorithm of ["RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]) {
      expect(planFailure(() => huaweiKms.plan(req("huawei", { algorithm, allowLegacy: true })))).toEqual({
        code: "ERR_ALGORITHM_UNSUPPORTED",
        message: expect.stringContaining("provider otc"),
      });
    }
  });
});
