import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { azureKeyVault, parseAzureKekId, AZURE_VAULT_KEY_TYPES, type AzureExportOptions } from "@ciop/providers-azure";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

const VAULT_KID = "https://myvault.vault.azure.net/keys/my-kek/0123456789abcdef0123456789abcdef";
const MHSM_KID = "https://contoso-hsm.managedhsm.azure.net/keys/kek1/fedcba9876543210fedcba9876543210";

let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expired: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("azure-plan");
  wk = rsaWrappingKeys(dir, [1024, 2048, 3072, 4096]);
  ecKey = ecWrappingKey(dir);
  ({ expired } = certificatePair(opensslRsa(dir, 2048)));
});

function req(over: Partial<ExportRequest<AzureExportOptions>>): ExportRequest<AzureExportOptions> {
  return { provider: "microsoft-azure", keyName: "az-k", wrappingKey: wk[4096]!, providerOptions: { kek: VAULT_KID }, ...over };
}

describe("parseAzureKekId", () => {
  test("accepts vault and managedhsm identifiers with a version", () => {
    expect(parseAzureKekId(VAULT_KID)).toEqual({
      kid: VAULT_KID,
      container: "myvault",
      containerType: "vault",
      keyName: "my-kek",
      keyVersion: "0123456789abcdef0123456789abcdef",
    });
    expect(parseAzureKekId(MHSM_KID)).toMatchObject({ container: "contoso-hsm", containerType: "managedhsm", keyName: "kek1" });
    // The seed's own example uses the literal word "version".
    expect(parseAzureKekId("https://mykeyvault.vault.azure.net/keys/my-key/version").keyVersion).toBe("version");
  });

  test.each([
    ["http instead of https", "http://myvault.vault.azure.net/keys/k/v1"],
    ["no version", "https://myvault.vault.azure.net/keys/my-kek"],
    ["trailing slash", "https://myvault.vault.azure.net/keys/my-kek/"],
    ["trailing slash after version", "https://myvault.vault.azure.net/keys/my-kek/v1/"],
    ["empty key name", "https://myvault.vault.azure.net/keys//v1"],
    ["extra path segment", "https://myvault.vault.azure.net/keys/k/v1/extra"],
    ["query", "https://myvault.vault.azure.net/keys/k/v1?api-version=7.4"],
    ["fragment", "https://myvault.vault.azure.net/keys/k/v1#x"],
    ["port", "https://myvault.vault.azure.net:443/keys/k/v1"],
    ["user info", "https://user@myvault.vault.azure.net/keys/k/v1"],
    ["secrets, not keys", "https://myvault.vault.azure.net/secrets/k/v1"],
    ["other domain", "https://myvault.vault.azure.com/keys/k/v1"],
    ["look-alike host", "https://myvault.vault.azure.net.evil.example/keys/k/v1"],
    ["unknown container type", "https://myvault.blob.azure.net/keys/k/v1"],
    ["no vault name", "https://vault.azure.net/keys/k/v1"],
    ["vault name too short", "https://ab.vault.azure.net/keys/k/v1"],
    ["vault name too long", `https://${"a".repeat(25)}.vault.azure.net/keys/k/v1`],
    ["double hyphen in vault name", "https://my--vault.vault.azure.net/keys/k/v1"],
    ["leading space", " https://myvault.vault.azure.net/keys/k/v1"],
    ["not a URL", "my-kek"],
    ["bad characters in version", "https://myvault.vault.azure.net/keys/k/v-1"],
  ])("refuses %s (ERR_KID_INVALID)", (_what, kid) => {
    expect(planFailure(() => parseAzureKekId(kid)).code).toBe("ERR_KID_INVALID");
    expect(planFailure(() => azureKeyVault.plan(req({ providerOptions: { kek: kid } }))).code).toBe("ERR_KID_INVALID");
    expect(planFailure(() => azureKeyVault.plan(req({ providerOptions: { kek: kid } }))).message).toContain(JSON.stringify(kid));
  });
});

