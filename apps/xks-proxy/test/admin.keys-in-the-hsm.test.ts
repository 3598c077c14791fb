/**
 * `xks-proxy keys ...` against the jest run's token under test (SoftHSM2; NSS softokn and SoftHSM2
 * through p11-kit's RPC in the token runs, issue 16); what the commands claim is checked with
 * pkcs11-tool (OpenSC), which nobody here wrote, or plain pkcs11js reads where pkcs11-tool cannot
 * open the token (admin-helpers.ts). Before issue 16's token runs, every test here failed on NSS
 * softokn: the commands opened the module without its library parameters (C_Initialize
 * CKR_ARGUMENTS_BAD) and the checks called pkcs11-tool, which cannot pass them.
 */
import { randomBytes } from "node:crypto";
import { admin, foreignAesKey, hsmArgs, pkcs11ToolSecretKeys, tempDir, tokenInfo, tokenMarksGeneratedKeysLocal } from "./admin-helpers.js";

let dir: string;
let hsm: string[];
const uniq = `${process.pid}-${Date.now().toString(36)}`;

beforeAll(() => {
  dir = tempDir("keys");
  hsm = hsmArgs(dir);
});

describe("keys create", () => {
  const name = `xks-create-${uniq}`;

  test("makes a sensitive, never-extractable AES-256 token key with encrypt+decrypt, as pkcs11-tool shows", async () => {
    const r = await admin(["keys", "create", name, ...hsm]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Created AES-256 key '${name}'`);
    const found = pkcs11ToolSecretKeys().filter((k) => k.label === name);
    expect(found).toHaveLength(1);
    const k = found[0]!;
    expect(k.kind).toBe("AES length 32");
    expect(k.usage).toEqual(expect.arrayContaining(["encrypt", "decrypt"]));
    expect(k.usage).not.toContain("wrap");
    expect(k.usage).not.toContain("unwrap");
    // "local" (generated in the token) where the token marks keys it generates so (not NSS softokn:
    // CKA_LOCAL false even for its own C_GenerateKey keys; asked of the token, support/p11-raw.cjs)
    const local = tokenMarksGeneratedKeysLocal();
    if (!local) console.log("this token does not set CKA_LOCAL on keys it generates; 'local' is not expected");
    expect(k.access).toEqual(expect.arrayContaining(["sensitive", "always sensitive", "never extractable", ...(local ? ["local"] : [])]));
    // ciop's CKA_ID marker: "ciop" + version 1
    expect(k.id).toMatch(/^63696f7001/);
  });

  test("refuses a second key with the same name (exit 1) and leaves one key", async () => {
    const r = await admin(["keys", "create", name, ...hsm]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("ERR_KEY_EXISTS");
    expect(pkcs11ToolSecretKeys().filter((k) => k.label === name)).toHaveLength(1);
  });

  // each case names the labels that must not appear (other test files share the token, so a
  // count of all keys could change under us)
  test.each([
    ["a name KMS cannot use", ["keys", "create", "bad name!"], ["bad name!"]],
    ["a 129-character name", ["keys", "create", "k".repeat(129)], ["k".repeat(129)]],
    ["no name", ["keys", "create"], []],
    ["two names", ["keys", "create", `two-a-${uniq}`, `two-b-${uniq}`], [`two-a-${uniq}`, `two-b-${uniq}`]],
    ["an unknown usage", ["keys", "create", `xks-usage-${uniq}`, "--usage", "sign-only"], [`xks-usage-${uniq}`]],
    ["an unknown option", ["keys", "create", `xks-opt-${uniq}`, "--exportable"], [`xks-opt-${uniq}`]],
    ["a PIN on the command line", ["keys", "create", `xks-pin-${uniq}`, "--pin", "1234"], [`xks-pin-${uniq}`]],
    ["an unknown subcommand", ["keys", "destroy", `xks-destroy-${uniq}`], [`xks-destroy-${uniq}`]],
  ])("%s is a usage error (exit 2) and creates nothing", async (_what, argv, labels) => {
    const r = await admin([...argv, ...hsm]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/xks-proxy keys: .+/);
    expect(r.out).toBe("");
    const present = new Set(pkcs11ToolSecretKeys().map((k) => k.label));
    for (const l of labels) expect(present.has(l)).toBe(false);
  });
});

describe("keys list / enable / disable", () => {
  const name = `xks-state-${uniq}`;

  beforeAll(async () => {
    const r = await admin(["keys", "create", name, ...hsm]);
    expect(r.code).toBe(0);
  });

  test("list --json reports the key as AES_256, enabled, created by ciop, sensitive and not extractable", async () => {
    const r = await admin(["keys", "list", "--json", ...hsm]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { keys: Array<Record<string, unknown>>; token: { label: string } };
    expect(doc.token.label).toBe(process.env.CIOP_TEST_TOKEN_LABEL);
    const k = doc.keys.find((x) => x.name === name);
    expect(k).toMatchObject({ name, keySpec: "AES_256", enabled: true, createdByCiop: true, sensitive: true, extractable: false });
    // only AES-256 keys without --all
    expect(doc.keys.every((x) => x.keySpec === "AES_256")).toBe(true);
  });

  test("disable removes encrypt/decrypt in the HSM (pkcs11-tool), list says disabled, enable restores them", async () => {
    const off = await admin(["keys", "disable", name, ...hsm]);
    expect(off.code).toBe(0);
    expect(off.out).toContain("disabled");
    const k1 = pkcs11ToolSecretKeys().find((k) => k.label === name)!;
    expect(k1.usage).not.toContain("encrypt");
    expect(k1.usage).not.toContain("decrypt");
    const listed = await admin(["keys", "list", ...hsm]);
    expect(listed.out).toMatch(new RegExp(`^${name}\\s+AES_256\\s+disabled\\s+none\\s+ciop`, "m"));

    const again = await admin(["keys", "disable", name, ...hsm]);
    expect(again.code).toBe(0);
    expect(again.out).toContain("already disabled");

    const on = await admin(["keys", "enable", name, "--json", ...hsm]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.out)).toMatchObject({ key: { name, enabled: true, usage: "encrypt-decrypt", changed: true } });
    const k2 = pkcs11ToolSecretKeys().find((k) => k.label === name)!;
    expect(k2.usage).toEqual(expect.arrayContaining(["encrypt", "decrypt"]));
  });

  test("enable/disable of a key that does not exist fails with exit 1 and names the key", async () => {
    const r = await admin(["keys", "disable", `missing-${uniq}`, ...hsm]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`missing-${uniq}`);
    expect(r.err).toContain("ERR_KEY_NOT_FOUND");
  });

  test("a key made by another tool (pkcs11-tool, as the AWS sample proxy's guides do) can be listed and disabled", async () => {
    const foreign = `xks-foreign-${uniq}`;
    foreignAesKey(foreign, randomBytes(5).toString("hex"));
    const listed = await admin(["keys", "list", "--json", ...hsm]);
    const k = (JSON.parse(listed.out) as { keys: Array<Record<string, unknown>> }).keys.find((x) => x.name === foreign);
    expect(k).toMatchObject({ keySpec: "AES_256", createdByCiop: false, enabled: true, usage: "encrypt-decrypt" });
    const off = await admin(["keys", "disable", foreign, ...hsm]);
    expect(off.code).toBe(0);
    expect(off.out).toContain("no usage");
    expect(pkcs11ToolSecretKeys().find((x) => x.label === foreign)!.usage).not.toContain("encrypt");
  });
});

describe("keys with one usage (encrypt-only / decrypt-only)", () => {
  test.each([
    ["encrypt-only", ["encrypt"], ["decrypt"]],
    ["decrypt-only", ["decrypt"], ["encrypt"]],
  ])("create --usage %s sets exactly that usage in the HSM, and survives disable + enable --usage", async (usage, has, lacks) => {
    const name = `xks-${usage}-${uniq}`;
    const r = await admin(["keys", "create", name, "--usage", usage, "--json", ...hsm]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ key: { name, keySpec: "AES_256", enabled: true, usage, sensitive: true, extractable: false } });
    const k = pkcs11ToolSecretKeys().find((x) => x.label === name)!;
    for (const u of has) expect(k.usage).toContain(u);
    for (const u of lacks) expect(k.usage).not.toContain(u);

    const listed = await admin(["keys", "list", "--json", ...hsm]);
    expect((JSON.parse(listed.out) as { keys: Array<Record<string, unknown>> }).keys.find((x) => x.name === name)).toMatchObject({ enabled: true, usage });

    const off = await admin(["keys", "disable", name, ...hsm]);
    expect(off.code).toBe(0);
    expect(off.out).toContain(`--usage ${usage}`);
    expect(
      pkcs11ToolSecretKeys()
        .find((x) => x.label === name)!
        .usage.filter((u) => u === "encrypt" || u === "decrypt"),
    ).toEqual([]);

    const on = await admin(["keys", "enable", name, "--usage", usage, "--json", ...hsm]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.out)).toMatchObject({ key: { enabled: true, usage, changed: true } });
    const k2 = pkcs11ToolSecretKeys().find((x) => x.label === name)!;
    for (const u of has) expect(k2.usage).toContain(u);
    for (const u of lacks) expect(k2.usage).not.toContain(u);

    // enabling an enabled key without --usage keeps its restriction
    const again = await admin(["keys", "enable", name, "--json", ...hsm]);
    expect(JSON.parse(again.out)).toMatchObject({ key: { enabled: true, usage, changed: false } });
  });

  test("--usage is refused by keys list and keys disable (exit 2)", async () => {
    expect((await admin(["keys", "list", "--usage", "encrypt-only", ...hsm])).code).toBe(2);
    expect((await admin(["keys", "disable", "x", "--usage", "encrypt-only", ...hsm])).code).toBe(2);
  });
});

describe("keys create with a config", () => {
  test("the config's health-check key name is refused (exit 2) and no key is made", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const t = process.env;
    const cfg = join(dir, "health.toml");
    const healthName = `health-${uniq}`;
    writeFileSync(
      cfg,
      `[hsm]\nlibrary = "${t.CIOP_TEST_LIB}"\n${t.CIOP_TEST_LIB_PARAMS ? `library_parameters = ${JSON.stringify(t.CIOP_TEST_LIB_PARAMS)}\n` : ""}` +
        `token = "${t.CIOP_TEST_TOKEN_LABEL}"\npin_env = "CIOP_TEST_PIN"\n[health]\nkey = "${healthName}"\n` +
        `[[stores]]\nname = "s"\nkeys = []\n[[stores.credentials]]\naccess_key_id = "AAAAAAAAAAAAAAAAAAAAAAAA"\nsecret_access_key = "${"q".repeat(44)}"\n`,
    );
    const r = await admin(["keys", "create", healthName, "--config", cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("health-check key");
    expect(pkcs11ToolSecretKeys().some((k) => k.label === healthName)).toBe(false);
  });
});

describe("AWS sample proxy settings file", () => {
  test("keys list reads the HSM and the allow-list from settings.toml via XKS_PROXY_SETTINGS_TOML", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const t = process.env;
    const name = `xks-sample-${uniq}`;
    expect((await admin(["keys", "create", name, ...hsm])).code).toBe(0);
    const settings = join(dir, "settings_softhsmv2.toml");
    writeFileSync(
      settings,
      `[server]\nip = "0.0.0.0"\nport = 80\nregion = "us-east-1"\nservice = "kms-xks-proxy"\n[security]\nis_sigv4_auth_enabled = true\nis_tls_enabled = false\nis_mtls_enabled = false\n` +
        `[[external_key_stores]]\nuri_path_prefix = "/example/uri/path/prefix"\nsigv4_access_key_id = "AKIA4GBY3I6JCE5M2HPM"\nsigv4_secret_access_key = "1234567890123456789012345678901234567890123="\nxks_key_id_set = ["${name}"]\n` +
        `[pkcs11]\nsession_pool_max_size = 30\nuser_pin = "${t.CIOP_TEST_PIN}"\nPKCS11_HSM_MODULE = "${t.CIOP_TEST_LIB}"\n`,
    );
    const saved = process.env.XKS_PROXY_SETTINGS_TOML;
    process.env.XKS_PROXY_SETTINGS_TOML = settings;
    try {
      // The sample proxy always uses the module's first slot; where that is not the token under
      // test (NSS softokn's first slot is its Generic Crypto Services, no keys), --token chooses it.
      const info = tokenInfo();
      const r = await admin(["keys", "list", "--json", ...(info.firstSlotToken === info.label ? [] : ["--token", info.label])]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const k = (JSON.parse(r.out) as { keys: Array<Record<string, unknown>> }).keys.find((x) => x.name === name);
      expect(k).toMatchObject({ enabled: true, stores: ["/example/uri/path/prefix"] });
      // the PIN from the settings file never shows up in the output
      expect(r.out).not.toContain(String(t.CIOP_TEST_PIN));
    } finally {
      if (saved === undefined) delete process.env.XKS_PROXY_SETTINGS_TOML;
      else process.env.XKS_PROXY_SETTINGS_TOML = saved;
    }
  });
});

describe("HSM selection", () => {
  test("a wrong PIN file fails with exit 1 and never prints the PIN", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const bad = join(dir, "bad-pin");
    writeFileSync(bad, "not-the-pin-123\n", { mode: 0o600 });
    const t = process.env;
    const r = await admin(["keys", "list", "--hsm-lib", t.CIOP_TEST_LIB!, "--token", t.CIOP_TEST_TOKEN_LABEL!, "--pin-file", bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/PIN/);
    expect(r.err + r.out).not.toContain("not-the-pin-123");
  });

  test("an unknown token label fails with exit 1 and lists the tokens seen", async () => {
    const r = await admin(["keys", "list", "--hsm-lib", process.env.CIOP_TEST_LIB!, "--token", "no-such-token", "--pin-file", `${dir}/pin`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("ERR_TOKEN_NOT_FOUND");
  });
});
