/**
 * Issue 16, "Three tokens in CI" (NSS softokn): @ciop/hsm passes library parameters to C_Initialize,
 * so NSS's persistent token (the module's second slot) opens, logs in and keeps token keys.
 * Before `libraryParameters` existed, Hsm.open on libsoftokn3.so failed at C_Initialize with
 * CKR_ARGUMENTS_BAD (seen by making the parameters resolve to undefined).
 */
import { randomBytes } from "node:crypto";
import { Hsm } from "../src/index.js";
import { nssToken, openNssHsm, uniqueName } from "./helpers.js";

const nss = nssToken();
const d = nss ? describe : describe.skip;

d("NSS softokn through C_Initialize library parameters", () => {
  let hsm: Hsm;
  beforeAll(async () => {
    hsm = await openNssHsm();
  });
  afterAll(() => hsm?.close());

  test("opens and logs in to the persistent token, a software token by NSS's own facts", () => {
    expect(hsm.token.label).toBe(nss!.token);
    expect(hsm.token.manufacturer).toBe("Mozilla Foundation");
    expect(hsm.token.isSoftware).toBe(true);
  });

  test("an AES-256 token key is generated sensitive and not extractable, found again by name, and used for AES-GCM in the token", async () => {
    const name = uniqueName("nss-aes");
    const key = await hsm.generateKey(name, "AES-256", { extractable: false });
    const info = hsm.keyInfo(key);
    expect(info).toMatchObject({ name, type: "AES-256", sensitive: true, extractable: false, enabled: true });
    const found = hsm.findKey(name);
    expect(found).toBeDefined();
    const iv = randomBytes(12);
    const pt = randomBytes(48);
    const aad = randomBytes(16);
    const ct = hsm.encryptAesGcm(found!, iv, pt, aad);
    expect(ct).toHaveLength(pt.length + 16);
    expect(hsm.decryptAesGcm(key, iv, ct, aad).equals(pt)).toBe(true);
    ct[0]! ^= 1;
    expect(() => hsm.decryptAesGcm(key, iv, ct, aad)).toThrow();
  });

  test("the key survives C_Finalize: a fresh open of the library finds it", async () => {
    const name = uniqueName("nss-persist");
    await hsm.generateKey(name, "AES-256", { extractable: false });
    await hsm.close();
    hsm = await openNssHsm();
    expect(hsm.findKey(name)).toBeDefined();
  });

  test("a second open of the same library with other parameters is refused, not silently given the first ones", async () => {
    const err = await Hsm.open({ library: nss!.library, libraryParameters: `${nss!.libraryParameters} `, token: nss!.token, pin: { value: nss!.pin } }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "ERR_HSM_LIBRARY" });
    expect((err as Error).message).toContain("other library parameters");
    expect((err as Error).message).not.toContain(nss!.libraryParameters);
  });
});
