/**
 * handleXksHttpRequest end to end without a server: the order of checks (404 path before 401,
 * 401 before 429 before 400 schema, 404 allow-list, 403 authorization never on health), the key
 * usage rules (CDIV on an encrypt-only key refused before encrypting), metadata scheme versions,
 * and sample-proxy compatibility on Decrypt. Key manager: the in-memory AES-GCM of helpers.ts.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { buildSampleProxyAad, handleXksHttpRequest, ThrottlingException, type XksHttpResult, type XksKeyStore, type XksServiceOptions } from "../src/index.js";
import { AKID, AKID2, MemoryCrypto, SECRET, SECRET2, clientSign, md } from "./helpers.js";

const HOST = "xks.example.com";
const STORE: XksKeyStore = {
  name: "a",
  uriPrefix: "/a/xks",
  credentials: [{ accessKeyId: AKID, secretAccessKey: SECRET }],
  keys: ["k", "enc-only", "dec-only", "none", "off", "ghost", "rsa"],
};
const API = "/a/xks/kms/xks/v1";
const crypto = new MemoryCrypto();
crypto.add("k");
crypto.add("enc-only", { canDecrypt: false });
crypto.add("dec-only", { canEncrypt: false });
crypto.add("none", { canEncrypt: false, canDecrypt: false });
crypto.add("off", { enabled: false });
crypto.add("rsa", { keySpec: "RSA_2048" });
const sampleKey = crypto.add("migrated");

let throttle = false;
let allowBob = false;
const options: XksServiceOptions = {
  stores: [STORE, { name: "b", uriPrefix: "", credentials: [{ accessKeyId: AKID2, secretAccessKey: SECRET2 }], keys: ["migrated"] }],
  crypto,
  health: () => ({
    xksProxyFleetSize: 2,
    xksProxyVendor: "ciop",
    xksProxyModel: "test",
    ekmVendor: "mem",
    ekmFleetDetails: [{ id: "m", model: "mem", healthStatus: "ACTIVE" }],
  }),
  admit: () => {
    if (throttle) throw new ThrottlingException("slow down");
  },
  authorize: (_s, _op, _k, m) => !allowBob || m.awsPrincipalArn === "arn:aws:iam::123456789012:user/Bob",
  compat: { sampleProxyAad: true, sampleProxyMetadata: Buffer.from("v1") },
};

async function req(path: string, body: unknown, o: { akid?: string; secret?: string; method?: string; sign?: boolean } = {}): Promise<XksHttpResult> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers = o.sign === false ? { host: HOST } : await clientSign({ path, body: text, host: HOST, akid: o.akid ?? AKID, secret: o.secret ?? SECRET });
  return handleXksHttpRequest({ method: o.method ?? "POST", url: path, headers, body: Buffer.from(text) }, options);
}

const err = (r: XksHttpResult) => [r.status, r.body ? (JSON.parse(r.body) as { errorName?: string }).errorName : undefined];
const enc = (extra: Record<string, unknown> = {}) => ({
  requestMetadata: md("Encrypt"),
  plaintext: Buffer.from("hi").toString("base64"),
  encryptionAlgorithm: "AES_GCM",
  ...extra,
});

describe("order of checks", () => {
  test("unknown prefix is 404 InvalidUriPathException even unsigned; GET on an API path is 405", async () => {
    expect(err(await req("/nope/kms/xks/v1/health", {}, { sign: false }))).toEqual([404, "InvalidUriPathException"]);
    expect(err(await req("/a/xks/kms/xks/v1/keys/k/rotate", {}, { sign: false }))).toEqual([404, "InvalidUriPathException"]);
    const get = await req(`${API}/health`, "", { method: "GET", sign: false });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
  });

  test("a bad signature is 401 before throttling, and throttling is 429 before schema checks", async () => {
    throttle = true;
    try {
      expect(err(await req(`${API}/health`, "{broken", { secret: SECRET2 }))).toEqual([401, "AuthenticationFailedException"]);
      expect(err(await req(`${API}/health`, "{broken"))).toEqual([429, "ThrottlingException"]);
    } finally {
      throttle = false;
    }
    expect(err(await req(`${API}/health`, "{broken"))).toEqual([400, "ValidationException"]);
  });

  test("schema: required members, standard Base64 only, unknown fields and kmsOperation values accepted", async () => {
    expect(err(await req(`${API}/health`, { requestMetadata: { kmsRequestId: "x" } }))).toEqual([400, "ValidationException"]);
    expect(err(await req(`${API}/keys/k/encrypt`, enc({ plaintext: "-_-_" })))).toEqual([400, "ValidationException"]);
    expect(err(await req(`${API}/keys/k/encrypt`, enc({ encryptionAlgorithm: "AES_CBC" })))).toEqual([400, "ValidationException"]);
    expect(err(await req(`${API}/keys/k/encrypt`, enc({ ciphertextDataIntegrityValueAlgorithm: "MD5" })))).toEqual([400, "ValidationException"]);
    const ok = await req(`${API}/keys/k/metadata`, { requestMetadata: { ...md("SomethingNew"), futureField: { nested: true } }, extra: 1 });
    expect(ok.status).toBe(200);
    expect(ok.body).not.toContain("\n");
    expect(err(await req(`${API}/health`, { requestMetadata: { kmsRequestId: "x", kmsOperation: "Brand new" } }))[0]).toBe(200);
  });

  test("allow-list and missing keys are 404; authorization refusals are 403 but never on health", async () => {
    expect(err(await req(`${API}/keys/other/encrypt`, enc()))).toEqual([404, "KeyNotFoundException"]);
    expect(err(await req(`${API}/keys/ghost/encrypt`, enc()))).toEqual([404, "KeyNotFoundException"]);
    allowBob = true;
    try {
      expect(err(await req(`${API}/keys/k/encrypt`, enc()))).toEqual([403, "AccessDeniedException"]);
      expect(
        (await req(`${API}/keys/k/encrypt`, enc({ requestMetadata: { ...md("Encrypt"), awsPrincipalArn: "arn:aws:iam::123456789012:user/Bob" } }))).status,
      ).toBe(200);
      expect((await req(`${API}/health`, { requestMetadata: md("KmsHealthCheck") })).status).toBe(200);
    } finally {
      allowBob = false;
    }
  });
});

describe("key usage and state", () => {
  test("encrypt-only, decrypt-only, no-usage, disabled and non-AES keys; CDIV on an encrypt-only key is refused before encrypting", async () => {
    const before = crypto.calls.encrypt;
    expect(err(await req(`${API}/keys/enc-only/encrypt`, enc({ ciphertextDataIntegrityValueAlgorithm: "SHA_256" })))).toEqual([
      400,
      "InvalidKeyUsageException",
    ]);
    expect(crypto.calls.encrypt).toBe(before);
    expect((await req(`${API}/keys/enc-only/encrypt`, enc())).status).toBe(200);
    for (const k of ["dec-only", "none", "rsa"]) expect(err(await req(`${API}/keys/${k}/encrypt`, enc()))).toEqual([400, "InvalidKeyUsageException"]);
    expect(err(await req(`${API}/keys/off/encrypt`, enc()))).toEqual([400, "InvalidStateException"]);
    const meta = await req(`${API}/keys/off/metadata`, { requestMetadata: md("CreateKey") });
    expect(JSON.parse(meta.body)).toEqual({ keySpec: "AES_256", keyUsage: ["ENCRYPT", "DECRYPT"], keyStatus: "DISABLED" });
    expect(JSON.parse((await req(`${API}/keys/dec-only/metadata`, { requestMetadata: md("CreateKey") })).body).keyUsage).toEqual(["DECRYPT"]);
  });

  test("decrypt: wrong IV or tag lengths, unknown metadata versions and a flipped bit are InvalidCiphertextException", async () => {
    const e = JSON.parse((await req(`${API}/keys/k/encrypt`, enc())).body) as Record<string, string>;
    const dec = (over: Record<string, unknown>) =>
      req(`${API}/keys/k/decrypt`, {
        requestMetadata: md("Decrypt"),
        encryptionAlgorithm: "AES_GCM",
        ciphertext: e.ciphertext,
        initializationVector: e.initializationVector,
        authenticationTag: e.authenticationTag,
        ciphertextMetadata: e.ciphertextMetadata,
        ...over,
      });
    expect((await dec({})).status).toBe(200);
    expect(err(await dec({ initializationVector: Buffer.alloc(8).toString("base64") }))).toEqual([400, "InvalidCiphertextException"]);
    expect(err(await dec({ authenticationTag: Buffer.alloc(12).toString("base64") }))).toEqual([400, "InvalidCiphertextException"]);
    expect(err(await dec({ ciphertextMetadata: Buffer.from([0xc1, 2]).toString("base64") }))).toEqual([400, "InvalidCiphertextException"]);
    expect(err(await dec({ ciphertextMetadata: undefined }))).toEqual([400, "InvalidCiphertextException"]);
    const tag = Buffer.from(e.authenticationTag!, "base64");
    tag[15]! ^= 0x80;
    expect(err(await dec({ authenticationTag: tag.toString("base64") }))).toEqual([400, "InvalidCiphertextException"]);
  });
});

describe("AWS sample proxy ciphertexts", () => {
  function sampleCiphertext(pt: Buffer, aad: Buffer | undefined, ctm: Buffer | undefined): Record<string, string> {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", sampleKey, iv);
    c.setAAD(buildSampleProxyAad(aad, ctm));
    const ct = Buffer.concat([c.update(pt), c.final()]);
    return { ciphertext: ct.toString("base64"), initializationVector: iv.toString("base64"), authenticationTag: c.getAuthTag().toString("base64") };
  }
  const path = "//kms/xks/v1/keys/migrated/decrypt";
  const call = (body: Record<string, unknown>) =>
    req(path, { requestMetadata: md("Decrypt"), encryptionAlgorithm: "AES_GCM", ...body }, { akid: AKID2, secret: SECRET2 });

  test("decrypt with no metadata or the configured static metadata, with and without AAD; other metadata refused", async () => {
    const pt = randomBytes(33);
    const aad = Buffer.from("tenant=42");
    for (const ctm of [undefined, Buffer.from("v1")]) {
      for (const a of [undefined, aad]) {
        const r = await call({
          ...sampleCiphertext(pt, a, ctm),
          ...(ctm ? { ciphertextMetadata: ctm.toString("base64") } : {}),
          ...(a ? { additionalAuthenticatedData: a.toString("base64") } : {}),
        });
        expect(r.status).toBe(200);
        expect(Buffer.from(JSON.parse(r.body).plaintext, "base64").equals(pt)).toBe(true);
      }
    }
    const other = Buffer.from("v2");
    expect(err(await call({ ...sampleCiphertext(pt, undefined, other), ciphertextMetadata: other.toString("base64") }))).toEqual([
      400,
      "InvalidCiphertextException",
    ]);
  });
});
