/**
 * End to end, as a user runs it: the built citool exports for every provider and algorithm of the
 * seed's command line (plus ciop's additions), on the throw-away SoftHSM token; every artefact is
 * opened with the test's own private wrapping key by python3-cryptography, and the recovered key is
 * compared with the HSM key as OpenSC's pkcs11-tool sees it (public key for key pairs, an AES-ECB
 * check value computed inside the token for AES keys).
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Capabilities, KeyType } from "@ciop/hsm";
import { inTokenByProbe, noHostHandOff, openTestHsm, type Hash, type Scheme as UnwrapScheme } from "@ciop/testkit";
import { assertBuilt, hsmAesKcvHex, hsmPublicKeyHex, listFiles, makeWrappingKeys, pyVerify, runCli, tempDir, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;
let work: string;
const KID = "https://citool-test.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";
/** An import token's nonce (12 bytes, base64), as IBM Key Protect hands it out. */
const IBM_NONCE = "DyWG4k0DdJpzNfTr";
const kcvCache = new Map<string, string>();
const pubCache = new Map<string, string>();

/**
 * Issue 16 (three tokens): what the token under test cannot do at all, asked of the token itself:
 * host steps when it cannot hand a key to the host (the probe; SoftHSM through p11-kit 0.24's RPC),
 * key types whose generation it refuses (NSS softokn has no secp256k1). Such a case checks that
 * citool refuses (exit 1, no file) and prints why; before, these cases failed on those tokens.
 */
let noHost: string | undefined;
let probeCaps: Capabilities | undefined;
const refusedTypes = new Map<string, string>();

beforeAll(async () => {
  assertBuilt();
  work = tempDir("e2e");
  keys = await makeWrappingKeys(join(work, "wrapping-keys"));
  const hsm = await openTestHsm();
  try {
    probeCaps = hsm.capabilities();
    noHost = noHostHandOff(probeCaps);
    for (const type of new Set(cases.map((c) => c.keyType))) {
      const name = `e2e-probe-${type}-${process.pid}`;
      try {
        await hsm.generateKey(name, type as KeyType);
        hsm.deleteKey(name);
      } catch (err) {
        refusedTypes.set(type, `the token refuses to generate ${type} keys: ${(err as Error).message}`);
      }
    }
  } finally {
    await hsm.close();
  }
}, 120_000);

/** Why the token under test cannot run case `c`, or undefined. */
function notPossible(c: Case): string | undefined {
  const refused = refusedTypes.get(c.keyType);
  if (refused !== undefined) return refused;
  if (noHost === undefined) return undefined;
  const [scheme, hash] = c.scheme.startsWith("rsa-aes-ecb")
    ? (["rsa-aes-ecb", "sha256"] as const)
    : c.scheme.startsWith("rsa-aes")
      ? (["rsa-aes", c.scheme.slice(8)] as const)
      : c.scheme === "pkcs1"
        ? (["pkcs1", "sha1"] as const)
        : (["oaep", c.scheme.slice(5)] as const);
  return inTokenByProbe(probeCaps!, scheme as UnwrapScheme, hash as Hash, c.keyType as KeyType) === false ? `needs a host step, and ${noHost}` : undefined;
}

type Scheme = "oaep-sha1" | "oaep-sha256" | "pkcs1" | "rsa-aes-sha1" | "rsa-aes-sha256" | "rsa-aes-sha512" | "rsa-aes-ecb-sha256";

interface Case {
  provider: string;
  algorithm?: string;
  keyType: string;
  /** omit -k to prove the provider's default */
  defaultKeyType?: boolean;
  wrapBits: number;
  wrapForm: "spkiDer" | "pubPem" | "cert" | "pemBase64";
  scheme: Scheme;
  /** seed file names, main (wrapped) file first */
  files: (k: string) => string[];
  extraArgs?: string[];
}

const SEED_AWS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"];
const scheme = (alg: string): Scheme =>
  alg === "RSAES_OAEP_SHA_256"
    ? "oaep-sha256"
    : alg === "RSAES_OAEP_SHA_1"
      ? "oaep-sha1"
      : alg === "RSAES_PKCS1_V1_5"
        ? "pkcs1"
        : alg === "RSA_AES_KEY_WRAP_SHA_256"
          ? "rsa-aes-sha256"
          : "rsa-aes-sha1";
