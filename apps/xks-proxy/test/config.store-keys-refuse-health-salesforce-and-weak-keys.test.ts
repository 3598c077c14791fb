/**
 * Issue 14, item 5: a store's `keys` may not hold the deep-health key or a Salesforce cache-only
 * registry kid (refused when the config loads), nor a key that is extractable or not sensitive in
 * the HSM (refused at start and on reload, the running config kept; served with a warning only
 * under `allow_weak_keys = true`). A key listed before it exists is checked when first found.
 *
 * Before the fix all of this was accepted: the health key and a Salesforce DEK (extractable, made to
 * be wrapped for Salesforce) served KMS, and so did any extractable key.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig, parseConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { b64, ciopToml, md, post, storeToml, testDir } from "./proxy-helpers.js";

const dir = testDir("config-store-keys");
const C = generateXksCredential();
const P = `skp${process.pid}`;
const STRONG = `${P}-strong`;
const WEAK = `${P}-weak`;
const HEALTH = `${P}-health`;

const toml = (keys: string[], storeExtra = "", extra = "") => ciopToml({ stores: storeToml("s", "/s", keys, [C], storeExtra), healthKey: HEALTH, extra });
const encrypt = (srv: RunningServer, key: string) =>
  post(srv.url, `/s/kms/xks/v1/keys/${key}/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64("hello"), encryptionAlgorithm: "AES_GCM" }, { cred: C });
const records = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

let admin: RunningServer;
beforeAll(async () => {
  // a proxy only to reach the token: make one sensitive non-extractable key and one extractable key
  admin = await startServer(await parseConfig(toml([]), { dir }), { logSink: () => undefined });
  await admin.hsm.generateKey(STRONG, "AES-256", { extractable: false });
  await admin.hsm.generateKey(WEAK, "AES-256", { extractable: true });
}, 60_000);
afterAll(async () => {
  await admin?.close();
});

describe("refused when the config loads", () => {
  test("the deep-health key in a store's keys", async () => {
    await expect(parseConfig(toml([STRONG, HEALTH]), { dir })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringContaining(`key store 's': keys lists '${HEALTH}', the deep-health key ([health] key)`),
    });
  });

  test("a kid of the Salesforce cache-only registry in a store's keys", async () => {
    const registry = {
      version: 1,
      keys: { "sf-kid-1": { kid: "sf-kid-1", hsmLabel: "sf-kid-1", hsmId: "01", state: "enabled", createdAt: new Date().toISOString() } },
    };
    writeFileSync(path.join(dir, "sf-registry.json"), JSON.stringify(registry));
    const sf = '[salesforce]\nregistry = "sf-registry.json"\npath_prefix = "/sf"';
    await expect(parseConfig(toml([STRONG, "sf-kid-1"], "", sf), { dir })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringMatching(/keys lists 'sf-kid-1', the HSM key of Salesforce cache-only key 'sf-kid-1' \(registry .*sf-registry\.json\)/),
    });
    // the same store without the kid loads
    await expect(parseConfig(toml([STRONG], "", sf), { dir })).resolves.toBeDefined();
  });
});

describe("checked in the HSM", () => {
  test("an extractable store key fails the start, naming it; allow_weak_keys serves it with a warning", async () => {
    const cfg = await parseConfig(toml([STRONG, WEAK]), { dir });
    await expect(startServer(cfg, { logSink: () => undefined })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringContaining(`'${WEAK}' (store 's') is extractable (CKA_EXTRACTABLE true)`),
    });
    const lines: string[] = [];
    const srv = await startServer(await parseConfig(toml([STRONG, WEAK], "allow_weak_keys = true"), { dir }), { logSink: (l) => lines.push(l) });
    try {
      expect(records(lines)).toContainEqual(
        expect.objectContaining({ msg: "config-warning", warning: expect.stringContaining(`serves key '${WEAK}', which is extractable`) }),
      );
      expect((await encrypt(srv, WEAK)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });

  test("a reload that adds an extractable key is refused and the running config kept", async () => {
    const file = path.join(dir, "reload.toml");
    writeFileSync(file, toml([STRONG]));
    const lines: string[] = [];
    const srv = await startServer(await loadConfig(file), { logSink: (l) => lines.push(l) });
    try {
      writeFileSync(file, toml([STRONG, WEAK]));
      await expect(srv.reload()).rejects.toThrow(/'.*-weak' \(store 's'\) is extractable/);
      expect(records(lines)).toContainEqual(expect.objectContaining({ msg: "config-reload-failed" }));
      expect((await encrypt(srv, STRONG)).status).toBe(200);
      expect((await encrypt(srv, WEAK)).json.errorName).toBe("KeyNotFoundException"); // still the old allow-list
    } finally {
      await srv.close();
    }
  });

  test("a key listed before it exists is allowed, and checked when first found", async () => {
    const lateWeak = `${P}-late-weak`;
    const lateOk = `${P}-late-ok`;
    const lines: string[] = [];
    const srv = await startServer(await parseConfig(toml([STRONG, lateWeak, lateOk]), { dir }), { logSink: (l) => lines.push(l) });
    try {
      expect((await encrypt(srv, lateWeak)).json.errorName).toBe("KeyNotFoundException");
      await srv.hsm.generateKey(lateWeak, "AES-256", { extractable: true });
      await srv.hsm.generateKey(lateOk, "AES-256", { extractable: false });
      const refused = await encrypt(srv, lateWeak);
      expect([refused.status, refused.json.errorName]).toEqual([400, "InvalidStateException"]);
      expect((await encrypt(srv, lateWeak)).json.errorName).toBe("InvalidStateException");
      expect(records(lines).filter((r) => r.msg === "store-key-refused")).toEqual([
        expect.objectContaining({ level: "warn", store: "s", key: lateWeak, problem: expect.stringContaining("extractable") }),
      ]);
      expect((await encrypt(srv, lateOk)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});
