/**
 * Issue 18 (BYOK to more clouds), `vault-transit` / `openbao`: plan() accepts what transit imports
 * and refuses everything else with its code and a message naming the bad value, before any key
 * exists. (Before this package there was no transit provider: every request was ERR_PROVIDER_UNKNOWN.)
 */
import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { vaultTransit, VAULT_TRANSIT_ALGORITHMS, VAULT_TRANSIT_KEY_TYPES } from "@ciop/providers-vault-transit";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";
import { TRANSIT_TYPE } from "./transit-types.js";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;
let futureCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("vault-transit-plan");
  wk = rsaWrappingKeys(dir, [2048, 3072, 4096]);
  ecKey = ecWrappingKey(dir);
  ({ expired: expiredCert, future: futureCert } = certificatePair(opensslRsa(dir, 4096)));
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "vault-transit", keyName: "plan-k", wrappingKey: wk[4096]!, ...over };
}

describe("vaultTransit.plan accepts", () => {
  test("no algorithm: hash_function SHA256 (transit's default) and an AES-256 key imported as aes256-gcm96", () => {
    const plan = vaultTransit.plan(req({}));
    expect(plan).toMatchObject({ provider: "vault-transit", keyName: "plan-k", keyType: "AES-256", algorithm: "SHA256" });
    expect(plan.extra).toEqual({ transitType: "aes256-gcm96", hashFunction: "SHA256" });
    expect(plan.warnings).toEqual([]);
    expect(vaultTransit.names).toEqual(["vault-transit", "openbao"]);
    expect(vaultTransit.algorithms).toEqual(["SHA256", "SHA1", "SHA384", "SHA512"]);
    expect(vaultTransit.wrappingKeyBits).toEqual([4096]);
    expect(vaultTransit.defaultKeyType).toBe("AES-256");
  });

  test("every hash_function x every importable key type, under both names, with the transit type", () => {
    const types: Readonly<Record<string, string | undefined>> = TRANSIT_TYPE;
    expect([...VAULT_TRANSIT_KEY_TYPES].sort()).toEqual(Object.keys(types).sort());
    for (const provider of ["vault-transit", "openbao"]) {
      for (const algorithm of VAULT_TRANSIT_ALGORITHMS) {
        for (const keyType of VAULT_TRANSIT_KEY_TYPES) {
          const plan = vaultTransit.plan(req({ provider, algorithm, keyType }));
          expect({ keyType, algorithm, extra: plan.extra, warnings: plan.warnings }).toEqual({
            keyType,
            algorithm,
            extra: { transitType: types[keyType], hashFunction: algorithm },
            warnings: [],
          });
        }
      }
    }
  });

  test("declares its two files before any key exists", () => {
    expect(vaultTransit.outputFiles(vaultTransit.plan(req({ keyName: "orders" })))).toEqual(["orders-wrapped", "orders-transit-import.json"]);
  });

  test("an expired certificate only with allowInvalidCertificate, with a warning", () => {
    expect(vaultTransit.plan(req({ wrappingKey: expiredCert, allowInvalidCertificate: true })).warnings.join(" ")).toMatch(/expired/);
  });

  test("a ciop key name that transit cannot use as a key name: a warning, not a refusal", () => {
    expect(vaultTransit.plan(req({ keyName: "orders-" })).warnings.join(" ")).toMatch(/not a valid transit key name/);
  });
});

