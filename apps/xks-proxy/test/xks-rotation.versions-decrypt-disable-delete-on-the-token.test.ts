/**
 * Issue 17, "XKS keys that rotate", on the real token: an external key id names a key family
 * (version 1 = the key labelled `<name>`, version N = `<name>~v<N>`); `xks-proxy keys rotate` adds a
 * version that becomes current; Encrypt records the version in ciphertextMetadata (checked with
 * python3-cryptography on keys imported with a known value), Decrypt picks it from there, so
 * ciphertexts made before rotation existed, the AWS sample proxy's (compat mode) and every
 * version's stay decryptable; a disabled version's ciphertexts → 400 InvalidStateException, a
 * deleted or never-made version's → 400 InvalidCiphertextException; the current version follows
 * disables; GetKeyMetadata is the same answer before and after; `keys show/list` print versions,
 * creation times and the current one; delete only when disabled and confirmed; a store key id that
 * looks like a version label is refused.
 *
 * Before this change: `keys rotate`/`show`/`delete` and `--version` did not exist (exit 2), every
 * Encrypt wrote C1 01 under the key labelled `<name>` whatever other keys the token held, and a
 * scheme-2 metadata was refused as unknown, so every test here failed.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { admin, hsmArgs, tempDir } from "./admin-helpers.js";
import { b64, ciopToml, createRawAesKey, md, post, replaceOrThrow, skipFileWithoutGcm, sleep, storeToml, testDir, type Resp } from "./proxy-helpers.js";

skipFileWithoutGcm("xks key rotation");

const TTL = 150;
const C = generateXksCredential();
const K1 = randomBytes(32).toString("hex");
const K3 = randomBytes(32).toString("hex");
const NAME = `rot-${randomBytes(3).toString("hex")}`;
const API = `/r/xks/kms/xks/v1/keys/${NAME}`;
const PT = randomBytes(200);
const AAD = Buffer.from("tenant=blue");
const SAMPLE_MD = Buffer.from("v0.0.1");

/**
 * AES-256-GCM outside the proxy (python3-cryptography). mode "spec": the XKS spec AAD over the
 * given metadata (what ciop writes); "sample": the AWS sample proxy's hashed-AAD scheme.
 * op "enc" returns {iv, ct, tag}; op "dec" returns the plaintext (Base64).
 */
function py(op: "enc" | "dec", mode: "spec" | "sample", keyHex: string, ctm: Buffer | undefined, args: Record<string, string> = {}): Record<string, string> {
  const code = `
import sys, os, json, base64, hashlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
a = json.loads(sys.argv[1]); key = bytes.fromhex(a["key"]); aad = base64.b64decode(a["aad"])
ctm = base64.b64decode(a["ctm"]) if a["ctm"] else b""
if a["mode"] == "spec": full = len(aad).to_bytes(2, "big") + aad + bytes([len(ctm)]) + ctm
else: full = len(aad).to_bytes(2, "big") + hashlib.sha256(aad).digest() + bytes([len(ctm)]) + ctm
if a["op"] == "enc":
    iv = os.urandom(12); out = AESGCM(key).encrypt(iv, base64.b64decode(a["pt"]), full)
    print(json.dumps({"initializationVector": base64.b64encode(iv).decode(), "ciphertext": base64.b64encode(out[:-16]).decode(), "authenticationTag": base64.b64encode(out[-16:]).decode()}))
else:
    pt = AESGCM(key).decrypt(base64.b64decode(a["iv"]), base64.b64decode(a["ct"]) + base64.b64decode(a["tag"]), full)
    print(json.dumps({"plaintext": base64.b64encode(pt).decode()}))
`;
  const input = JSON.stringify({ op, mode, key: keyHex, aad: b64(AAD), ctm: ctm ? b64(ctm) : "", pt: b64(PT), ...args });
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", code, input]).toString()) as Record<string, string>;
}

interface Ct {
  ciphertext: string;
  initializationVector: string;
  authenticationTag: string;
  ciphertextMetadata?: string;
}

let dir: string;
let adminDir: string;
let server: RunningServer;

const encrypt = (): Promise<Resp> =>
  post(
    server.url,
    `${API}/encrypt`,
    { requestMetadata: md("Encrypt"), plaintext: b64(PT), encryptionAlgorithm: "AES_GCM", additionalAuthenticatedData: b64(AAD) },
    { cred: C },
  );

