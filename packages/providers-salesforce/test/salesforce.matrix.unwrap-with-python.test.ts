/**
 * Every Salesforce algorithm on the software engine and on the HSM engine (real SoftHSM token):
 * python3 cryptography decrypts `<key>-wrapped` with the test's own certificate key; the secret's
 * SHA-256 must equal both the engine's digest (C_DigestKey in the HSM) and `<key>-hash`.
 */
import { readFileSync } from "node:fs";
import { parseWrappingKey, type WrapEngine, type WrappingKey } from "@ciop/wrap";
import { salesforceByok, SALESFORCE_ALGORITHMS } from "@ciop/providers-salesforce";
import { hex, opensslRsa, pythonCertificate, pythonUnwrap, scratchDir, writeArtefact, type TestKeyPair, type UnwrapCase } from "./support/harness.js";
import { engines, type EngineFixture } from "./support/engines.js";

const SCHEME = {
  RSAES_OAEP_SHA_256: ["oaep", "sha256"],
  RSAES_OAEP_SHA_1: ["oaep", "sha1"],
  RSAES_PKCS1_V1_5: ["pkcs1", "sha1"],
  RSAES_OAEP_SHA_512: ["oaep", "sha512"],
} as const;

let dir: string;
let pair: TestKeyPair;
let cert: WrappingKey;

beforeAll(() => {
  dir = scratchDir("sf-matrix");
  pair = opensslRsa(dir, 4096);
  cert = parseWrappingKey(pythonCertificate(pair.privPath));
});

describe.each(engines("sf-mx"))("Salesforce matrix on the $label engine", (fixture: EngineFixture) => {
  let engine: WrapEngine;
  beforeAll(async () => {
    engine = await fixture.open();
  });
  afterAll(async () => {
    await fixture.close();
  });

  test("<key>-wrapped decrypts to the secret whose SHA-256 is <key>-hash", async () => {
    const target = await fixture.key(`${fixture.prefix}-secret`, "AES-256");
    const cases: UnwrapCase[] = [];
    const hashes = new Map<string, string>();
    for (const algorithm of SALESFORCE_ALGORITHMS) {
      const plan = salesforceByok.plan({ provider: "salesforce", keyName: target.name, wrappingKey: cert, algorithm, allowLegacy: true });
      const result = await salesforceByok.export(plan, engine, target);
      expect(result.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
        [`${target.name}-wrapped`, "base64"],
        [`${target.name}-hash`, "base64"],
      ]);
      const file = writeArtefact(dir, `${fixture.label}.${algorithm}.wrapped`, result.artefacts[0]!.bytes);
      const hashFile = writeArtefact(dir, `${fixture.label}.${algorithm}.hash`, result.artefacts[1]!.bytes);
      expect(readFileSync(file, "utf8")).toMatch(/^[A-Za-z0-9+/]{680}[A-Za-z0-9+/=]{4}$/); // 512 bytes, no newline
      expect(readFileSync(hashFile, "utf8")).toMatch(/^[A-Za-z0-9+/]{43}=$/); // 32 bytes
      hashes.set(algorithm, Buffer.from(readFileSync(hashFile, "utf8"), "base64").toString("hex"));
      const [scheme, hash] = SCHEME[algorithm];
      cases.push({ id: algorithm, file, encoding: "base64", scheme, hash, priv: pair.privPath, kind: "secret" });
    }
    const expected = hex(await engine.digest(target, "sha256"));
    const results = pythonUnwrap(cases);
    for (const c of cases) {
      const r = results.get(c.id)!;
      expect({ id: c.id, ok: r.ok, error: r.error, len: r.len }).toEqual({ id: c.id, ok: true, error: undefined, len: 32 });
      expect(r.sha256).toBe(expected);
      expect(hashes.get(c.id)).toBe(r.sha256);
    }
  });
});
