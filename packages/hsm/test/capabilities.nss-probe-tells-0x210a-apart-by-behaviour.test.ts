/**
 * Issue 16, "Three tokens in CI": the capability probe tells what mechanism 0x210A does by its
 * output, not its number. NSS softokn gives 0x210A the spec's meaning (PKCS#7 padding + RFC 3394)
 * and RFC 5649 under 0x210B; SoftHSM 2.6 gives 0x210A RFC 5649 (capabilities.softhsm-probe.test.ts).
 * Before this, the probe stopped at the first RFC 5649 number and reported nothing about 0x210A.
 */
import { CKM_AES_KEY_WRAP_KWP, type Hsm } from "../src/index.js";
import { nssToken, openNssHsm } from "./helpers.js";

const nss = nssToken();
const d = nss ? describe : describe.skip;

d("the probe on NSS softokn", () => {
  let hsm: Hsm;
  beforeAll(async () => {
    hsm = await openNssHsm();
  });
  afterAll(() => hsm?.close());

  test("0x210A is PKCS#7 + RFC 3394 by its output; RFC 5649 is found under 0x210B, exact (no zero padding)", () => {
    const caps = hsm.capabilities();
    expect(caps.aesKeyWrapPadSemantics).toBe("pkcs7-rfc3394");
    expect(caps.aesKeyWrapPadMechanism).toBe(CKM_AES_KEY_WRAP_KWP);
    expect(caps.kwpPadsSecretKeys).toBe(false);
    expect(caps.kwpPadsPrivateKeys).toBe(false);
  });

  test("reports NSS's mechanisms as found: OAEP SHA-1..SHA-512, GCM, HMAC and C_DigestKey; no GCM key wrap, no CKM_RSA_AES_KEY_WRAP", () => {
    const caps = hsm.capabilities();
    expect(caps.rsaOaepHashes).toEqual(["sha1", "sha256", "sha384", "sha512"]);
    expect(caps.rsaPkcs1).toBe(true);
    expect(caps.aesGcm).toBe(true);
    expect(caps.aesGcmKeyWrap).toBe(false);
    expect(caps.rsaAesKeyWrapListed).toBe(false);
    expect(caps.rsaAesKeyWrapHashes).toEqual([]);
    expect(caps.hmacHashes).toEqual(["sha1", "sha256", "sha384", "sha512"]);
    expect(caps.digestKey).toEqual(["sha1", "sha256", "sha384", "sha512"]);
    expect(caps.mechanisms).toEqual(expect.arrayContaining([0x2109, 0x210a, 0x210b]));
  });
});