const legacy = (alg: string) => (alg === "RSAES_PKCS1_V1_5" ? ["--allow-legacy"] : []);

const cases: Case[] = [
  // AWS: seed algorithms with the seed's AES-256 key, then the RSA-AES algorithms for key pairs
  ...SEED_AWS.map(
    (algorithm): Case => ({
      provider: "aws",
      algorithm,
      keyType: "AES-256",
      defaultKeyType: true,
      wrapBits: 4096,
      wrapForm: "spkiDer",
      scheme: scheme(algorithm),
      files: (k) => [`${k}-wrapped`],
      extraArgs: legacy(algorithm),
    }),
  ),
  {
    provider: "aws",
    algorithm: "RSA_AES_KEY_WRAP_SHA_256",
    keyType: "RSA-3072",
    wrapBits: 4096,
    wrapForm: "spkiDer",
    scheme: "rsa-aes-sha256",
    files: (k) => [`${k}-wrapped`],
  },
  {
    provider: "aws",
    algorithm: "RSA_AES_KEY_WRAP_SHA_1",
    keyType: "EC-NISTP256",
    wrapBits: 3072,
    wrapForm: "spkiDer",
    scheme: "rsa-aes-sha1",
    files: (k) => [`${k}-wrapped`],
  },
  {
    provider: "aws",
    algorithm: "RSAES_OAEP_SHA_256",
    keyType: "EC-SECP256K1",
    wrapBits: 4096,
    wrapForm: "spkiDer",
    scheme: "oaep-sha256",
    files: (k) => [`${k}-wrapped`],
  },
  // Google Compute Engine: the certificate from Google is RSA-2048
  ...SEED_AWS.map(
    (algorithm): Case => ({
      provider: "google-compute-engine",
      algorithm,
      keyType: "AES-256",
      defaultKeyType: true,
      wrapBits: 2048,
      wrapForm: "cert",
      scheme: scheme(algorithm),
      files: (k) => [`${k}-wrapped`],
      extraArgs: legacy(algorithm),
    }),
  ),
  // Google Cloud KMS (2.2.2: wrapAlg = the import job's hash), every seed key type
  ...["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"].flatMap((algorithm) =>
    ["RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384", "AES-256"].map(
      (keyType): Case => ({
        provider: "google-cloud-key-management",
        algorithm,
        keyType,
        defaultKeyType: keyType === "RSA-2048",
        wrapBits: keyType === "AES-256" && algorithm === "RSAES_OAEP_SHA_1" ? 3072 : 4096,
        wrapForm: "pubPem",
        scheme: algorithm === "RSAES_OAEP_SHA_256" ? "rsa-aes-sha256" : "rsa-aes-sha1",
        files: (k) => [`${k}-wrapped.bin`],
      }),
    ),
  ),
  // ...and Google's own import-method names (ciop adds)
  {
    provider: "google-cloud-key-management",
    algorithm: "RSA_OAEP_4096_SHA256",
    keyType: "AES-256",
    wrapBits: 4096,
    wrapForm: "pubPem",
    scheme: "oaep-sha256",
    files: (k) => [`${k}-wrapped.bin`],
  },
  {
    provider: "google-cloud-key-management",
    algorithm: "RSA_OAEP_3072_SHA1_AES_256",
    keyType: "EC-NISTP256",
    wrapBits: 3072,
    wrapForm: "pubPem",
    scheme: "rsa-aes-sha1",
    files: (k) => [`${k}-wrapped.bin`],
  },
  // Microsoft Azure: no wrapAlg, the KEK id in -a, every seed key type
  ...["RSA-2048", "RSA-3072", "RSA-4096", "EC-NISTP256", "EC-NISTP384", "EC-NISTP521", "EC-SECP256K1"].map(
    (keyType): Case => ({
      provider: "microsoft-azure",
      keyType,
      defaultKeyType: keyType === "RSA-2048",
      wrapBits: 4096,
      wrapForm: "pubPem",
      scheme: "rsa-aes-sha1",
      files: (k) => [`KeyTransferPackage-${k}.byok`],
      extraArgs: ["-a", KID],
    }),
  ),
  // Salesforce: the BYOK certificate is RSA-4096; wrapped secret + hash
  ...SEED_AWS.map(
    (algorithm): Case => ({
      provider: "salesforce",
      algorithm,
      keyType: "AES-256",
      defaultKeyType: true,
      wrapBits: 4096,
      wrapForm: "cert",
      scheme: scheme(algorithm),
      files: (k) => [`${k}-wrapped`, `${k}-hash`],
      extraArgs: legacy(algorithm),
    }),
  ),
  // Alibaba Cloud KMS (ciop's addition): RSA-2048 wrapping key, base64 EncryptedKeyMaterial;
  // AES-256 by direct RSA encryption, key pairs by RSA-OAEP-SHA-256 + AES-256-ECB/PKCS#7
  ...SEED_AWS.map(
    (algorithm): Case => ({
      provider: "alibaba",
      algorithm,
      keyType: "AES-256",
      defaultKeyType: true,
      wrapBits: 2048,
      wrapForm: "pubPem",
      scheme: scheme(algorithm),
      files: (k) => [`${k}-wrapped`],
      extraArgs: legacy(algorithm),
    }),
  ),
  ...["RSA-2048", "RSA-3072", "EC-NISTP256", "EC-SECP256K1"].map(
    (keyType): Case => ({
      provider: "alibaba",
      algorithm: "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD",
      keyType,
      wrapBits: 2048,
      wrapForm: "pubPem",
      scheme: "rsa-aes-ecb-sha256",
      files: (k) => [`${k}-wrapped`],
    }),
  ),
  // OCI Vault (issue 18): RSA-4096 vault wrapping key; base64 key material + the CLI's JSON files
  ...(["AES-256", "RSA-3072"] as const).map(
    (keyType): Case => ({
      provider: "oci",
      algorithm: "RSA_OAEP_AES_SHA256",
      keyType,
      defaultKeyType: keyType === "AES-256",
      wrapBits: 4096,
      wrapForm: "pubPem",
      scheme: "rsa-aes-sha256",
      files: (k) => [`${k}.keymaterial.b64`, `${k}.wrapped-import-key.json`, `${k}.key-shape.json`],
    }),
  ),
  {
    provider: "oci",
    algorithm: "RSA_OAEP_SHA256",
    keyType: "AES-128",
    wrapBits: 4096,
    wrapForm: "pubPem",
    scheme: "oaep-sha256",
    files: (k) => [`${k}.keymaterial.b64`, `${k}.wrapped-import-key.json`, `${k}.key-shape.json`],
  },
  // HashiCorp Vault / OpenBao transit (issue 18): RSA-4096 transit wrapping key, hash_function as
  // the algorithm (SHA256 when none is given), base64 ciphertext + a JSON note with the command
  {
    provider: "vault-transit",
    keyType: "AES-256",
    defaultKeyType: true,
    wrapBits: 4096,
    wrapForm: "pubPem",
    scheme: "rsa-aes-sha256",
    files: (k) => [`${k}-wrapped`, `${k}-transit-import.json`],
  },
  {
    provider: "vault-transit",
    algorithm: "SHA1",
    keyType: "EC-NISTP384",
    wrapBits: 4096,
    wrapForm: "pubPem",
    scheme: "rsa-aes-sha1",
    files: (k) => [`${k}-wrapped`, `${k}-transit-import.json`],
  },
  {
    provider: "openbao",
    algorithm: "SHA512",
    keyType: "RSA-2048",
    wrapBits: 4096,
    wrapForm: "pubPem",
    scheme: "rsa-aes-sha512",
    files: (k) => [`${k}-wrapped`, `${k}-transit-import.json`],
  },
  // IBM Key Protect (issue 18): the import token's RSA-4096 key (its base64-of-PEM payload as given)
  // and its nonce; payload, encryptedNonce (AES-GCM under the new key) and iv
  ...(["AES-256", "AES-128"] as const).map(
    (keyType): Case => ({
      provider: "ibm-key-protect",
      keyType,
      defaultKeyType: keyType === "AES-256",
      wrapBits: 4096,
      wrapForm: "pemBase64",
      scheme: "oaep-sha256",
      files: (k) => [`${k}-payload`, `${k}-encryptedNonce`, `${k}-iv`, `${k}-create-key.json`],
      extraArgs: ["--ibm-nonce", IBM_NONCE],
    }),
  ),
  // Tencent Cloud KMS (issue 18, AWS-style rules): RSA-2048 wrapping key, AES-256 only, base64
  ...SEED_AWS.map(
    (algorithm): Case => ({
      provider: "tencent",
      algorithm,
      keyType: "AES-256",
      defaultKeyType: true,
      wrapBits: 2048,
      wrapForm: "spkiDer",
      scheme: scheme(algorithm),
      files: (k) => [`${k}-EncryptedKeyMaterial.b64`],
      extraArgs: legacy(algorithm),
    }),
  ),
  // Open Telekom Cloud / Huawei Cloud KMS: RSA-2048 wrapping key; key pairs as two files (the
  // OAEP-SHA-256 temporary key, then the RFC 5649 wrap of the PKCS#8 key), joined for the check
  ...(["AES-256", "RSA-2048"] as const).map(
    (keyType): Case => ({
      provider: "otc",
      algorithm: "RSAES_OAEP_SHA_256",
      keyType,
      defaultKeyType: keyType === "AES-256",
      wrapBits: 2048,
      wrapForm: "pubPem",
      scheme: keyType === "AES-256" ? "oaep-sha256" : "rsa-aes-sha256",
      files: (k) => (keyType === "AES-256" ? [`${k}-encrypted_key_material.b64`] : [`${k}-encrypted_key_material.b64`, `${k}-encrypted_privatekey.b64`]),
    }),
  ),
  {
    provider: "huawei",
    algorithm: "RSAES_OAEP_SHA_256",
    keyType: "RSA-3072",
    wrapBits: 2048,
    wrapForm: "pubPem",
    scheme: "rsa-aes-sha256",
    files: (k) => [`${k}-encrypted_key_material.b64`, `${k}-encrypted_privatekey.b64`],
  },
];