describe("azureKeyVault.plan", () => {
  test("defaults to RSA-2048, takes no algorithm, carries the kid", () => {
    const plan = azureKeyVault.plan(req({}));
    expect(plan).toMatchObject({
      provider: "microsoft-azure",
      keyType: "RSA-2048",
      algorithm: "CKM_RSA_AES_KEY_WRAP",
      extra: { azureKek: VAULT_KID, containerType: "vault", container: "myvault" },
    });
    expect(azureKeyVault.algorithms).toEqual([]);
    expect(azureKeyVault.defaultKeyType).toBe("RSA-2048");
  });

  test("accepts every vault key type with RSA-4096 and AES only for Managed HSM", () => {
    for (const keyType of AZURE_VAULT_KEY_TYPES) expect(azureKeyVault.plan(req({ keyType })).keyType).toBe(keyType);
    for (const keyType of ["AES-128", "AES-192", "AES-256"]) {
      expect(azureKeyVault.plan(req({ keyType, providerOptions: { kek: MHSM_KID } })).keyType).toBe(keyType);
      expect(planFailure(() => azureKeyVault.plan(req({ keyType }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
      expect(planFailure(() => azureKeyVault.plan(req({ keyType }))).message).toMatch(/Managed HSM/);
    }
  });

  test("refuses HMAC keys and unknown key types", () => {
    for (const keyType of ["HMAC-256", "ED25519"]) {
      expect(planFailure(() => azureKeyVault.plan(req({ keyType, providerOptions: { kek: MHSM_KID } }))).code).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    }
  });

  test("refuses a wrapping algorithm and a missing kid", () => {
    expect(planFailure(() => azureKeyVault.plan(req({ algorithm: "RSAES_OAEP_SHA_1" }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    expect(planFailure(() => azureKeyVault.plan(req({ providerOptions: undefined }))).code).toBe("ERR_USAGE");
  });

  // Issue 15: the KEK travels in Azure's typed provider options (no longer a shared azureKek
  // request field); an option Azure does not know is refused, not ignored.
  test("refuses provider options other than kek", () => {
    const extra = { kek: VAULT_KID, azureKek: VAULT_KID } as unknown as AzureExportOptions;
    expect(planFailure(() => azureKeyVault.plan(req({ providerOptions: extra }))).code).toBe("ERR_USAGE");
    expect(planFailure(() => azureKeyVault.plan(req({ providerOptions: extra }))).message).toMatch(/"azureKek".*Accepted: kek/);
  });

  test("refuses EC or RSA-1024 key-exchange keys, expired certificates", () => {
    expect(planFailure(() => azureKeyVault.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    expect(planFailure(() => azureKeyVault.plan(req({ wrappingKey: wk[1024]! }))).code).toBe("ERR_WRAPPING_KEY_SIZE");
    expect(planFailure(() => azureKeyVault.plan(req({ wrappingKey: expired }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
  });

  test("the strength rule: P-256 needs RSA-3072, P-384/P-521/RSA-4096 need RSA-4096", () => {
    expect(planFailure(() => azureKeyVault.plan(req({ keyType: "EC-NISTP256", wrappingKey: wk[2048]! }))).code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
    expect(azureKeyVault.plan(req({ keyType: "EC-NISTP256", wrappingKey: wk[3072]! })).warnings).toEqual([]);
    for (const keyType of ["EC-NISTP384", "EC-NISTP521", "RSA-4096"]) {
      expect(planFailure(() => azureKeyVault.plan(req({ keyType, wrappingKey: wk[3072]! }))).code).toBe("ERR_WRAPPING_KEY_TOO_WEAK");
      expect(planFailure(() => azureKeyVault.plan(req({ keyType, wrappingKey: wk[3072]! }))).message).toMatch(/128-bit.*RSA-4096/);
    }
    // AES under RSA-2048 on Managed HSM: warns, never refuses.
    expect(azureKeyVault.plan(req({ keyType: "AES-256", providerOptions: { kek: MHSM_KID }, wrappingKey: wk[2048]! })).warnings.join(" ")).toMatch(/112-bit/);
  });
});