const decrypt = (c: Ct): Promise<Resp> =>
  post(
    server.url,
    `${API}/decrypt`,
    {
      requestMetadata: md("Decrypt"),
      encryptionAlgorithm: "AES_GCM",
      additionalAuthenticatedData: b64(AAD),
      ciphertext: c.ciphertext,
      initializationVector: c.initializationVector,
      authenticationTag: c.authenticationTag,
      ...(c.ciphertextMetadata !== undefined ? { ciphertextMetadata: c.ciphertextMetadata } : {}),
    },
    { cred: C },
  );

const metadata = (): Promise<Resp> => post(server.url, `${API}/metadata`, { requestMetadata: md("CreateKey") }, { cred: C });

async function expectPlaintext(c: Ct): Promise<void> {
  const r = await decrypt(c);
  expect([r.status, r.json.errorName]).toEqual([200, undefined]);
  expect(Buffer.from(r.json.plaintext, "base64").equals(PT)).toBe(true);
}

async function expectRefused(c: Ct, errorName: string): Promise<void> {
  const r = await decrypt(c);
  expect([r.status, r.json.errorName]).toEqual([400, errorName]);
}

const ct = (r: Resp): Ct => ({
  ciphertext: r.json.ciphertext,
  initializationVector: r.json.initializationVector,
  authenticationTag: r.json.authenticationTag,
  ciphertextMetadata: r.json.ciphertextMetadata,
});

const hex = (s: string): string => Buffer.from(s, "base64").toString("hex");
/** Past the key-state TTL, with room for a loaded machine. */
const afterTtl = (): Promise<void> => sleep(TTL + 250);

