/**
 * Issue 18 (BYOK to more clouds), `vault-transit` / `openbao`: every transit hash_function (plus
 * SHA224, which ciop refuses, and none, which means SHA256) x every ciop key type x wrapping-key
 * size (2048 and 3072 refused; 4096 as transit issues it), on the software engine and on the HSM
 * engine (real SoftHSM token; NSS softokn and SoftHSM through p11-kit's RPC in the token runs),
 * through runExport. Refused combinations must carry the expected code and create no key; accepted
 * ones must be done in the token where the token can, `<key>-wrapped` must be strict base64 that
 * python3 cryptography unwraps with the test's private key (OAEP with that hash of a 32-byte key
 * in the first 512 bytes, RFC 5649 of the rest) to exactly the engine's key (raw bytes, byte-exact
 * PKCS#8), and `<key>-transit-import.json` must name the transit type and hash_function.
 */
import { createHash } from "node:crypto";
import type { RunExportResult } from "@ciop/wrap";
import { vaultTransit, VAULT_TRANSIT_ALGORITHMS } from "@ciop/providers-vault-transit";
import { combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, type Combo, type Expectation, type Hash, type RsaKeyPairs } from "@ciop/testkit";
import { TRANSIT_TYPE } from "./transit-types.js";

/** The test's own statement of transit's import rules (not read from the provider code): TRANSIT_TYPE, and these. */
const HASH: Readonly<Record<string, Hash>> = { SHA1: "sha1", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512" };
const SIZES = [2048, 3072, 4096];

function expectTransit(c: Combo): Expectation {
  const hashFunction = c.algorithm ?? "SHA256";
  if (HASH[hashFunction] === undefined) return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (TRANSIT_TYPE[c.keyType] === undefined) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.bits !== 4096) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  return { scheme: "rsa-aes", hash: HASH[hashFunction]! };
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("vault-transit-matrix");
  keys = rsaKeyPairs(dir, SIZES);
});

function checkResult(r: RunExportResult, c: Combo): void {
  const k = r.plan.keyName;
  const cli = c.tag === "openbao" ? "bao" : "vault";
  const hashFunction = c.algorithm ?? "SHA256";
  const type = TRANSIT_TYPE[c.keyType]!;
  expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
    [`${k}-wrapped`, "base64"],
    [`${k}-transit-import.json`, "json"],
  ]);
  const importCommand = `${cli} write transit/keys/${k}/import ciphertext=@${k}-wrapped hash_function=${hashFunction} type=${type}`;
  expect(JSON.parse(new TextDecoder().decode(r.artefacts[1]!.bytes))).toEqual({
    product: c.tag === "openbao" ? "OpenBao" : "HashiCorp Vault",
    type,
    hash_function: hashFunction,
    ciphertext_file: `${k}-wrapped`,
    wrapping_key_sha256: createHash("sha256").update(keys.pair(4096).spki).digest("hex"),
    import: importCommand,
    import_version: `${cli} write transit/keys/${k}/import_version ciphertext=@${k}-wrapped hash_function=${hashFunction}`,
  });
  expect(r.artefacts[0]!.usage).toContain(importCommand);
  // No newline or other byte around the base64 (the ciphertext=@file value is read verbatim).
  expect(new TextDecoder().decode(r.artefacts[0]!.bytes)).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
}

describeOnEachEngine("vt-mx", "Vault / OpenBao transit matrix on the $label engine", (fixture, engine) => {
  test("every hash_function x key type x wrapping-key size: refused with the right code and no key, or unwrapped to the engine's key", async () => {
    const algorithms = [...VAULT_TRANSIT_ALGORITHMS, "SHA224", undefined];
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "vault-transit",
        module: vaultTransit,
        // The openbao name on the one accepted size: same bytes, `bao` commands.
        combos: [...combos(algorithms, SIZES), ...combos(algorithms, [4096], [{ extra: { provider: "openbao" }, tag: "openbao" }])],
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectTransit,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: checkResult,
      },
      dir,
    );
    // 5 algorithm spellings (SHA1/256/384/512 and none) x 11 key types on RSA-4096, for each of the two names.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(110);
    // (6 x 15 x 3 - 55) under vault-transit + (6 x 15 - 55) under openbao.
    expect(outcome.refused.size).toBe(215 + 35);
    if (fixture.label === "hsm") {
      // SHA1 of AES-128/256 and HMAC-256/384/512 (key lengths a multiple of 8), under both names.
      expect(outcome.inToken.length).toBeGreaterThanOrEqual(10);
    }
  });
});
