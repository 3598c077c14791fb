/**
 * Encrypt draws its IVs from a pooled CSPRNG buffer (512 IVs per draw): across several refills
 * every IV is 12 bytes, none repeats, and the response carries the IV the key manager was given.
 */
import { handleEncrypt, parseEncryptRequest } from "../src/index.js";
import { MemoryCrypto, md } from "./helpers.js";

test("1,300 encryptions (three pool draws) get 1,300 distinct 12-byte IVs, each the one the key manager used", async () => {
  const crypto = new MemoryCrypto();
  crypto.add("k1");
  const used: string[] = [];
  const encrypt = crypto.encrypt.bind(crypto);
  crypto.encrypt = (keyId, iv, pt, aad) => {
    used.push(Buffer.from(iv).toString("hex"));
    return encrypt(keyId, iv, pt, aad);
  };
  const req = parseEncryptRequest(
    JSON.stringify({ requestMetadata: md("Encrypt"), plaintext: Buffer.from("iv").toString("base64"), encryptionAlgorithm: "AES_GCM" }),
  );
  const seen = new Set<string>();
  for (let i = 0; i < 1300; i++) {
    const r = await handleEncrypt("k1", req, crypto, { keys: ["k1"] });
    const iv = Buffer.from(r.initializationVector, "base64");
    expect(iv).toHaveLength(12);
    expect(iv.toString("hex")).toBe(used[i]);
    seen.add(iv.toString("hex"));
  }
  expect(seen.size).toBe(1300);
  expect(crypto.calls.encrypt).toBe(1300);
});
