/**
 * Issue 18 (BYOK to more clouds), OCI Vault: ociVault.plan() accepts exactly what OCI imports and
 * refuses everything else with a usage code before any key exists; the key shape it derives gives
 * the length in bytes; the artefact names are known from the plan alone.
 */
import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { OCI_ALGORITHMS, OCI_KEY_TYPES, ociKeyShape, ociVault } from "@ciop/providers-oci";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;
let futureCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("oci-plan");
  wk = rsaWrappingKeys(dir, [2048, 3072, 4096]);
  ecKey = ecWrappingKey(dir);
  ({ expired: expiredCert, future: futureCert } = certificatePair(opensslRsa(dir, 4096)));
});

function req(over: Partial<ExportRequest>): ExportRequest {
  return { provider: "oci", keyName: "plan-k", wrappingKey: wk[4096]!, algorithm: "RSA_OAEP_AES_SHA256", ...over };
}

describe("ociVault.plan accepts", () => {
  test("the default: an AES-256 target under the vault's RSA-4096 wrapping key, with the PCI note", () => {
    const plan = ociVault.plan(req({}));
    expect(plan).toMatchObject({ provider: "oci", keyName: "plan-k", keyType: "AES-256", algorithm: "RSA_OAEP_AES_SHA256" });
    expect(ociVault.names).toEqual(["oci"]);
    expect(ociVault.algorithms).toEqual(["RSA_OAEP_AES_SHA256", "RSA_OAEP_SHA256"]);
    expect(ociVault.keyTypes).toEqual(["AES-128", "AES-192", "AES-256", "RSA-2048", "RSA-3072", "RSA-4096"]);
    expect(ociVault.wrappingKeyBits).toEqual([4096]);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(/PCI.*AES-128/);
  });

  test("AES keys with both algorithms; RSA keys with RSA_OAEP_AES_SHA256; AES-128 and RSA keys without a warning", () => {
    for (const keyType of ["AES-128", "AES-192", "AES-256"]) {
      for (const algorithm of OCI_ALGORITHMS) expect(ociVault.plan(req({ keyType, algorithm })).keyType).toBe(keyType);
    }
    for (const keyType of ["AES-128", "RSA-2048", "RSA-3072", "RSA-4096"]) {
      expect(ociVault.plan(req({ keyType })).warnings).toEqual([]);
    }
  });

  test("the key shape gives OCI's algorithm and the length in bytes, and the three file names come from the plan", () => {
    expect(OCI_KEY_TYPES.map((t) => [t, ociKeyShape(t)])).toEqual([
      ["AES-128", { algorithm: "AES", length: 16 }],
      ["AES-192", { algorithm: "AES", length: 24 }],
      ["AES-256", { algorithm: "AES", length: 32 }],
      ["RSA-2048", { algorithm: "RSA", length: 256 }],
      ["RSA-3072", { algorithm: "RSA", length: 384 }],
      ["RSA-4096", { algorithm: "RSA", length: 512 }],
    ]);
    expect(ociVault.outputFiles(ociVault.plan(req({ keyName: "orders" })))).toEqual([
      "orders.keymaterial.b64",
      "orders.wrapped-import-key.json",
      "orders.key-shape.json",
    ]);
  });

  test("an expired certificate only with allowInvalidCertificate, with a warning", () => {
    const plan = ociVault.plan(req({ keyType: "AES-128", wrappingKey: expiredCert, allowInvalidCertificate: true }));
    expect(plan.warnings.join(" ")).toMatch(/expired/);
  });
});

describe("ociVault.plan refuses", () => {
  test("any provider option (ERR_USAGE) naming it: OCI takes none", () => {
    for (const providerOptions of [{ protectionMode: "SOFTWARE" }, { kek: "x" }]) {
      const f = planFailure(() => ociVault.plan(req({ providerOptions })));
      expect(f.code).toBe("ERR_USAGE");
      expect(f.message).toContain(`OCI Vault takes no option "${Object.keys(providerOptions)[0]}"`);
    }
  });

  test("a missing wrapping algorithm (ERR_USAGE) listing the accepted ones", () => {
    const f = planFailure(() => ociVault.plan(req({ algorithm: undefined })));
    expect(f.code).toBe("ERR_USAGE");
    expect(f.message).toContain("RSA_OAEP_AES_SHA256, RSA_OAEP_SHA256");
  });

  test("other algorithms (ERR_ALGORITHM_UNSUPPORTED) naming them", () => {
    for (const algorithm of ["RSA_AES_KEY_WRAP_SHA_256", "RSAES_OAEP_SHA_256", "RSA_OAEP_AES_SHA1", "rsa_oaep_sha256"]) {
      const f = planFailure(() => ociVault.plan(req({ algorithm })));
      expect(f.code).toBe("ERR_ALGORITHM_UNSUPPORTED");
      expect(f.message).toContain(algorithm);
    }
  });

  test("RSA keys with RSA_OAEP_SHA256 (ERR_ALGORITHM_UNSUPPORTED), pointing at RSA_OAEP_AES_SHA256", () => {
    for (const keyType of ["RSA-2048", "RSA-3072", "RSA-4096"]) {
      const f = planFailure(() => ociVault.plan(req({ keyType, algorithm: "RSA_OAEP_SHA256" })));
      expect(f.code).toBe("ERR_ALGORITHM_UNSUPPORTED");
      expect(f.message).toContain("RSA_OAEP_AES_SHA256");
    }
  });

  test("EC keys (ERR_KEY_TYPE_UNSUPPORTED, saying OCI does not import ECDSA keys) and other key types", () => {
    for (const keyType of ["EC-NISTP256", "EC-NISTP384", "EC-NISTP521", "EC-SECP256K1"]) {
      const f = planFailure(() => ociVault.plan(req({ keyType })));
      expect(f.code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
      expect(f.message).toMatch(/ECDSA keys cannot be imported/);
    }
    for (const keyType of ["HMAC-256", "HMAC-160", "ED25519", "AES-512", "aes-256"]) {
      const f = planFailure(() => ociVault.plan(req({ keyType })));
      expect(f.code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
      expect(f.message).toContain(keyType);
    }
  });

  test("wrapping keys other than RSA-4096: EC (ERR_WRAPPING_KEY_INVALID), RSA-2048/3072 (ERR_WRAPPING_KEY_SIZE)", () => {
    expect(planFailure(() => ociVault.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    for (const bits of [2048, 3072]) {
      const f = planFailure(() => ociVault.plan(req({ wrappingKey: wk[bits]!, allowWeakWrappingKey: true })));
      expect(f.code).toBe("ERR_WRAPPING_KEY_SIZE");
      expect(f.message).toMatch(new RegExp(`${bits}.*4096`));
    }
  });

  test("expired and not-yet-valid certificates (ERR_CERTIFICATE_NOT_VALID)", () => {
    expect(planFailure(() => ociVault.plan(req({ wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(planFailure(() => ociVault.plan(req({ wrappingKey: futureCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  });

  test("another provider's name and unsafe key names", () => {
    expect(planFailure(() => ociVault.plan(req({ provider: "oracle" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
    for (const keyName of ["", "../etc", "a/b", ".hidden", "x".repeat(129)]) {
      expect(planFailure(() => ociVault.plan(req({ keyName }))).code).toBe("ERR_KEY_NAME_INVALID");
    }
  });
});
