/**
 * Issue 18 (BYOK to more clouds), OCI Vault: every OCI wrapping algorithm x every ciop key type x
 * wrapping-key size (2048 and 3072 refused; 4096, the size of every vault's wrapping key), on the
 * software engine and on the HSM engine (real SoftHSM token; NSS softokn and the p11-kit RPC token
 * in the token runs), through runExport. Refused combinations must carry the expected code and
 * create no key; for accepted ones the `keyMaterial` inside `<key>.wrapped-import-key.json` must
 * unwrap with python3 cryptography and the test's private key to exactly the engine's key (raw AES
 * bytes; byte-exact PKCS#8 for RSA keys), `<key>.keymaterial.b64` must hold the same value, and
 * `<key>.key-shape.json` must give OCI's algorithm and the length in bytes.
 */
import { ociVault, OCI_ALGORITHMS } from "@ciop/providers-oci";
import { combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, type Combo, type Expectation, type RsaKeyPairs } from "@ciop/testkit";

/** The test's own statement of OCI Vault's import rules (not read from the provider code). */
const SHAPES: Readonly<Record<string, { algorithm: string; length: number }>> = {
  "AES-128": { algorithm: "AES", length: 16 },
  "AES-192": { algorithm: "AES", length: 24 },
  "AES-256": { algorithm: "AES", length: 32 },
  "RSA-2048": { algorithm: "RSA", length: 256 },
  "RSA-3072": { algorithm: "RSA", length: 384 },
  "RSA-4096": { algorithm: "RSA", length: 512 },
};

function expectOci(c: Combo): Expectation {
  if (SHAPES[c.keyType] === undefined) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.keyType.startsWith("RSA-") && c.algorithm === "RSA_OAEP_SHA256") return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (c.bits !== 4096) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  return c.algorithm === "RSA_OAEP_AES_SHA256" ? { scheme: "rsa-aes", hash: "sha256" } : { scheme: "oaep", hash: "sha256" };
}

function json(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes));
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("oci-matrix");
  keys = rsaKeyPairs(dir, [2048, 3072, 4096]);
});

describeOnEachEngine("oci-mx", "OCI Vault matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "oci",
        module: ociVault,
        combos: combos(OCI_ALGORITHMS, [2048, 3072, 4096]),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectOci,
        // What the CLI sends is the JSON's keyMaterial: unwrap that one.
        artefact: (r) => {
          const doc = json(r.artefacts[1]!.bytes) as { keyMaterial: string };
          return { bytes: new TextEncoder().encode(doc.keyMaterial), encoding: "base64" };
        },
        check: (r, c) => {
          const k = r.plan.keyName;
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
            [`${k}.keymaterial.b64`, "base64"],
            [`${k}.wrapped-import-key.json`, "json"],
            [`${k}.key-shape.json`, "json"],
          ]);
          const b64 = new TextDecoder().decode(r.artefacts[0]!.bytes);
          expect(b64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
          // Exactly OCI's WrappedImportKey members, and the same key material as the .b64 file.
          expect(json(r.artefacts[1]!.bytes)).toEqual({ keyMaterial: b64, wrappingAlgorithm: c.algorithm });
          // KeyShape: length in bytes, no curveId.
          expect(json(r.artefacts[2]!.bytes)).toEqual(SHAPES[c.keyType]);
          expect(r.artefacts[1]!.usage).toContain(
            `oci kms management key import --compartment-id <compartment OCID> --display-name ${k} --key-shape file://${k}.key-shape.json --wrapped-import-key file://${k}.wrapped-import-key.json --protection-mode HSM`,
          );
          expect(r.artefacts[1]!.usage).toContain(
            `oci kms management key-version import --key-id <key OCID> --wrapped-import-key file://${k}.wrapped-import-key.json`,
          );
          // The layout: one RSA-4096 OAEP block (512 bytes), then for RSA-AES the RFC 5649 output.
          const blob = Buffer.from(b64, "base64");
          if (c.algorithm === "RSA_OAEP_SHA256") expect(blob.length).toBe(512);
          else expect(blob.length).toBeGreaterThan(512 + 8);
          const pci = r.plan.warnings.join(" ");
          if (c.keyType === "AES-192" || c.keyType === "AES-256") expect(pci).toMatch(/PCI.*AES-128/);
          else expect(r.plan.warnings).toEqual([]);
        },
      },
      dir,
    );
    // Accepted: RSA_OAEP_AES_SHA256 x (3 AES + 3 RSA) + RSA_OAEP_SHA256 x 3 AES, all at 4096 bits = 9 of 2 x 15 x 3 = 90.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(9);
    expect(outcome.refused.size).toBe(81);
    if (fixture.label === "hsm") {
      // SoftHSM 2.6.1 has OAEP with SHA-1 only: every SHA-256 OAEP step (and the RSA keys' padded PKCS#8) needs the host.
      expect(outcome.host.length).toBe(9);
    }
    if (fixture.label === "nss") {
      // NSS softokn does OAEP-SHA-256 and RSA-AES of every key type in the token.
      expect(outcome.inToken.length).toBe(9);
    }
  });
});
