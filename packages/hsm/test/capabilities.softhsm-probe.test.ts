import { type Hsm, CKM_AES_KEY_WRAP_PAD } from "../src/index.js";
import { openTestHsm } from "./helpers.js";

let hsm: Hsm;
beforeAll(async () => {
  hsm = await openTestHsm();
});
afterAll(() => hsm?.close());

test("the probe reports what SoftHSM 2.6.1 really does", () => {
  const caps = hsm.capabilities();
  expect(caps.rsaOaepHashes).toEqual(["sha1"]);
  expect(caps.rsaPkcs1).toBe(true);
  expect(caps.aesKeyWrapPadMechanism).toBe(CKM_AES_KEY_WRAP_PAD);
  // issue 16: the same number means PKCS#7 + RFC 3394 on NSS softokn; told apart by output
  expect(caps.aesKeyWrapPadSemantics).toBe("rfc5649");
  expect(caps.kwpPadsPrivateKeys).toBe(true);
  expect(caps.kwpPadsSecretKeys).toBe(true);
  expect(caps.aesGcm).toBe(true);
  expect(caps.rsaAesKeyWrapListed).toBe(false);
  expect(caps.rsaAesKeyWrapHashes).toEqual([]);
  expect(caps.digestKey).toEqual(expect.arrayContaining(["sha1", "sha256"]));
  expect(caps.hmacHashes).toEqual(expect.arrayContaining(["sha256"]));
  expect(caps.asyncCalls).toBe(true);
  expect(caps.mechanisms.length).toBeGreaterThan(10);
});

test("token facts: software token, label and serial", () => {
  expect(hsm.token.isSoftware).toBe(true);
  expect(hsm.token.embedded).toBe(false);
  expect(hsm.token.label).toBe(process.env.CIOP_TEST_TOKEN_LABEL);
  expect(hsm.token.serial).toMatch(/^[0-9a-f]{16}$/);
  expect(hsm.allowsHostFallback()).toBe(true);
});

test("assumeHardwareToken makes the token count as hardware", async () => {
  const hw = await openTestHsm({ assumeHardwareToken: true });
  try {
    expect(hw.token.isSoftware).toBe(false);
    expect(hw.allowsHostFallback()).toBe(false);
  } finally {
    await hw.close();
  }
  const hwAllowed = await openTestHsm({ assumeHardwareToken: true, allowHostFallback: true });
  try {
    expect(hwAllowed.allowsHostFallback()).toBe(true);
  } finally {
    await hwAllowed.close();
  }
});