describe("vaultTransit.plan refuses", () => {
  test("SHA224 (transit takes it; ciop's engines have no SHA-224 OAEP), naming the reason", () => {
    for (const algorithm of ["SHA224", "sha224", "SHA-224"]) {
      const r = planFailure(() => vaultTransit.plan(req({ algorithm })));
      expect(r.code).toBe("ERR_ALGORITHM_UNSUPPORTED");
      expect(r.message).toMatch(/SHA224.*SHA-1, SHA-256, SHA-384 and SHA-512 only/);
    }
  });

  test("other spellings and unknown names (ERR_ALGORITHM_UNSUPPORTED), pointing at transit's spelling", () => {
    const r = planFailure(() => vaultTransit.plan(req({ algorithm: "SHA-256" })));
    expect(r).toEqual({ code: "ERR_ALGORITHM_UNSUPPORTED", message: expect.stringMatching(/"SHA-256" as SHA256, the spelling ciop takes/) });
    for (const algorithm of ["sha256", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256", "MD5", "SHA3-256"]) {
      const x = planFailure(() => vaultTransit.plan(req({ algorithm })));
      expect({ algorithm, code: x.code }).toEqual({ algorithm, code: "ERR_ALGORITHM_UNSUPPORTED" });
      expect(x.message).toContain(`"${algorithm}"`);
      expect(x.message).toContain("SHA256, SHA1, SHA384, SHA512");
    }
  });

  test("an empty algorithm (ERR_USAGE)", () => {
    expect(planFailure(() => vaultTransit.plan(req({ algorithm: "" }))).code).toBe("ERR_USAGE");
  });

  test("key types transit does not import (ERR_KEY_TYPE_UNSUPPORTED), with the reason", () => {
    const reasons: Array<[string, RegExp]> = [
      ["AES-192", /no 192-bit AES/],
      ["HMAC-160", /32 to 512 bytes.*20 bytes/],
      ["HMAC-224", /32 to 512 bytes.*28 bytes/],
      ["EC-SECP256K1", /no secp256k1/],
      ["ED25519", /Accepted: /],
      ["aes-256", /Accepted: /],
    ];
    for (const [keyType, reason] of reasons) {
      const r = planFailure(() => vaultTransit.plan(req({ keyType })));
      expect({ keyType, code: r.code }).toEqual({ keyType, code: "ERR_KEY_TYPE_UNSUPPORTED" });
      expect(r.message).toContain(`"${keyType}"`);
      expect(r.message).toMatch(reason);
    }
  });

  test("any provider option (ERR_USAGE) naming it", () => {
    const r = planFailure(() => vaultTransit.plan(req({ providerOptions: { mount: "transit2" } })));
    expect(r.code).toBe("ERR_USAGE");
    expect(r.message).toMatch(/HashiCorp Vault transit takes no option "mount"/);
    expect(planFailure(() => vaultTransit.plan(req({ provider: "openbao", providerOptions: { kek: "x" } }))).message).toMatch(
      /OpenBao transit takes no option "kek"/,
    );
  });

  test("RSA-2048 and RSA-3072 wrapping keys (ERR_WRAPPING_KEY_SIZE), saying transit's is RSA-4096 and why", () => {
    for (const bits of [2048, 3072]) {
      for (const keyType of ["AES-256", "EC-NISTP256"]) {
        const r = planFailure(() => vaultTransit.plan(req({ wrappingKey: wk[bits]!, keyType, allowWeakWrappingKey: true })));
        expect({ bits, keyType, code: r.code }).toEqual({ bits, keyType, code: "ERR_WRAPPING_KEY_SIZE" });
        expect(r.message).toMatch(new RegExp(`${bits}-bit.*always RSA-4096.*512 bytes`));
      }
    }
  });

  test("an EC wrapping key (ERR_WRAPPING_KEY_INVALID)", () => {
    expect(planFailure(() => vaultTransit.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
  });

  test("expired and not-yet-valid certificates (ERR_CERTIFICATE_NOT_VALID)", () => {
    expect(planFailure(() => vaultTransit.plan(req({ wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(planFailure(() => vaultTransit.plan(req({ wrappingKey: futureCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  });

  test("other providers' names and unsafe key names", () => {
    for (const provider of ["vault", "bao", "aws", "Vault-Transit"]) {
      expect(planFailure(() => vaultTransit.plan(req({ provider }))).code).toBe("ERR_PROVIDER_UNKNOWN");
    }
    for (const keyName of ["", "../etc", "a/b", ".hidden", "x".repeat(129)]) {
      expect(planFailure(() => vaultTransit.plan(req({ keyName }))).code).toBe("ERR_KEY_NAME_INVALID");
    }
  });
});
