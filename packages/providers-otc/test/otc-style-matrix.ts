/**
 * The matrix both Open Telekom Cloud and Huawei Cloud tests run: the test's own statement of their
 * import rules (from their documentation, not from the provider code) and the artefact checks.
 */
import type { KeyType } from "@ciop/wrap";
import type { Combo, Expectation, Hash, MatrixSpec, Scheme } from "@ciop/testkit";

const TYPES: readonly KeyType[] = ["AES-256", "RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384"];

/** Expectation for a cloud whose direct algorithms are `direct` (key pairs only under RSAES_OAEP_SHA_256). */
export function expectOtcStyle(direct: Record<string, [Scheme, Hash]>): (c: Combo) => Expectation {
  return (c) => {
    const known = direct[c.algorithm!];
    if (known === undefined) return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
    if (!TYPES.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
    const pair = c.keyType !== "AES-256";
    if (pair && c.algorithm !== "RSAES_OAEP_SHA_256") return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
    if (c.bits !== 2048) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
    return pair ? { scheme: "rsa-aes", hash: "sha256" } : { scheme: known[0], hash: known[1] };
  };
}

function decode(bytes: Uint8Array): Buffer {
  const text = new TextDecoder().decode(bytes);
  expect(text).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  return Buffer.from(text, "base64");
}

/**
 * The artefact the cloud unwraps: the decoded encrypted_key_material, followed for a key pair by
 * the decoded private key ciphertext (which together are the CKM_RSA_AES_KEY_WRAP layout).
 */
export const otcStyleArtefact: MatrixSpec["artefact"] = (r) => ({
  bytes: Buffer.concat(r.artefacts.map((a) => decode(a.bytes))),
  encoding: "binary",
});

/** File names, encodings, sizes and usage text (naming `secretCall`, or `pairCall` for key pairs) of an accepted export. */
export function checkOtcStyle(secretCall: string, pairCall: string): NonNullable<MatrixSpec["check"]> {
  return (r, c) => {
    const k = r.plan.keyName;
    const pair = c.keyType !== "AES-256";
    expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual(
      pair
        ? [
            [`${k}-encrypted_key_material.b64`, "base64"],
            [`${k}-encrypted_privatekey.b64`, "base64"],
          ]
        : [[`${k}-encrypted_key_material.b64`, "base64"]],
    );
    // encrypted_key_material is one RSA-2048 block: 344 base64 characters, as the API's pattern ^[0-9a-zA-Z+/=]{344,360}$ wants.
    expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[0-9a-zA-Z+/=]{344}$/);
    if (pair) {
      expect(decode(r.artefacts[1]!.bytes).length % 8).toBe(0);
      // encrypted_privatekey as Huawei's API pattern wants it: ^[0-9a-zA-Z+/=]{200,6144}$
      // (huaweicloud-sdk-go-v3 ImportKeyMaterialRequestBody). An EC key's PKCS#8 without its public
      // key (SoftHSM's form) made 108/120 characters for P-256/P-384 (issue 18 review B).
      expect(new TextDecoder().decode(r.artefacts[1]!.bytes)).toMatch(/^[0-9a-zA-Z+/=]{200,6144}$/);
    }
    for (const a of r.artefacts) expect(a.usage).toContain(pair ? pairCall : secretCall);
    const warnings = r.plan.warnings.join(" ");
    if (c.algorithm === "RSAES_PKCS1_V1_5") expect(warnings).toMatch(/legacy/);
    if (pair && c.keyType !== "RSA-2048") expect(warnings).toMatch(/issues no larger wrapping key/);
  };
}

/**
 * Issue 18 review B: Huawei's API takes `encrypted_privatekey` of at least 200 base64 characters.
 * A token that writes an EC key's PKCS#8 without its public key (SoftHSM, when the wrap stays in
 * the token) makes a shorter one, and the provider refuses it naming why. Which combinations that
 * hits is the token's behaviour, so such a refusal counts as not possible on this token; any other
 * refusal of an accepted combination still fails the matrix.
 */
export function ecWithoutPublicKey(combo: Combo, code: string, message: string): string | undefined {
  return combo.keyType.startsWith("EC-") && code === "ERR_MECHANISM_UNSUPPORTED" && message.includes("without its public key")
    ? "the token writes this EC key's PKCS#8 without its public key, shorter than the API takes (refused, as it should be)"
    : undefined;
}
