/**
 * Issue 18 (IBM Key Protect import tokens): every wrapping algorithm (Key Protect's one, and
 * RSAES_OAEP_SHA_1, which only Hyper Protect Crypto Services takes) x every ciop key type x
 * wrapping-key size (only the import token's RSA-4096 is accepted) x two nonce lengths, on the
 * software engine and the HSM engine (real SoftHSM token; NSS softokn and SoftHSM through p11-kit's
 * RPC in the token runs), through runExport. Refused combinations must carry the expected code and
 * create no key. For accepted ones python3-cryptography, with the private key only this test holds,
 * must (1) RSA-OAEP-SHA-256-decrypt `payload` to exactly the engine's key (length, SHA-256 from
 * C_DigestKey, AES-GCM known answer) and (2) AES-GCM-decrypt `encryptedNonce` (ciphertext ‖ tag)
 * with that recovered key and `iv` to exactly the nonce given; the create-key body must carry the
 * same three values. Before this package there was no `ibm-key-protect` provider, and before the
 * aesGcmUnderTarget engine step no way to encrypt the nonce under the key being imported.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { KeyType, RunExportResult } from "@ciop/wrap";
import { ibmKeyProtect } from "@ciop/providers-ibm-key-protect";
import { PYTHON, combos, describeOnEachEngine, rsaKeyPairs, runMatrix, scratchDir, writeArtefact, type Combo, type Expectation } from "@ciop/testkit";
import type { RsaKeyPairs } from "@ciop/testkit";

/** The test's own statement of Key Protect's import-token rules (from IBM's docs, not the provider code). */
const TYPES: readonly KeyType[] = ["AES-128", "AES-192", "AES-256"];
const NONCES = [
  { tag: "nonce12", nonce: "8zJE9pKVdXVe/nLb" }, // the example nonce of IBM's import-token docs
  { tag: "nonce32", nonce: Buffer.from("ciop test nonce of thirty-two b.").toString("base64") },
];

function expectIbm(c: Combo): Expectation {
  if (c.algorithm !== "RSAES_OAEP_SHA_256") return { refuse: "ERR_ALGORITHM_UNSUPPORTED" };
  if (!TYPES.includes(c.keyType)) return { refuse: "ERR_KEY_TYPE_UNSUPPORTED" };
  if (c.bits !== 4096) return { refuse: "ERR_WRAPPING_KEY_SIZE" };
  return { scheme: "oaep", hash: "sha256" };
}

const OPEN_NONCE = `
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
out = []
for c in json.load(sys.stdin):
    priv = serialization.load_pem_private_key(open(c["priv"], "rb").read(), None)
    b64 = lambda f: base64.b64decode(open(f, "rb").read().decode("ascii"), validate=True)
    key = priv.decrypt(b64(c["payload"]), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    iv = b64(c["iv"])
    out.append({"id": c["id"], "keyLen": len(key), "ivLen": len(iv), "nonce": base64.b64encode(AESGCM(key).decrypt(iv, b64(c["encryptedNonce"]), None)).decode()})
json.dump(out, sys.stdout)
`;

interface NonceCase {
  id: string;
  priv: string;
  payload: string;
  encryptedNonce: string;
  iv: string;
  want: string;
  keyLen: number;
}

let dir: string;
let keys: RsaKeyPairs;

beforeAll(() => {
  dir = scratchDir("ibm-kp-matrix");
  keys = rsaKeyPairs(dir, [2048, 3072, 4096]);
});

describeOnEachEngine("ibm-mx", "IBM Key Protect matrix on the $label engine", (fixture, engine) => {
  test("every algorithm x key type x wrapping-key size x nonce: refused with its code and no key, or payload and encryptedNonce opened by python", async () => {
    const nonceCases: NonceCase[] = [];
    const outcome = await runMatrix(
      fixture,
      engine(),
      {
        provider: "ibm-key-protect",
        module: ibmKeyProtect,
        combos: combos(
          ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"],
          [2048, 3072, 4096],
          NONCES.map((n) => ({ extra: { providerOptions: { nonce: n.nonce } }, tag: n.tag })),
        ),
        wrappingKey: keys.wrappingKey,
        privPath: keys.privPath,
        expect: expectIbm,
        artefact: (r) => ({ bytes: r.artefacts[0]!.bytes, encoding: "base64" }),
        check: (r) => {
          const k = r.plan.keyName;
          expect(r.artefacts.map((a) => [a.fileName, a.encoding])).toEqual([
            [`${k}-payload`, "base64"],
            [`${k}-encryptedNonce`, "base64"],
            [`${k}-iv`, "base64"],
            [`${k}-create-key.json`, "json"],
          ]);
          expect(r.artefacts[0]!.usage).toContain(`ibmcloud kp key create ${k} -k`);
          expect(r.artefacts[3]!.usage).toContain("/api/v2/keys");
          // SoftHSM 2.6.1 does OAEP with SHA-1 only, so the payload is a host step; the nonce's
          // AES-GCM runs in the token (C_EncryptInit with the target key's handle).
          if (fixture.label === "hsm") expect(r.steps).toEqual(["exportKeyToHost", "host:RSA-OAEP(SHA-256)", "CKM_AES_GCM"]);
        },
        after: (r: RunExportResult, c: Combo) => {
          const [payload, encryptedNonce, iv, body] = r.artefacts.map((a) => Buffer.from(a.bytes).toString("utf8"));
          // The create-key body: exactly IBM's members, the three values byte for byte, a root key.
          expect(JSON.parse(body!)).toEqual({
            metadata: { collectionType: "application/vnd.ibm.kms.key+json", collectionTotal: 1 },
            resources: [
              {
                type: "application/vnd.ibm.kms.key+json",
                name: r.plan.keyName,
                extractable: false,
                payload,
                encryptionAlgorithm: "RSAES_OAEP_SHA_256",
                encryptedNonce,
                iv,
              },
            ],
          });
          const id = `${fixture.label}.${c.keyType}.${c.tag}`;
          const file = (name: string, i: number) => writeArtefact(dir, `${id}.${name}`, r.artefacts[i]!.bytes);
          nonceCases.push({
            id,
            priv: keys.privPath(c),
            payload: file("payload", 0),
            encryptedNonce: file("encryptedNonce", 1),
            iv: file("iv", 2),
            want: NONCES.find((n) => n.tag === c.tag)!.nonce,
            keyLen: Number(c.keyType.slice(4)) / 8,
          });
        },
      },
      dir,
    );
    // 3 AES sizes x 2 nonces under RSA-4096 and RSAES_OAEP_SHA_256, of 2 x 15 x 3 x 2 = 180.
    expect(outcome.accepted.length + outcome.skipped.size).toBe(6);
    expect(outcome.refused.size).toBe(174);
    if (fixture.label === "hsm") expect(outcome.host.length).toBe(6);
    expect(nonceCases.length).toBe(outcome.accepted.length);
    if (nonceCases.length === 0) return;
    const opened = JSON.parse(execFileSync(PYTHON, ["-c", OPEN_NONCE], { input: JSON.stringify(nonceCases), encoding: "utf8" })) as Array<{
      id: string;
      keyLen: number;
      ivLen: number;
      nonce: string;
    }>;
    expect(opened).toEqual(nonceCases.map((c) => ({ id: c.id, keyLen: c.keyLen, ivLen: 12, nonce: c.want })));
    expect(readFileSync(nonceCases[0]!.payload, "utf8")).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  });
});
