/**
 * Issue 18 (BYOK to more clouds), `vault-transit` / `openbao`: requests transit must refuse, run
 * through runExport against the real token (and the software key store): each must fail with its
 * error code before any key is created. The expired-certificate override must then succeed with a
 * warning, and its ciphertext must unwrap with python3 cryptography.
 */
import { vaultTransit } from "@ciop/providers-vault-transit";
import { badWrappingKeys, describeOnEachEngine, expectBadWrappingKeysRefused, expectRefused, expectUnsafeKeyNamesRefused } from "@ciop/testkit";
import { exportCreatingKey, exportRequests, hex, opensslRsa, pythonUnwrap, refusedWhereNotPossible, scratchDir, writeArtefact } from "@ciop/testkit";
import type { BadWrappingKey } from "@ciop/testkit";

let dir: string;
let bad: BadWrappingKey[];
let privPath: string;
let expiredCertificate: string;
let rsa2048: Uint8Array;
let rsa3072: Uint8Array;
let rsa4096: Uint8Array;

beforeAll(() => {
  dir = scratchDir("vault-transit-refusals");
  // Its own directory: opensslRsa names its files by size, and the RSA-4096 below must not replace this key.
  ({ bad, privPath, expiredCertificate } = badWrappingKeys(scratchDir("vault-transit-bad"), 4096));
  rsa2048 = opensslRsa(dir, 2048).spki;
  rsa3072 = opensslRsa(dir, 3072).spki;
  rsa4096 = opensslRsa(dir, 4096).spki;
});

describeOnEachEngine("vt-no", "Vault / OpenBao transit refusals on the $label key store", (fixture, engine) => {
  const req = exportRequests(fixture, () => ({ provider: "vault-transit", wrappingKey: rsa4096, algorithm: "SHA256", keyType: "AES-256" }));

  test("bad wrapping-key files: wrong type, garbage, truncated, private, expired or future certificate", async () => {
    await expectBadWrappingKeysRefused(fixture, vaultTransit, bad, (wrappingKey) => req({ wrappingKey }));
  });

  test("RSA-2048 and RSA-3072 wrapping keys: transit's is always RSA-4096", async () => {
    await expectRefused(fixture, vaultTransit, req({ wrappingKey: rsa2048 }), "ERR_WRAPPING_KEY_SIZE", "RSA-2048");
    await expectRefused(fixture, vaultTransit, req({ wrappingKey: rsa3072, keyType: "RSA-2048" }), "ERR_WRAPPING_KEY_SIZE", "RSA-3072");
  });

  test("SHA224, other spellings and other providers' algorithms; key types transit cannot import", async () => {
    await expectRefused(fixture, vaultTransit, req({ algorithm: "SHA224" }), "ERR_ALGORITHM_UNSUPPORTED", "SHA224");
    await expectRefused(fixture, vaultTransit, req({ algorithm: "SHA-256" }), "ERR_ALGORITHM_UNSUPPORTED", "SHA-256");
    await expectRefused(fixture, vaultTransit, req({ algorithm: "RSA_AES_KEY_WRAP_SHA_256" }), "ERR_ALGORITHM_UNSUPPORTED", "AWS name");
    await expectRefused(fixture, vaultTransit, req({ algorithm: "" }), "ERR_USAGE", "empty algorithm");
    for (const keyType of ["AES-192", "HMAC-160", "HMAC-224", "EC-SECP256K1", "ED25519"]) {
      await expectRefused(fixture, vaultTransit, req({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
  });

  test("provider options, other providers, unsafe key names", async () => {
    await expectRefused(fixture, vaultTransit, req({ providerOptions: { mount: "transit2" } }), "ERR_USAGE", "provider option");
    await expectRefused(fixture, vaultTransit, req({ provider: "vault" }), "ERR_PROVIDER_UNKNOWN", "bare vault");
    await expectUnsafeKeyNamesRefused(fixture, vaultTransit, (keyName) => req({ keyName }));
  });

  test("the override: an expired certificate goes through with a warning (OpenBao name, SHA1)", async () => {
    const request = req({ provider: "openbao", algorithm: "SHA1", wrappingKey: expiredCertificate, allowInvalidCertificate: true });
    // Issue 16 (three tokens): RSA-AES needs an AES key wrap that SoftHSM through p11-kit 0.24's RPC
    // does not carry; there the refusal is checked instead.
    if (await refusedWhereNotPossible(fixture, vaultTransit, request, ["rsa-aes", "sha1", "AES-256"], "RSA-AES SHA-1")) return;
    const result = await exportCreatingKey(fixture, vaultTransit, request);
    expect(result.plan.warnings.join(" ")).toMatch(/expired/);
    expect(result.artefacts[0]!.usage).toContain(
      `bao write transit/keys/${request.keyName}/import ciphertext=@${request.keyName}-wrapped hash_function=SHA1 type=aes256-gcm96`,
    );
    const file = writeArtefact(dir, `${fixture.label}.override`, result.artefacts[0]!.bytes);
    const out = pythonUnwrap([{ id: "override", file, encoding: "base64", scheme: "rsa-aes", hash: "sha1", priv: privPath, kind: "secret" }]).get("override")!;
    expect({ ok: out.ok, error: out.error, len: out.len, blobLen: out.blobLen }).toEqual({ ok: true, error: undefined, len: 32, blobLen: 512 + 40 });
    expect(out.sha256).toBe(hex(await engine().digest(result.target, "sha256")));
  });
});