beforeAll(async () => {
  dir = testDir("rotation");
  adminDir = tempDir("rotation");
  createRawAesKey(NAME, K1, { encrypt: true, decrypt: true });
  const toml = replaceOrThrow(
    ciopToml({
      stores: storeToml("r", "/r/xks", [NAME], [C]),
      healthKey: "rot-health",
      extra: `[compat]\nsample_proxy_aad = true\nsample_proxy_metadata_b64 = "${b64(SAMPLE_MD)}"`,
    }),
    "timeout_ms = 10000",
    `timeout_ms = 10000\nkey_state_ttl_ms = ${TTL}`,
  );
  const file = path.join(dir, "proxy.toml");
  writeFileSync(file, toml);
  server = await startServer(await loadConfig(file), { logSink: () => undefined });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

test("rotate, decrypt every version, disable, delete: the whole life of a key family", async () => {
  const metaBefore = await metadata();
  expect(metaBefore.json).toEqual({ keySpec: "AES_256", keyUsage: ["ENCRYPT", "DECRYPT"], keyStatus: "ENABLED" });

  // before any rotation: scheme 1 (C1 01), checked outside the proxy with the known key value
  const e1 = await encrypt();
  expect(hex(e1.json.ciphertextMetadata)).toBe("c101");
  const v1 = ct(e1);
  expect(
    Buffer.from(
      py("dec", "spec", K1, Buffer.from(v1.ciphertextMetadata!, "base64"), { iv: v1.initializationVector, ct: v1.ciphertext, tag: v1.authenticationTag })
        .plaintext!,
      "base64",
    ).equals(PT),
  ).toBe(true);
  // made before rotation existed (scheme 1 by another tool) and by the AWS sample proxy (with and without its metadata)
  const legacy: Ct = { ...(py("enc", "spec", K1, Buffer.from("c101", "hex")) as unknown as Ct), ciphertextMetadata: "wQE=" };
  const sample: Ct = { ...(py("enc", "sample", K1, SAMPLE_MD) as unknown as Ct), ciphertextMetadata: b64(SAMPLE_MD) };
  const sampleBare = py("enc", "sample", K1, undefined) as unknown as Ct;

  // rotate: version 2 (generated in the token) becomes current
  const rot = await admin(["keys", "rotate", NAME, "--json", ...hsmArgs(adminDir)]);
  expect([rot.code, rot.err]).toEqual([0, ""]);
  expect(JSON.parse(rot.out)).toMatchObject({
    command: "keys rotate",
    key: { name: NAME, version: 2, currentVersion: 2, created: { label: `${NAME}~v2`, enabled: true, usage: "encrypt-decrypt" } },
  });
  await afterTtl();
  const e2 = await encrypt();
  expect(hex(e2.json.ciphertextMetadata)).toBe("c10200000002");
  const v2 = ct(e2);

  // a third version with a known value (imported as another tool would): its ciphertext checks out in python
  createRawAesKey(`${NAME}~v3`, K3, { encrypt: true, decrypt: true });
  await afterTtl();
  const e3 = await encrypt();
  expect(hex(e3.json.ciphertextMetadata)).toBe("c10200000003");
  const v3 = ct(e3);
  const m3 = Buffer.from(v3.ciphertextMetadata!, "base64");
  expect(
    Buffer.from(py("dec", "spec", K3, m3, { iv: v3.initializationVector, ct: v3.ciphertext, tag: v3.authenticationTag }).plaintext!, "base64").equals(PT),
  ).toBe(true);
  const v3py: Ct = { ...(py("enc", "spec", K3, m3) as unknown as Ct), ciphertextMetadata: v3.ciphertextMetadata };

  for (const c of [v1, legacy, sample, sampleBare, v2, v3, v3py]) await expectPlaintext(c);
  // the version is in the AAD: the v3 ciphertext under version 2's metadata fails the tag check
  await expectRefused({ ...v3, ciphertextMetadata: b64(Buffer.from("c10200000002", "hex")) }, "InvalidCiphertextException");
  // GetKeyMetadata does not move with rotations
  expect((await metadata()).json).toEqual(metaBefore.json);

  // disable version 1: its ciphertexts (and the sample proxy's, under the original key) are refused, the others fine
  const off1 = await admin(["keys", "disable", NAME, "--version", "1", "--json", ...hsmArgs(adminDir)]);
  expect([off1.code, JSON.parse(off1.out).key]).toEqual([0, expect.objectContaining({ name: NAME, version: 1, enabled: false, changed: true })]);
  await afterTtl();
  for (const c of [v1, legacy, sample]) await expectRefused(c, "InvalidStateException");
  for (const c of [v2, v3, v3py]) await expectPlaintext(c);
  expect((await metadata()).json).toEqual(metaBefore.json);

  // disable the current version 3: version 2 (the highest enabled) becomes current
  expect((await admin(["keys", "disable", NAME, "--version", "3", ...hsmArgs(adminDir)])).code).toBe(0);
  await afterTtl();
  expect(hex((await encrypt()).json.ciphertextMetadata)).toBe("c10200000002");
  await expectRefused(v3, "InvalidStateException");

  // keys show: versions, creation times (ciop's own CKA_ID carries one), current
  const show = await admin(["keys", "show", NAME, "--json", ...hsmArgs(adminDir)]);
  expect(show.code).toBe(0);
  const fam = JSON.parse(show.out) as { key: { currentVersion: number; enabled: boolean; stores: string[]; versions: Array<Record<string, unknown>> } };
  expect(fam.key.currentVersion).toBe(2);
  expect(fam.key.versions.map((v) => [v.version, v.enabled, v.current])).toEqual([
    [1, false, false],
    [2, true, true],
    [3, false, false],
  ]);
  expect(Date.now() - Date.parse(String(fam.key.versions[1]!.createdAt))).toBeLessThan(10 * 60_000);
  expect(fam.key.versions[0]!.createdAt).toBeNull(); // imported by another tool: no creation time on the token
  const showText = await admin(["keys", "show", NAME, ...hsmArgs(adminDir)]);
  expect(showText.out).toMatch(/current version 2/);
  expect(showText.out).toMatch(new RegExp(`^2\\s+${NAME}~v2\\s+enabled\\s+encrypt-decrypt\\s+yes\\s+\\d{4}-\\d\\d-\\d\\dT`, "m"));
  const list = await admin(["keys", "list", "--json", ...hsmArgs(adminDir)]);
  const listed = (JSON.parse(list.out) as { keys: Array<Record<string, unknown>> }).keys.filter((k) => k.family === NAME);
  expect(listed.map((k) => [k.name, k.version, k.current])).toEqual([
    [NAME, 1, false],
    [`${NAME}~v2`, 2, true],
    [`${NAME}~v3`, 3, false],
  ]);
  const listText = await admin(["keys", "list", ...hsmArgs(adminDir)]);
  expect(listText.out).toMatch(new RegExp(`^${NAME}~v2\\s+AES_256\\s+enabled\\s+encrypt-decrypt\\s+ciop\\s+2 \\(current\\)`, "m"));

  // enabling a rotated key needs a version; delete needs a disabled version and a confirmation
  expect((await admin(["keys", "enable", NAME, ...hsmArgs(adminDir)])).code).toBe(2);
  const delOn = await admin(["keys", "delete", NAME, "--version", "2", "--yes", ...hsmArgs(adminDir)]);
  expect([delOn.code, delOn.err]).toEqual([2, expect.stringMatching(/is enabled: disable it first/)]);
  const delAsk = await admin(["keys", "delete", NAME, "--version", "3", ...hsmArgs(adminDir)]);
  expect([delAsk.code, delAsk.err]).toEqual([2, expect.stringMatching(/without confirmation: pass --yes/)]);
  const del = await admin(["keys", "delete", NAME, "--version", "3", "--yes", "--json", ...hsmArgs(adminDir)]);
  expect([del.code, JSON.parse(del.out).key]).toEqual([0, expect.objectContaining({ version: 3, deleted: true, currentVersion: 2, versionsLeft: [1, 2] })]);
  await afterTtl();
  // a deleted version, and one that never existed: the ciphertext cannot be decrypted
  await expectRefused(v3, "InvalidCiphertextException");
  await expectRefused({ ...v2, ciphertextMetadata: b64(Buffer.from("c10200000063", "hex")) }, "InvalidCiphertextException");
  await expectPlaintext(v2);

  // version 1 back on: its ciphertexts decrypt again; version 2 stays current
  expect((await admin(["keys", "enable", NAME, "--version", "1", ...hsmArgs(adminDir)])).code).toBe(0);
  await afterTtl();
  for (const c of [v1, legacy, sample, sampleBare]) await expectPlaintext(c);
  expect(hex((await encrypt()).json.ciphertextMetadata)).toBe("c10200000002");

  // disable without --version: every version off, the external key is DISABLED
  expect((await admin(["keys", "disable", NAME, ...hsmArgs(adminDir)])).code).toBe(0);
  await afterTtl();
  const off = await encrypt();
  expect([off.status, off.json.errorName]).toEqual([400, "InvalidStateException"]);
  expect((await metadata()).json.keyStatus).toBe("DISABLED");
}, 120_000);

test("hostile metadata through HTTP: refused with 400, never a 5xx", async () => {
  const c = ct(
    await (async () => {
      await admin(["keys", "enable", NAME, "--version", "2", ...hsmArgs(adminDir)]);
      await afterTtl();
      return encrypt();
    })(),
  );
  for (const m of ["c1020000000200", "c10300000002", "c102ffffffff", "c10200000000", "c102000002"]) {
    await expectRefused({ ...c, ciphertextMetadata: b64(Buffer.from(m, "hex")) }, "InvalidCiphertextException");
  }
  const long = await decrypt({ ...c, ciphertextMetadata: b64(Buffer.concat([Buffer.from("c102", "hex"), Buffer.alloc(19)])) });
  expect(long.status).toBe(400);
}, 60_000);

test("keys rotate refuses an unknown key; keys create refuses a name that is a rotated family", async () => {
  const r = await admin(["keys", "rotate", "no-such-family", ...hsmArgs(adminDir)]);
  expect([r.code, r.err]).toEqual([1, expect.stringMatching(/no AES-256 key 'no-such-family'/)]);
  const c = await admin(["keys", "create", NAME, ...hsmArgs(adminDir)]);
  expect([c.code, c.err]).toEqual([1, expect.stringMatching(/exists on token .*versions 1, 2.*keys rotate/)]);
});

test("a store key id that looks like a version label is refused at load", async () => {
  const f = path.join(dir, "bad.toml");
  writeFileSync(f, ciopToml({ stores: storeToml("r", "/r/xks", [`${NAME}~v2`], [C]), healthKey: "rot-health" }));
  await expect(loadConfig(f)).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringMatching(/looks like the label of a rotated key's version/),
  });
});
