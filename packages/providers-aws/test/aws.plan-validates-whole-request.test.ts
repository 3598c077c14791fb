import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { awsKms, AWS_ALGORITHMS, AWS_KEY_TYPES } from "@ciop/providers-aws";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;
let futureCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("aws-plan");
  wk = rsaWrappingKeys(dir, [1024, 2048, 3072, 4096]);
  ecKey = ecWrappingKey(dir);
  ({ expired: expiredCert, future: futureCert } = certificatePair(opensslRsa(dir, 3072)));
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "aws", keyName: "plan-k", wrappingKey: wk[4096]!, algorithm: "RSAES_OAEP_SHA_256", ...over };
}

describe("awsKms.plan accepts", () => {
  test("the seed default: AES-256 target, names and tables as the seed spells them", () => {
    const plan = awsKms.plan(req({}));
    expect(plan).toMatchObject({ provider: "aws", keyName: "plan-k", keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_256" });
    expect(awsKms.names).toEqual(["aws"]);
    expect(awsKms.defaultKeyType).toBe("AES-256");
    expect(awsKms.wrappingKeyBits).toEqual([2048, 3072, 4096]);
    expect(plan.warnings).toEqual([]);
  });

  test("RSA, EC and HMAC targets with RSA_AES_KEY_WRAP and a strong enough wrapping key", () => {
    for (const keyType of AWS_KEY_TYPES) {
      for (const algorithm of ["RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]) {
        expect(awsKms.plan(req({ keyType, algorithm })).keyType).toBe(keyType);
      }
    }
  });

  test("secret targets under RSA-2048 pass with a strength warning", () => {
    const plan = awsKms.plan(req({ wrappingKey: wk[2048]!, keyType: "HMAC-512" }));
    expect(plan.warnings.join(" ")).toMatch(/112-bit/);
  });

  test("RSAES_PKCS1_V1_5 only with allowLegacy, and always with a warning", () => {
    const plan = awsKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true }));
    expect(plan.warnings.join(" ")).toMatch(/no(t| longer)? accepted|has not accepted/);
    expect(plan.warnings.join(" ")).toMatch(/2023/);
  });

  test("an expired certificate only with allowInvalidCertificate, with a warning", () => {
    const plan = awsKms.plan(req({ wrappingKey: expiredCert, allowInvalidCertificate: true }));
    expect(plan.warnings.join(" ")).toMatch(/expired/);
  });

  test("a weak wrapping key for a key pair only with allowWeakWrappingKey, with a warning", () => {
    const plan = awsKms.plan(req({ wrappingKey: wk[2048]!, keyType: "EC-NISTP256", allowWeakWrappingKey: true }));
    expect(plan.warnings.join(" ")).toMatch(/112-bit.*128-bit/);
  });
});

