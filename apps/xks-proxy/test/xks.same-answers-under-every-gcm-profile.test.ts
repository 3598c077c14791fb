/**
 * Issue 16, "Vendor behaviour as probed profiles": AWS KMS sees the same XKS answers whatever the
 * token's AES-GCM behaviour. The proxy runs on the real SoftHSM token behind the fault module
 * (tools/pkcs11-fault), as SoftHSM is, and with the quirks of an nShield-like token (zero IV filled
 * by the token, bad tag = CKR_FUNCTION_FAILED), a CloudHSM-like one (zero IV filled, bad tag =
 * CKR_ENCRYPTED_DATA_INVALID) and a Luna-like one (empty IV, the IV after the tag), each with
 * `[hsm] profile = "auto"` (sync calls) and with the matching named profile (async calls). For each:
 * Encrypt with and without AAD, Decrypt back, wrong AAD, corrupted tag, corrupted ciphertext, wrong
 * key: the same statuses and error names as on SoftHSM; every Encrypt answer has a 12-byte IV, a
 * new one each time, and python3-cryptography opens its ciphertext under the spec's AAD.
 * Before the change: on the quirk tokens the proxy refused to start (no AES-GCM found: the probe
 * only tried a caller IV), and with a caller IV every Encrypt was refused by the token; on the
 * nShield-like token a corrupted tag was a 500, not InvalidCiphertextException.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Hsm } from "@ciop/hsm";
import { generateXksCredential } from "@ciop/xks";
import { parseConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { b64, ciopToml, createRawAesKey, md, post, replaceOrThrow, storeToml, testDir, type Resp } from "./proxy-helpers.js";

const C = generateXksCredential();
const API = "/p/kms/xks/v1";
const KEY = `gcm-prof-${process.pid}`;
const OTHER = `gcm-prof-other-${process.pid}`;
const HEALTH = `gcm-prof-health-${process.pid}`;
const keyHex = randomBytes(32).toString("hex");
const dir = testDir("gcm-profiles");
const control = new FaultControl(path.join(dir, "faults"));
const library = faultModuleCopy(dir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: control.file }));

const PY_OPEN = `import sys, json, base64
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
out = []
for a in json.load(sys.stdin):
    d = lambda k: base64.b64decode(a[k]) if a.get(k) is not None else b""
    aad, ctm = d("aad"), d("ctm")
    # the XKS spec's AAD for the key manager: BE16(len(aad)) || aad || U8(len(ctm)) || ctm
    full = len(aad).to_bytes(2, "big") + aad + bytes([len(ctm)]) + ctm
    try:
        out.append(base64.b64encode(AESGCM(bytes.fromhex(a["k"])).decrypt(d("iv"), d("ct") + d("tag"), full)).decode())
    except Exception as e:
        out.append("failed: %r" % e)
print(json.dumps(out))`;

const RUNS = [
  { name: "SoftHSM, auto", quirks: [], profile: "auto", mode: "auto" },
  { name: "SoftHSM, softhsm", quirks: [], profile: "softhsm", mode: "async" },
  { name: "nShield-like, auto", quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_FUNCTION_FAILED"], profile: "auto", mode: "auto" },
  { name: "nShield-like, nshield", quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_FUNCTION_FAILED"], profile: "nshield", mode: "async" },
  { name: "CloudHSM-like, auto", quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"], profile: "auto", mode: "auto" },
  { name: "CloudHSM-like, cloudhsm", quirks: ["quirk gcm-token-iv", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"], profile: "cloudhsm", mode: "async" },
  { name: "Luna-like, auto", quirks: ["quirk gcm-iv-after-tag", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"], profile: "auto", mode: "auto" },
  { name: "Luna-like, luna", quirks: ["quirk gcm-iv-after-tag", "quirk gcm-bad-tag CKR_ENCRYPTED_DATA_INVALID"], profile: "luna", mode: "async" },
] as const;

beforeAll(async () => {
  control.clear();
  createRawAesKey(KEY, keyHex, { encrypt: true, decrypt: true });
  createRawAesKey(OTHER, randomBytes(32).toString("hex"), { encrypt: true, decrypt: true });
});
afterAll(async () => {
  control.clear();
  const admin = await Hsm.open({ library: process.env.CIOP_TEST_LIB!, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
  for (const k of [KEY, OTHER, HEALTH]) if (admin.findKey(k)) admin.deleteKey(k);
  await admin.close();
});

/** What KMS sees of one run (statuses and error names), and the Encrypt answers for the python check. */
async function transcript(
  srv: RunningServer,
): Promise<{ seen: Array<[string, number, string | undefined]>; encs: Array<{ r: Resp; aad?: Buffer; pt: Buffer }> }> {
  const call = (key: string, op: "encrypt" | "decrypt", body: Record<string, unknown>) =>
    post(
      srv.url,
      `${API}/keys/${key}/${op}`,
      { requestMetadata: md(op === "encrypt" ? "Encrypt" : "Decrypt"), encryptionAlgorithm: "AES_GCM", ...body },
      { cred: C },
    );
  const seen: Array<[string, number, string | undefined]> = [];
  const note = (what: string, r: Resp) => seen.push([what, r.status, r.json?.errorName]);
  const aad = Buffer.from("project=nile");
  const pt = randomBytes(40);
  const encs: Array<{ r: Resp; aad?: Buffer; pt: Buffer }> = [];
  for (const withAad of [true, false, true]) {
    const r = await call(KEY, "encrypt", { plaintext: b64(pt), ...(withAad ? { additionalAuthenticatedData: b64(aad) } : {}) });
    note(`encrypt ${withAad ? "with" : "without"} AAD`, r);
    encs.push({ r, pt, ...(withAad ? { aad } : {}) });
  }
  const body = (e: Resp, extra: Record<string, unknown> = {}) => ({
    ciphertext: e.json.ciphertext,
    initializationVector: e.json.initializationVector,
    authenticationTag: e.json.authenticationTag,
    ciphertextMetadata: e.json.ciphertextMetadata,
    ...extra,
  });
  const flip = (s: string) => {
    const b = Buffer.from(s, "base64");
    b[b.length - 1]! ^= 1;
    return b.toString("base64");
  };
  const [e1, e2] = [encs[0]!.r, encs[1]!.r];
  let r = await call(KEY, "decrypt", body(e1, { additionalAuthenticatedData: b64(aad) }));
  note("decrypt with AAD", r);
  seen.push(["decrypted back", Buffer.from(r.json?.plaintext ?? "", "base64").equals(pt) ? 1 : 0, undefined]);
  r = await call(KEY, "decrypt", body(e2));
  note("decrypt without AAD", r);
  seen.push(["decrypted back", Buffer.from(r.json?.plaintext ?? "", "base64").equals(pt) ? 1 : 0, undefined]);
  note("wrong AAD", await call(KEY, "decrypt", body(e1, { additionalAuthenticatedData: b64("project=amazon") })));
  note("corrupted tag", await call(KEY, "decrypt", body(e1, { additionalAuthenticatedData: b64(aad), authenticationTag: flip(e1.json.authenticationTag) })));
  note("corrupted ciphertext", await call(KEY, "decrypt", body(e1, { additionalAuthenticatedData: b64(aad), ciphertext: flip(e1.json.ciphertext) })));
  note("wrong key", await call(OTHER, "decrypt", body(e1, { additionalAuthenticatedData: b64(aad) })));
  return { seen, encs };
}

