import { CiopError } from "@ciop/core";
import { checkWrappingStrength, keyTypeStrength, rsaStrength } from "../src/index.js";

const rsa = (bits: number) => ({ type: "RSA" as const, bits });

function refusal(fn: () => unknown): CiopError {
  try {
    fn();
  } catch (err) {
    if (CiopError.isInstance(err)) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("security strength (SP 800-57)", () => {
  it("rates keys as the table says", () => {
    expect([1024, 2048, 3072, 4096].map(rsaStrength)).toEqual([80, 112, 128, 152]);
    expect((["EC-NISTP256", "EC-SECP256K1", "EC-NISTP384", "EC-NISTP521"] as const).map(keyTypeStrength)).toEqual([128, 128, 192, 256]);
    expect((["AES-128", "AES-192", "AES-256"] as const).map(keyTypeStrength)).toEqual([128, 192, 256]);
    expect((["HMAC-160", "HMAC-224", "HMAC-256", "HMAC-384", "HMAC-512"] as const).map(keyTypeStrength)).toEqual([160, 224, 256, 256, 256]);
    expect((["RSA-2048", "RSA-3072", "RSA-4096"] as const).map(keyTypeStrength)).toEqual([112, 128, 152]);
  });
});

describe("checkWrappingStrength", () => {
  it("accepts a wrapping key at least as strong as a key-pair target", () => {
    expect(checkWrappingStrength({ wrappingKey: rsa(3072), targetType: "EC-NISTP256" })).toEqual([]);
    expect(checkWrappingStrength({ wrappingKey: rsa(2048), targetType: "RSA-2048" })).toEqual([]);
  });

  it("refuses RSA-2048 for an EC P-256 target, naming both strengths and the size needed", () => {
    const err = refusal(() => checkWrappingStrength({ wrappingKey: rsa(2048), targetType: "EC-NISTP256", providerMaxBits: 4096 }));
    expect(err.code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
    expect(err.message).toContain("RSA-2048 offers 112-bit security");
    expect(err.message).toContain("EC-NISTP256 (128-bit security)");
    expect(err.message).toContain("Use an RSA-3072 wrapping key (128-bit security)");
  });

  it("caps the requirement at the provider's strongest key: P-384/P-521/RSA-4096 need RSA-4096", () => {
    for (const t of ["EC-NISTP384", "EC-NISTP521", "RSA-4096"] as const) {
      expect(checkWrappingStrength({ wrappingKey: rsa(4096), targetType: t, providerMaxBits: 4096 })).toEqual([]);
      const err = refusal(() => checkWrappingStrength({ wrappingKey: rsa(3072), targetType: t, providerMaxBits: 4096 }));
      expect(err.code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
      expect(err.message).toContain("RSA-3072 offers 128-bit security");
      expect(err.message).toContain(`${t} (${keyTypeStrength(t)}-bit security)`);
      expect(err.message).toContain("Use an RSA-4096 wrapping key (152-bit security)");
    }
  });

  it("without a provider cap, P-384 would need more than RSA-4096", () => {
    const err = refusal(() => checkWrappingStrength({ wrappingKey: rsa(4096), targetType: "EC-NISTP384" }));
    expect(err.message).toContain("Use an RSA-7680 wrapping key (192-bit security)");
  });

  it("allowWeak turns the refusal into a warning", () => {
    const w = checkWrappingStrength({ wrappingKey: rsa(2048), targetType: "EC-NISTP521", providerMaxBits: 4096, allowWeak: true });
    expect(w).toHaveLength(1);
    expect(w[0]).toContain("112-bit");
    expect(w[0]).toContain("256-bit");
  });

  it("secret targets: a warning (never an error) below 128 bits", () => {
    expect(checkWrappingStrength({ wrappingKey: rsa(2048), targetType: "AES-256" })[0]).toContain("below the 128 bits");
    expect(checkWrappingStrength({ wrappingKey: rsa(3072), targetType: "AES-256" })).toEqual([]);
    expect(checkWrappingStrength({ wrappingKey: rsa(4096), targetType: "HMAC-512" })).toEqual([]);
  });
});
