/**
 * Issue 17, "XKS keys that rotate": the version state lives in the token, so two proxy instances
 * sharing it (one in this process, one a process of its own) agree on the current version within
 * a second of the key-state TTL after `keys rotate`, and again after the current version is
 * disabled; each decrypts the other's ciphertexts of every version.
 *
 * Before this change there was no `keys rotate` (exit 2) and both instances kept writing C1 01
 * under the original key whatever the token held, so this failed.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { admin, hsmArgs, tempDir } from "./admin-helpers.js";
import { ProxyProcess } from "./cluster-helpers.js";
import { b64, ciopToml, md, post, replaceOrThrow, skipFileWithoutGcm, sleep, storeToml, testDir, type Resp } from "./proxy-helpers.js";

skipFileWithoutGcm("xks key rotation across instances");

const TTL = 200;
/** The bound: every instance agrees within 1 s after the key-state TTL. */
const BOUND_MS = TTL + 1000;
const C = generateXksCredential();
const NAME = `rot2-${randomBytes(3).toString("hex")}`;
const API = `/t/xks/kms/xks/v1/keys/${NAME}`;

let a: RunningServer;
let b: ProxyProcess;
let bUrl: string;
let adminDir: string;

beforeAll(async () => {
  const dir = testDir("rotation-two");
  adminDir = tempDir("rotation-two");
  expect((await admin(["keys", "create", NAME, ...hsmArgs(adminDir)])).code).toBe(0);
  const toml = replaceOrThrow(
    ciopToml({ stores: storeToml("t", "/t/xks", [NAME], [C]), healthKey: "rot2-health" }),
    "timeout_ms = 10000",
    `timeout_ms = 10000\nkey_state_ttl_ms = ${TTL}`,
  );
  const file = path.join(dir, "proxy.toml");
  writeFileSync(file, toml);
  a = await startServer(await loadConfig(file), { logSink: () => undefined });
  b = new ProxyProcess(file);
  const [listening] = await b.waitFor((r) => r.msg === "listening" && typeof r.url === "string");
  bUrl = String(listening!.url);
}, 60_000);

afterAll(async () => {
  await b?.stop();
  await a?.close();
});

const encrypt = (url: string): Promise<Resp> =>
  post(url, `${API}/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64("shared token"), encryptionAlgorithm: "AES_GCM" }, { cred: C });

const decrypt = (url: string, e: Resp): Promise<Resp> =>
  post(
    url,
    `${API}/decrypt`,
    {
      requestMetadata: md("Decrypt"),
      encryptionAlgorithm: "AES_GCM",
      ciphertext: e.json.ciphertext,
      initializationVector: e.json.initializationVector,
      authenticationTag: e.json.authenticationTag,
      ciphertextMetadata: e.json.ciphertextMetadata,
    },
    { cred: C },
  );

const versionHex = async (url: string): Promise<string> => {
  const r = await encrypt(url);
  expect(r.status).toBe(200);
  return Buffer.from(r.json.ciphertextMetadata, "base64").toString("hex");
};

/** Milliseconds until both instances encrypt with `want` (polled every 25 ms; gives up after 5 s). */
async function untilBoth(want: string): Promise<number> {
  const start = Date.now();
  const seen = { a: false, b: false };
  while (Date.now() - start < 5000 && !(seen.a && seen.b)) {
    if (!seen.a) seen.a = (await versionHex(a.url)) === want;
    if (!seen.b) seen.b = (await versionHex(bUrl)) === want;
    if (!(seen.a && seen.b)) await sleep(25);
  }
  expect(seen).toEqual({ a: true, b: true });
  return Date.now() - start;
}

test("rotate: both instances move to version 2 within the TTL plus 1 s and decrypt each other's v1 and v2 ciphertexts", async () => {
  expect(await versionHex(a.url)).toBe("c101");
  expect(await versionHex(bUrl)).toBe("c101");
  const v1 = await encrypt(bUrl);

  const rot = await admin(["keys", "rotate", NAME, ...hsmArgs(adminDir)]);
  expect([rot.code, rot.err]).toEqual([0, ""]);
  expect(await untilBoth("c10200000002")).toBeLessThanOrEqual(BOUND_MS);

  const v2a = await encrypt(a.url);
  const v2b = await encrypt(bUrl);
  for (const [url, e] of [
    [a.url, v1],
    [a.url, v2b],
    [bUrl, v2a],
    [bUrl, v1],
  ] as const) {
    const d = await decrypt(url, e);
    expect([d.status, Buffer.from(d.json.plaintext ?? "", "base64").toString()]).toEqual([200, "shared token"]);
  }
}, 60_000);

test("disable the current version: both fall back to version 1 within the TTL plus 1 s; version 2's ciphertexts are refused on both", async () => {
  const v2 = await encrypt(a.url);
  expect(Buffer.from(v2.json.ciphertextMetadata, "base64").toString("hex")).toBe("c10200000002");
  expect((await admin(["keys", "disable", NAME, "--version", "2", ...hsmArgs(adminDir)])).code).toBe(0);
  expect(await untilBoth("c101")).toBeLessThanOrEqual(BOUND_MS);
  for (const url of [a.url, bUrl]) {
    const d = await decrypt(url, v2);
    expect([d.status, d.json.errorName]).toEqual([400, "InvalidStateException"]);
  }
}, 60_000);
