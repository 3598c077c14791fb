/**
 * Issue 18 (IBM Key Protect import tokens): requests Key Protect must refuse, run through runExport
 * on the real token (and the software key store): each fails with its code before any key is
 * created — bad wrapping-key files, a missing or malformed nonce, an unknown provider option,
 * RSAES_OAEP_SHA_1, non-AES key types, an RSA-2048 wrapping key.
 */
import { ibmKeyProtect } from "@ciop/providers-ibm-key-protect";
import { badWrappingKeys, describeOnEachEngine, expectBadWrappingKeysRefused, expectRefused, exportCreatingKey, exportRequests } from "@ciop/testkit";
import { opensslRsa, refusedWhereNotPossible, scratchDir, type BadWrappingKey } from "@ciop/testkit";

let bad: BadWrappingKey[];
let rsa2048: Uint8Array;
let rsa4096: Uint8Array;

beforeAll(() => {
  const dir = scratchDir("ibm-refusals");
  ({ bad } = badWrappingKeys(dir, 4096));
  rsa2048 = opensslRsa(dir, 2048).spki;
  rsa4096 = opensslRsa(dir, 4096).spki;
});

describeOnEachEngine("ibm-no", "IBM Key Protect refusals on the $label key store", (fixture) => {
  const req = exportRequests(fixture, () => ({
    provider: "ibm-key-protect",
    wrappingKey: rsa4096,
    algorithm: "RSAES_OAEP_SHA_256",
    keyType: "AES-256",
    providerOptions: { nonce: "8zJE9pKVdXVe/nLb" },
  }));

  test("bad wrapping-key files: wrong type, garbage, truncated, private, expired or future certificate", async () => {
    await expectBadWrappingKeysRefused(fixture, ibmKeyProtect, bad, (wrappingKey) => req({ wrappingKey }));
    await expectRefused(fixture, ibmKeyProtect, req({ wrappingKey: rsa2048 }), "ERR_WRAPPING_KEY_SIZE", "RSA-2048");
  });

  test("nonce problems and unknown options (ERR_USAGE)", async () => {
    await expectRefused(fixture, ibmKeyProtect, req({ providerOptions: undefined }), "ERR_USAGE", "no nonce");
    await expectRefused(fixture, ibmKeyProtect, req({ providerOptions: { nonce: "not base64!" } }), "ERR_USAGE", "nonce not base64");
    await expectRefused(fixture, ibmKeyProtect, req({ providerOptions: { nonce: "AAAA" } }), "ERR_USAGE", "3-byte nonce");
    await expectRefused(fixture, ibmKeyProtect, req({ providerOptions: { nonce: "8zJE9pKVdXVe/nLb", kek: "x" } }), "ERR_USAGE", "unknown option");
  });

  test("other algorithms and key types", async () => {
    await expectRefused(fixture, ibmKeyProtect, req({ algorithm: "RSAES_OAEP_SHA_1" }), "ERR_ALGORITHM_UNSUPPORTED", "SHA-1 (HPCS)");
    for (const keyType of ["HMAC-256", "RSA-2048", "EC-NISTP256"]) {
      await expectRefused(fixture, ibmKeyProtect, req({ keyType }), "ERR_KEY_TYPE_UNSUPPORTED", keyType);
    }
  });

  test("a token that cannot do a step refuses the export and keeps no key; otherwise the same request goes through", async () => {
    const request = req({});
    if (await refusedWhereNotPossible(fixture, ibmKeyProtect, request, ["oaep", "sha256", "AES-256"], "RSA-OAEP SHA-256")) return;
    await exportCreatingKey(fixture, ibmKeyProtect, request);
  });
});
