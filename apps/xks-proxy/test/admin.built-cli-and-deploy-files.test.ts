/**
 * The admin commands through the built CLI (dist/main.js, as an operator runs them), and the
 * deployment files: the example config loads with the server's own loader, the systemd unit
 * passes `systemd-analyze verify`.
 */
import { testToken } from "@ciop/testkit";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { loadConfig } from "../src/proxy-config.js";
import { CLI, cli, pkcs11ToolSecretKeys, tempDir } from "./admin-helpers.js";

const DEPLOY = resolve(__dirname, "../../../deploy");
const hasSystemdAnalyze = spawnSync("systemd-analyze", ["--version"], { stdio: "ignore" }).error === undefined;
if (!hasSystemdAnalyze) console.warn("skipped: systemd-analyze verify of deploy/xks-proxy.service: systemd-analyze is not installed");
let dir: string;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (pnpm --filter @ciop/xks-proxy... build)`);
  dir = tempDir("cli");
});

describe("built CLI", () => {
  test("keys create via a config file (PIN from the environment) makes the key pkcs11-tool sees", async () => {
    const t = testToken();
    const cfg = join(dir, "xks.toml");
    writeFileSync(
      cfg,
      `[hsm]\nlibrary = "${t.lib}"\ntoken = "${t.label}"\npin_env = "MY_HSM_PIN"\n\n[[stores]]\nname = "a"\nuri_prefix = "/a/xks"\nkeys = ["cli-key-${process.pid}"]\n` +
        `[[stores.credentials]]\naccess_key_id = "AAAAAAAAAAAAAAAAAAAAAAAA"\nsecret_access_key = "${"s".repeat(44)}"\n`,
    );
    const name = `cli-key-${process.pid}`;
    const r = await cli(["keys", "create", name, "--config", cfg], { MY_HSM_PIN: t.pin });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(pkcs11ToolSecretKeys().filter((k) => k.label === name)).toHaveLength(1);
    const listed = await cli(["admin", "keys", "list", "--json"], { MY_HSM_PIN: t.pin, XKS_PROXY_CONFIG: cfg });
    expect(listed.code).toBe(0);
    const k = (JSON.parse(listed.out) as { keys: Array<{ name: string; stores: string[] }> }).keys.find((x) => x.name === name);
    expect(k?.stores).toEqual(["a"]);
  });

  test("usage errors exit 2 through the CLI, help exits 0", async () => {
    expect((await cli(["keys", "create"])).code).toBe(2);
    expect((await cli(["store-json", "--bogus"])).code).toBe(2);
    const h = await cli(["credential", "--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("credential new");
  });
});

describe("deploy/ files", () => {
  test("xks-proxy.toml.example loads with the server's loader once its env variables are set", async () => {
    const cfg = await loadConfig(join(DEPLOY, "xks-proxy.toml.example"), { XKS_HSM_PIN: "1234", XKS_STORE_A_SECRET_1: "x".repeat(44) });
    expect(cfg.source.format).toBe("ciop");
    expect(cfg.server.port).toBe(443);
    expect(cfg.server.tls?.certFile).toBe("/etc/xks-proxy/tls/fullchain.pem");
    expect(cfg.server.pingPort).toBe(8080);
    expect(cfg.server.processes).toBe(availableParallelism());
    expect(cfg.stores).toHaveLength(1);
    expect(cfg.stores[0]).toMatchObject({ name: "tenant-a", uriPrefix: "/tenant-a/xks", keys: ["tenant-a-key-01"], rateLimit: { rps: 1800 } });
    expect(cfg.health.fleetSize).toBe(3);
    expect(cfg.hsm.keyStateTtlMs).toBeLessThanOrEqual(1000);
  });

  // Test review: the ENOENT early return used to skip every check below, the unit text ones too.
  // Now the text is always checked and only `systemd-analyze verify` is skipped, with the reason printed.
  test("xks-proxy.service reloads with SIGHUP, runs as xks-proxy and reads its optional env file", () => {
    const unit = join(DEPLOY, "xks-proxy.service");
    const text = execFileSync("cat", [unit], { encoding: "utf8" });
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^User=xks-proxy$/m);
    expect(text).toMatch(/^EnvironmentFile=-\/etc\/xks-proxy\/xks-proxy.env$/m);
  });

  (hasSystemdAnalyze ? test : test.skip)("xks-proxy.service passes systemd-analyze verify", () => {
    const unit = join(DEPLOY, "xks-proxy.service");
    let out = "";
    try {
      out = execFileSync("systemd-analyze", ["verify", unit], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw new Error(`systemd-analyze verify failed: ${(err as { stderr?: string }).stderr}`);
    }
    expect(out).toBe("");
  });
});