let reference: Array<[string, number, string | undefined]> | undefined;

test.each(RUNS)(
  "$name: the same answers as SoftHSM, 12-byte fresh IVs, python opens every ciphertext",
  async ({ quirks, profile, mode }) => {
    control.set("# quirks", ...quirks);
    const toml = replaceOrThrow(
      replaceOrThrow(
        ciopToml({ stores: storeToml("p", "/p", [KEY, OTHER], [C]), healthKey: HEALTH }),
        `library = "${process.env.CIOP_TEST_LIB}"`,
        `library = "${library}"`,
      ),
      "timeout_ms = 10000",
      `timeout_ms = 10000\nprofile = "${profile}"\ncall_mode = "${mode}"`,
    );
    const srv = await startServer(await parseConfig(toml, { dir }), { logSink: () => undefined });
    try {
      const gcm = srv.hsm.capabilities().gcm!;
      expect(gcm.name).toBe(profile === "auto" ? "probed" : profile);
      const { seen, encs } = await transcript(srv);
      reference ??= seen; // the first run: SoftHSM as it is
      expect(seen).toEqual(reference);
      expect(seen.slice(0, 3).map((s) => s[1])).toEqual([200, 200, 200]);
      expect(seen.slice(-4).map((s) => s[2])).toEqual([
        "InvalidCiphertextException",
        "InvalidCiphertextException",
        "InvalidCiphertextException",
        "InvalidCiphertextException",
      ]);
      const ivs = encs.map((e) => Buffer.from(e.r.json.initializationVector, "base64"));
      for (const iv of ivs) expect(iv).toHaveLength(12);
      expect(new Set(ivs.map((iv) => iv.toString("hex"))).size).toBe(3);
      const opened = JSON.parse(
        execFileSync("/usr/bin/python3", ["-c", PY_OPEN], {
          input: JSON.stringify(
            encs.map((e) => ({
              k: keyHex,
              iv: e.r.json.initializationVector,
              ct: e.r.json.ciphertext,
              tag: e.r.json.authenticationTag,
              ctm: e.r.json.ciphertextMetadata,
              aad: e.aad ? b64(e.aad) : null,
            })),
          ),
          encoding: "utf8",
        }),
      ) as string[];
      expect(opened).toEqual(encs.map((e) => b64(e.pt)));
    } finally {
      await srv.close();
    }
  },
  60_000,
);

test("a named profile that does not match the token: the proxy does not start, and says what differed", async () => {
  control.set("# quirks", "quirk gcm-iv-after-tag");
  const toml = replaceOrThrow(
    replaceOrThrow(
      ciopToml({ stores: storeToml("p", "/p", [KEY], [C]), healthKey: HEALTH }),
      `library = "${process.env.CIOP_TEST_LIB}"`,
      `library = "${library}"`,
    ),
    "timeout_ms = 10000",
    'timeout_ms = 10000\nprofile = "cloudhsm"',
  );
  await expect(startServer(await parseConfig(toml, { dir }), { logSink: () => undefined })).rejects.toMatchObject({
    message: expect.stringMatching(
      /GCM profile "cloudhsm" expects the token to fill a 12-byte zero IV, but this token refused it with CKR_MECHANISM_PARAM_INVALID/,
    ),
  });
});
