/**
 * @ciop/azure-ekm's handlers over an in-memory key manager (node's crypto standing in for the HSM,
 * which the proxy's own tests use for real): the statuses and `{code, message}` bodies the API
 * lists for each failure of the key manager, the strict base64url rule, the minimal big-endian
 * encoding of n and e, and the zeroing of the buffers the handlers own. Issue 17; before this
 * package none of it existed.
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, publicEncrypt, privateDecrypt, constants, randomBytes } from "node:crypto";
import { CiopError } from "@ciop/core";
import { decodeBase64url, handleEkmRequest, keyMetadata, type EkmCrypto, type EkmHandlerOptions } from "../src/index.js";

const kek = randomBytes(32);
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");
let fail: CiopError | undefined;
const seen: Uint8Array[] = [];

const crypto: EkmCrypto = {
  async describeKey(name) {
    if (fail) throw fail;
    if (name === "aes") return { keyType: "oct", keySize: 256, enabled: true };
    if (name === "off") return { keyType: "oct", keySize: 256, enabled: false };
    if (name === "rsa") {
      const j = publicKey.export({ format: "jwk" });
      return {
        keyType: "RSA",
        keySize: 2048,
        enabled: true,
        n: Buffer.concat([Buffer.alloc(1), Buffer.from(j.n!, "base64url")]),
        e: Buffer.from(j.e!, "base64url"),
      };
    }
    return undefined;
  },
  async wrap(_name, alg, key) {
    seen.push(key);
    if (alg === "A256KW") {
      const c = createCipheriv("id-aes256-wrap", kek, IV);
      return Buffer.concat([c.update(key), c.final()]);
    }
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP" ? "sha1" : "sha256" }, key);
  },
  async unwrap(_name, alg, wrapped) {
    try {
      if (alg === "A256KW") {
        const d = createDecipheriv("id-aes256-wrap", kek, IV);
        return Buffer.concat([d.update(wrapped), d.final()]);
      }
      return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP" ? "sha1" : "sha256" }, wrapped);
    } catch {
      throw new CiopError("ERR_DECRYPTION_FAILED", "no");
    }
  },
};

const opts: EkmHandlerOptions = {
  crypto,
  policy: { keys: ["aes", "off", "rsa", "gone"] },
  info: { proxyVendor: "v", proxyName: "p", ekmVendor: "ev", ekmProduct: "ep" },
};
const rc = { request_id: "r", correlation_id: "c", pool_name: "p" };
const call = (path: string, body: unknown, o: Partial<EkmHandlerOptions> = {}) =>
  handleEkmRequest(
    { method: "POST", path, apiVersion: "0.1-preview", contentType: "application/json", body: Buffer.from(JSON.stringify(body)) },
    { ...opts, ...o },
  );

afterEach(() => {
  fail = undefined;
});

test("wrap then unwrap round-trips; the handler zeroes the decoded input it passed to the key manager", async () => {
  const dek = randomBytes(32);
  const w = await call("aes/wrapkey", { request_context: rc, alg: "A256KW", value: dek.toString("base64url") });
  expect(w.status).toBe(200);
  expect(seen.at(-1)!.every((b) => b === 0)).toBe(true);
  const u = await call("aes/unwrapkey", { request_context: rc, alg: "A256KW", value: (w.body as { value: string }).value });
  expect(u.body).toEqual({ value: dek.toString("base64url") });
  expect(u.context).toEqual(rc);
});

test.each([
  ["ERR_TIMEOUT", 503, "ServiceUnavailable"],
  ["ERR_HSM", 502, "BadGateway"],
  ["ERR_KEY_DISABLED", 403, "KeyDisabled"],
  ["ERR_HOST_FALLBACK_REFUSED", 403, "OperationNotSupported"],
  ["ERR_INTERNAL", 500, "InternalServerError"],
] as const)("a key manager failing with %s is %i %s", async (code, status, ekmCode) => {
  fail = new CiopError(code, "secret detail that must not reach the caller");
  const r = await call("aes/metadata", { request_context: rc });
  expect(r.status).toBe(status);
  expect(r.body).toEqual({ code: ekmCode, message: expect.not.stringContaining("secret detail") });
});

test("a disabled key: 403 KeyDisabled for wrap and unwrap, metadata still answered", async () => {
  expect((await call("off/wrapkey", { request_context: rc, alg: "A256KW", value: randomBytes(32).toString("base64url") })).body).toMatchObject({
    code: "KeyDisabled",
  });
  expect((await call("off/metadata", { request_context: rc })).status).toBe(200);
});

test("base64url is strict: padding, the standard alphabet, whitespace and non-canonical tails are refused", () => {
  expect(decodeBase64url("AQAB", "v", 10)).toEqual(Buffer.from([1, 0, 1]));
  for (const bad of ["AQAB=", "a+b/", "AQ AB", "AR", "A"]) expect(() => decodeBase64url(bad, "v", 10)).toThrow(/base64url/);
  expect(() => decodeBase64url("AAAAAAAAAAAAAAAA", "v", 4)).toThrow(/longer than 4 bytes/);
});

test("n and e are the minimal unsigned big-endian bytes (a leading zero byte is dropped; 65537 is AQAB)", async () => {
  const r = await call("rsa/metadata", { request_context: rc });
  const j = publicKey.export({ format: "jwk" });
  expect(r.body).toStrictEqual({ key_type: "RSA", key_size: 2048, key_ops: ["wrapKey", "unwrapKey"], n: j.n, e: "AQAB" });
  expect(() => keyMetadata({ keyType: "oct", keySize: 128, enabled: true })).toThrow(/cannot serve this API/);
});

test("unlisted and missing keys are 404; the body bytes are zeroed after the request", async () => {
  expect((await call("nope/metadata", { request_context: rc })).status).toBe(404);
  expect((await call("gone/metadata", { request_context: rc })).body).toMatchObject({ code: "KeyNotFound" });
  const body = Buffer.from(JSON.stringify({ request_context: rc, alg: "A256KW", value: randomBytes(32).toString("base64url") }));
  await handleEkmRequest({ method: "POST", path: "aes/wrapkey", apiVersion: "0.1-preview", contentType: "application/json", body }, opts);
  expect(body.every((b) => b === 0)).toBe(true);
});