/** IBM Key Protect's import token gives its public key as base64 of the PEM text: a file of exactly that. */
function pemBase64(bits: number): string {
  const file = join(work, `payload-${bits}.b64`);
  writeFileSync(file, Buffer.from(readFileSync(keys.pubPem[bits]!)).toString("base64"));
  return file;
}

/** What the upload guidance of each provider's main file must mention. */
const UPLOAD_HINT: Record<string, RegExp> = {
  aws: /import token/,
  "google-compute-engine": /Wrapped key/,
  "google-cloud-key-management": /import job/,
  "microsoft-azure": /az keyvault key import .*--byok-file KeyTransferPackage-/,
  salesforce: /Encrypted Tenant Secret/,
  alibaba: /ImportKeyMaterial/,
  oci: /wrappedImportKey\.keyMaterial/,
  "ibm-key-protect": /ibmcloud kp key create e2e-AES-(256|128) .*-k /,
  tencent: /tccli kms ImportKeyMaterial --KeyId <key id> --ImportToken <ImportToken> --EncryptedKeyMaterial "\$\(cat e2e-AES-256-EncryptedKeyMaterial\.b64\)"/,
  otc: /encrypted_key_material/,
  huawei:
    /hcloud KMS ImportKeyMaterial .*--encrypted_key_material="\$\(cat e2e-RSA-3072-encrypted_key_material\.b64\)" --encrypted_privatekey="\$\(cat e2e-RSA-3072-encrypted_privatekey\.b64\)"/,
  "vault-transit":
    /vault write transit\/keys\/(e2e-AES-256\/import ciphertext=@e2e-AES-256-wrapped hash_function=SHA256 type=aes256-gcm96|e2e-EC-NISTP384\/import ciphertext=@e2e-EC-NISTP384-wrapped hash_function=SHA1 type=ecdsa-p384)\b/,
  openbao: /bao write transit\/keys\/e2e-RSA-2048\/import ciphertext=@e2e-RSA-2048-wrapped hash_function=SHA512 type=rsa-2048\b/,
};