describe("awsKms.plan refuses", () => {
  // Issue 15: provider options are typed per provider; AWS takes none, and one given (here the
  // Azure KEK that used to be a shared request field) is refused instead of being ignored.
  test("any provider option (ERR_USAGE) naming it", () => {
    expect(planFailure(() => awsKms.plan(req({ providerOptions: { kek: "https://v.vault.azure.net/keys/k/1" } }))).code).toBe("ERR_USAGE");
    expect(() => awsKms.plan(req({ providerOptions: { kek: "x" } }))).toThrow(/AWS KMS takes no option "kek"/);
  });
  test("a missing wrapping algorithm (ERR_USAGE) listing the accepted ones", () => {
    expect(planFailure(() => awsKms.plan(req({ algorithm: undefined }))).code).toBe("ERR_USAGE");
    expect(planFailure(() => awsKms.plan(req({ algorithm: undefined }))).message).toContain(AWS_ALGORITHMS.join(", "));
  });

  test("an unknown algorithm (ERR_ALGORITHM_UNSUPPORTED) naming it", () => {
    expect(planFailure(() => awsKms.plan(req({ algorithm: "RSAES_OAEP_SHA_512" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    expect(planFailure(() => awsKms.plan(req({ algorithm: "RSAES_OAEP_SHA_512" }))).message).toContain("RSAES_OAEP_SHA_512");
  });

  test("RSAES_PKCS1_V1_5 without allowLegacy", () => {
    expect(planFailure(() => awsKms.plan(req({ algorithm: "RSAES_PKCS1_V1_5" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
  });

  test("key types AWS does not import (ERR_KEY_TYPE_UNSUPPORTED)", () => {
    for (const keyType of ["AES-128", "AES-192", "HMAC-160", "ED25519"]) {
      expect(planFailure(() => awsKms.plan(req({ keyType, algorithm: "RSA_AES_KEY_WRAP_SHA_256" }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
      expect(planFailure(() => awsKms.plan(req({ keyType }))).message).toContain(keyType);
    }
  });

  test("RSA targets with direct RSAES_OAEP or PKCS#1 v1.5", () => {
    for (const algorithm of ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]) {
      expect(planFailure(() => awsKms.plan(req({ keyType: "RSA-2048", algorithm }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    }
    expect(planFailure(() => awsKms.plan(req({ keyType: "RSA-2048", algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true }))).code).toBe(
      "ERR_ALGORITHM_UNSUPPORTED",
    );
  });

  test("EC targets with PKCS#1 v1.5", () => {
    expect(planFailure(() => awsKms.plan(req({ keyType: "EC-NISTP256", algorithm: "RSAES_PKCS1_V1_5", allowLegacy: true }))).code).toBe(
      "ERR_ALGORITHM_UNSUPPORTED",
    );
  });

  test("P-521 under RSA-2048 RSAES_OAEP: the PKCS#8 does not fit (even with allowWeakWrappingKey)", () => {
    for (const algorithm of ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]) {
      expect(planFailure(() => awsKms.plan(req({ keyType: "EC-NISTP521", algorithm, wrappingKey: wk[2048]!, allowWeakWrappingKey: true }))).code).toBe(
        "ERR_WRAPPING_KEY_SIZE",
      );
    }
  });

  test("an EC wrapping key (ERR_WRAPPING_KEY_INVALID) and an RSA-1024 one (ERR_WRAPPING_KEY_SIZE)", () => {
    expect(planFailure(() => awsKms.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(planFailure(() => awsKms.plan(req({ wrappingKey: wk[1024]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => awsKms.plan(req({ wrappingKey: wk[1024]! }))).message).toMatch(/1024.*2048, 3072, 4096/);
  });

  test("wrapping keys weaker than key-pair targets (ERR_WRAPPING_KEY_TOO_WEAK), naming both strengths", () => {
    const weak: Array<[string, number]> = [
      ["EC-NISTP256", 2048],
      ["EC-SECP256K1", 2048],
      ["EC-NISTP384", 3072],
      ["EC-NISTP521", 3072],
      ["RSA-3072", 2048],
      ["RSA-4096", 3072],
    ];
    for (const [keyType, bits] of weak) {
      const r = req({ keyType, algorithm: "RSA_AES_KEY_WRAP_SHA_256", wrappingKey: wk[bits]! });
      expect(planFailure(() => awsKms.plan(r)).code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
      expect(planFailure(() => awsKms.plan(r)).message).toMatch(/\d+-bit.*\d+-bit/);
    }
  });

  test("expired and not-yet-valid certificates (ERR_CERTIFICATE_NOT_VALID)", () => {
    expect(planFailure(() => awsKms.plan(req({ wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(planFailure(() => awsKms.plan(req({ wrappingKey: futureCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  });

  test("another provider's name and unsafe key names", () => {
    expect(planFailure(() => awsKms.plan(req({ provider: "microsoft-azure" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
    for (const keyName of ["", "../etc", "a/b", ".hidden", "x".repeat(129)]) {
      expect(planFailure(() => awsKms.plan(req({ keyName }))).code).toBe("ERR_KEY_NAME_INVALID");
    }
  });
});
