/**
 * Issue 18 (IBM Key Protect import tokens): requests Key Protect must refuse, run through runExport
 * on the real token (and the software key store): each fails with its code before any key is
 * created — bad wrapping-key files, a missing or malformed nonce, an unknown provider option,
 * RSAES_OAEP_SHA_1, non-AES key types, an RSA-2048 wrapping key.
 */
import { runExport, type ExportRequestInput } from "@ciop/wrap";
import { ibmKeyProtect } from "@ciop/providers-ibm-key-protect";
import { badWrappingKeys, engines, expectRefused, notPossibleOn, opensslRsa, scratchDir, type BadWrappingKey, type EngineFixture } from "@ciop/testkit";

let bad: BadWrappingKey[];
let rsa2048: Uint8Array;
let rsa4096: Uint8Array;

beforeAll(() => {
  const dir = scratchDir("ibm-refusals");
  ({ bad } = badWrappingKeys(dir, 4096));
  rsa2048 = opensslRsa(dir, 2048).spki;
  rsa4096 = opensslRsa(dir, 4096).spki;
});

describe.each(engines("ibm-no"))("IBM Key Protect refusals on the $label key store", (fixture: EngineFixture) => {
  let n = 0;
  const req = (over: Partial<ExportRequestInput>): ExportRequestInput => ({
    provider: "ibm-key-protect",
    keyName: `${fixture.prefix}-${n++}`,
    wrappingKey: rsa4096,
    algorithm: "RSAES_OAEP_SHA_256",
    keyType: "AES-256",
    providerOptions: { nonce: "8zJE9pKVdXVe/nLb" },
    ...over,
  });
  beforeAll(async () => {
    await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("bad wrapping-key files: wrong type, garbage, truncated, private, expired or future certificate", async () => {
    for (const b of bad) await expectRefused(fixture, ibmKeyProtect, req({ wrappingKey: b.wrappingKey }), b.code, b.label);
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
    if (notPossibleOn(fixture, "oaep", "sha256", "AES-256")) {
      await expectRefused(fixture, ibmKeyProtect, request, "ERR_MECHANISM_UNSUPPORTED", "RSA-OAEP SHA-256");
      return;
    }
    const r = await runExport(ibmKeyProtect, request, fixture.source());
    expect(r.created).toBe(true);
    expect(fixture.keyExists(request.keyName)).toBe(true);
  });
});