/** NIST SP 800-57 strength of the RSA wrapping keys the tests use. */
const RSA_STRENGTH: Record<number, number> = { 2048: 112, 3072: 128, 4096: 152 };

function decodeFor(encoding: string): string {
  if (encoding === "json") return "byok";
  return encoding;
}

async function expectSameKey(keyName: string, keyType: string, result: Record<string, unknown>, dir: string): Promise<void> {
  if (keyType.startsWith("AES-") || keyType.startsWith("HMAC-")) {
    if (!kcvCache.has(keyName)) kcvCache.set(keyName, await hsmAesKcvHex(keyName, dir));
    expect(result.pkcs8).toBe(false);
    expect(result.len).toBe(Number(keyType.split("-")[1]) / 8);
    expect(result.kcv).toBe(kcvCache.get(keyName));
  } else {
    if (!pubCache.has(keyName)) pubCache.set(keyName, await hsmPublicKeyHex(keyName, dir));
    expect(result.pkcs8).toBe(true);
    expect(result.spki).toBe(pubCache.get(keyName));
  }
}

// Concurrent (jest maxConcurrency): each case is mostly waiting for child processes. Cases that share
// a key name may race to create it; citool's one-key guarantee makes that safe (see concurrent-export).
test.concurrent.each(cases.map((c) => [`${c.provider} ${c.algorithm ?? "(no wrapAlg)"} ${c.keyType} under RSA-${c.wrapBits}`, c] as const))(
  "%s: writes the seed's files and they unwrap, with an independent tool, to the HSM key",
  async (_title, c) => {
    const cwd = tempDir("run");
    const keyName = `e2e-${c.keyType}`;
    const wrapFile = c.wrapForm === "pemBase64" ? pemBase64(c.wrapBits) : keys[c.wrapForm][c.wrapBits]!;
    const args = [
      c.provider,
      keyName,
      wrapFile,
      ...(c.algorithm ? [c.algorithm] : []),
      ...(c.defaultKeyType ? [] : ["-k", c.keyType]),
      ...(c.extraArgs ?? []),
      "--json",
    ];
    let r = await runCli(args, { cwd });
    // Cases sharing a key name race to create it. On a token that holds nothing else (the fresh
    // p11-kit RPC token), the loser's cleanup can leave no object at all for a moment, which
    // @ciop/hsm will not take as "key absent" after it saw keys: it answers ERR_HSM "retry later"
    // and writes nothing. Retry once, as an operator would.
    // (Or the key this case found is deleted under it by a case that had made it and then failed,
    // e.g. one refused on this token: CKR_OBJECT_HANDLE_INVALID, ERR_HSM, nothing written.)
    if (r.code === 1 && /retry later|CKR_OBJECT_HANDLE_INVALID/.test(r.stderr) && listFiles(cwd).length === 0) {
      console.log(`retried once after "retry later": ${_title}`);
      r = await runCli(args, { cwd });
    }
    const why = notPossible(c);
    if (why !== undefined) {
      console.log(`not possible on this token, refusal checked instead: ${_title}: ${why}`);
      expect({ code: r.code, files: listFiles(cwd) }).toEqual({ code: 1, files: [] });
      return;
    }
    if (r.code !== 0) throw new Error(`citool ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as {
      key: { name: string; type: string; status: string };
      algorithm: string;
      wrappingKey: { type: string; bits: number; sha256: string; strength: number };
      artefacts: Array<{ path: string; fileName: string; sha256: string; encoding: string; usage: string }>;
    };
    expect(doc.key.name).toBe(keyName);
    expect(doc.key.type).toBe(c.keyType);
    expect(["created", "reused"]).toContain(doc.key.status);
    expect(doc.wrappingKey).toMatchObject({ type: "RSA", bits: c.wrapBits, strength: RSA_STRENGTH[c.wrapBits] });
    // the fingerprint is the SHA-256 of the SubjectPublicKeyInfo that openssl wrote
    expect(doc.wrappingKey.sha256).toBe(createHash("sha256").update(readFileSync(keys.spkiDer[c.wrapBits]!)).digest("hex"));
    if (c.algorithm) expect(doc.algorithm).toBe(c.algorithm);
    const names = doc.artefacts.map((a) => a.fileName);
    for (const f of c.files(keyName)) expect(names).toContain(f);
    expect(listFiles(cwd)).toEqual([...names].sort());
    for (const a of doc.artefacts) {
      expect(a.path).toBe(join(cwd, a.fileName));
      expect(createHash("sha256").update(readFileSync(a.path)).digest("hex")).toBe(a.sha256);
      expect(a.usage.length).toBeGreaterThan(10);
    }
    const main = doc.artefacts.find((a) => a.fileName === c.files(keyName)[0])!;
    expect(main.usage).toMatch(UPLOAD_HINT[c.provider]!);
    // OTC / Huawei key pairs: the two files are the two halves of one RSA-AES key wrap
    const parts = c.files(keyName);
    const joined = (c.provider === "otc" || c.provider === "huawei") && parts.length === 2 ? join(cwd, "..", `${keyName}-${c.provider}-joined.bin`) : undefined;
    if (joined !== undefined) writeFileSync(joined, Buffer.concat(parts.map((f) => Buffer.from(readFileSync(join(cwd, f), "utf8").trim(), "base64"))));
    const result = await pyVerify({
      file: joined ?? main.path,
      decode: joined !== undefined ? "binary" : decodeFor(main.encoding),
      scheme: c.scheme,
      priv: keys.priv[c.wrapBits]!,
      ...(c.provider === "ibm-key-protect" ? { gcm: { ciphertext: join(cwd, `${keyName}-encryptedNonce`), iv: join(cwd, `${keyName}-iv`) } } : {}),
    });
    await expectSameKey(keyName, c.keyType, result, cwd);

    if (c.provider === "microsoft-azure") {
      const byok = result.byok as { schema_version: string; header: Record<string, string>; generator: string };
      expect(byok.schema_version).toBe("1.0.0");
      expect(byok.header).toEqual({ kid: KID, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" });
    }
    if (c.provider === "salesforce") {
      const hash = doc.artefacts.find((a) => a.fileName === `${keyName}-hash`)!;
      expect(readFileSync(hash.path, "utf8").trim()).toBe(result.sha256b64);
    }
    if (c.provider === "oci") {
      const material = readFileSync(join(cwd, `${keyName}.keymaterial.b64`), "utf8");
      const json = doc.artefacts.find((a) => a.fileName === `${keyName}.wrapped-import-key.json`)!;
      expect(json.usage).toContain(`oci kms management key import --compartment-id <compartment OCID> --display-name ${keyName} `);
      expect(json.usage).toContain(`--key-shape file://${keyName}.key-shape.json --wrapped-import-key file://${keyName}.wrapped-import-key.json`);
      expect(JSON.parse(readFileSync(join(cwd, `${keyName}.wrapped-import-key.json`), "utf8"))).toEqual({
        keyMaterial: material,
        wrappingAlgorithm: c.algorithm,
      });
      const [family, size] = c.keyType.split("-") as [string, string];
      expect(JSON.parse(readFileSync(join(cwd, `${keyName}.key-shape.json`), "utf8"))).toEqual({ algorithm: family, length: Number(size) / 8 });
    }
    if (c.provider === "ibm-key-protect") {
      // the nonce, opened by python with the key it recovered from the payload
      expect(result.gcmPlaintextB64).toBe(IBM_NONCE);
      const body = JSON.parse(readFileSync(join(cwd, `${keyName}-create-key.json`), "utf8")) as { resources: Array<Record<string, unknown>> };
      expect(body.resources[0]).toMatchObject({
        name: keyName,
        payload: readFileSync(main.path, "utf8"),
        encryptedNonce: readFileSync(join(cwd, `${keyName}-encryptedNonce`), "utf8"),
        iv: readFileSync(join(cwd, `${keyName}-iv`), "utf8"),
        encryptionAlgorithm: "RSAES_OAEP_SHA_256",
      });
    }
    if (c.provider === "google-compute-engine") {
      const sha = doc.artefacts.find((a) => a.fileName === `${keyName}-sha256`);
      if (sha) expect(readFileSync(sha.path, "utf8").trim()).toBe(result.sha256b64);
    }
  },
  120_000,
);

test("plain (non-JSON) output names each file and what to upload it as; the second run reuses the key", async () => {
  const cwd = tempDir("text");
  const r1 = await runCli(["aws", "e2e-text", keys.spkiDer[4096]!, "RSAES_OAEP_SHA_1"], { cwd });
  expect(r1.code).toBe(0);
  expect(r1.stdout).toMatch(/Generated AES-256 key 'e2e-text'/);
  expect(r1.stdout).toContain("./e2e-text-wrapped");
  // the upload guidance is printed under the file
  expect(r1.stdout).toMatch(/\.\/e2e-text-wrapped .*\n\s+.*Wrapped key material.*import token/);
  const cwd2 = tempDir("text2");
  const r2 = await runCli(["aws", "e2e-text", keys.spkiDer[4096]!, "RSAES_OAEP_SHA_1"], { cwd: cwd2 });
  expect(r2.code).toBe(0);
  expect(r2.stdout).toMatch(/Reused AES-256 key 'e2e-text'/);
  const a = await pyVerify({ file: join(cwd, "e2e-text-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[4096]! });
  const b = await pyVerify({ file: join(cwd2, "e2e-text-wrapped"), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[4096]! });
  expect(a.kcv).toBe(b.kcv);
});
