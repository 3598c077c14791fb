/**
 * Issue 18 (BYOK to more clouds), `otc` and `huawei`: plan() validates the whole request against
 * Open Telekom Cloud's and Huawei Cloud's import rules before any key exists, the modules' tables
 * are theirs, and the files are named before the key exists (two for key pairs). Before this
 * package neither module existed.
 */
import { CiopError } from "@ciop/core";
import { parseWrappingKey, type ExportRequest, type WrappingKey } from "@ciop/wrap";
import { huaweiKms, otcKms } from "@ciop/providers-otc";
import { opensslEcSpki, opensslRsa, pythonCertificate, scratchDir } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("otc-plan");
  wk = {};
  for (const bits of [1024, 2048, 3072]) wk[bits] = parseWrappingKey(opensslRsa(dir, bits).spki);
  ecKey = parseWrappingKey(opensslEcSpki(dir));
  expiredCert = parseWrappingKey(pythonCertificate(opensslRsa(dir, 2048).privPath, "expired"), { allowInvalidCertificate: true });
});

function req(provider: string, over: Partial<ExportRequest>): ExportRequest {
  return { provider, keyName: "plan-k", wrappingKey: wk[2048]!, algorithm: "RSAES_OAEP_SHA_256", ...over };
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(CiopError.isInstance(err)).toBe(true);
    return { code: (err as CiopError).code, message: (err as Error).message };
  }
  throw new Error("expected plan() to throw");
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
    expect(refusal(() => module.plan(req(name, { algorithm: "SM2_ENCRYPT" })))).toEqual({
      code: "ERR_ALGORITHM_UNSUPPORTED",
      message: expect.stringMatching(/SM2 encryption/),
    });
    expect(refusal(() => module.plan(req(name, { keyType: "SM4" })))).toEqual({ code: "ERR_KEY_TYPE_UNSUPPORTED", message: expect.stringMatching(/SM4/) });
    for (const keyType of ["HMAC-256", "HMAC-384", "HMAC-512"]) {
      expect(refusal(() => module.plan(req(name, { keyType })))).toEqual({ code: "ERR_KEY_TYPE_UNSUPPORTED", message: expect.stringMatching(/HMAC/) });
    }
    for (const keyType of ["EC-NISTP521", "EC-SECP256K1"]) {
      expect(refusal(() => module.plan(req(name, { keyType })))).toEqual({
        code: "ERR_KEY_TYPE_UNSUPPORTED",
        message: expect.stringMatching(/P-256 and P-384/),
      });
    }
    for (const keyType of ["AES-128", "AES-192", "HMAC-224"]) {
      expect(refusal(() => module.plan(req(name, { keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    }
    expect(refusal(() => module.plan(req(name, { wrappingKey: wk[3072]! })))).toEqual({
      code: "ERR_WRAPPING_KEY_SIZE",
      message: expect.stringMatching(/3072.*2048/),
    });
    expect(refusal(() => module.plan(req(name, { wrappingKey: wk[1024]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(refusal(() => module.plan(req(name, { wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(refusal(() => module.plan(req(name, { wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(refusal(() => module.plan(req(name, { providerOptions: { project_id: "p" } })))).toEqual({
      code: "ERR_USAGE",
      message: expect.stringContaining('"project_id"'),
    });
    expect(refusal(() => module.plan(req(name, { algorithm: undefined }))).code).toBe("ERR_USAGE");
  });
});

describe("algorithm x key type", () => {
  test("otc: RSAES_OAEP_SHA_1 and RSAES_PKCS1_V1_5 carry AES-256 only; PKCS#1 v1.5 needs allowLegacy", () => {
    expect(otcKms.plan(req("otc", { algorithm: "RSAES_OAEP_SHA_1" })).warnings.join(" ")).toMatch(/console wizard offers only RSAES_OAEP_SHA_256/);
    expect(otcKms.plan(req("otc", { algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true })).warnings.join(" ")).toMatch(/legacy/);
    expect(refusal(() => otcKms.plan(req("otc", { algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    for (const keyType of PAIRS) {
      for (const algorithm of ["RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]) {
        expect(refusal(() => otcKms.plan(req("otc", { algorithm, keyType, allowLegacy: true })))).toEqual({
          code: "ERR_ALGORITHM_UNSUPPORTED",
          message: expect.stringContaining("only with RSAES_OAEP_SHA_256"),
        });
      }
    }
  });

  test("huawei: only RSAES_OAEP_SHA_256; the names only OTC lists say so", () => {
    for (const algorithm of ["RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]) {
      expect(refusal(() => huaweiKms.plan(req("huawei", { algorithm, allowLegacy: true })))).toEqual({
        code: "ERR_ALGORITHM_UNSUPPORTED",
        message: expect.stringContaining("provider otc"),
      });
    }
  });
});
