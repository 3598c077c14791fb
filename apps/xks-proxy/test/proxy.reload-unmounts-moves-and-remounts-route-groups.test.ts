/**
 * Issue 14, item 3: a reload that removes or moves a route group. Before the fix, removing
 * `[salesforce]` and reloading left the route serving keys with the old credentials, and a changed
 * `path_prefix` was half applied (old and new prefix both 404 until a restart). Also `[salesforce]
 * enabled = false` (item 2), which was parsed and ignored: the group is not mounted.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig } from "../src/proxy-config.js";
import { hashPassword } from "../src/salesforce/password.js";
import { startServer, type RunningServer } from "../src/server.js";
import { ciopToml, send, storeToml, testDir } from "./proxy-helpers.js";

const C1 = generateXksCredential();
const PASSWORD = "a long enough password for the test";
let dir: string;
let file: string;
let hash: string;
let srv: RunningServer;

function configText(salesforce: { prefix?: string; enabled?: boolean; extra?: string } | undefined): string {
  const section =
    salesforce === undefined
      ? ""
      : [
          "[salesforce]",
          ...(salesforce.enabled !== undefined ? [`enabled = ${salesforce.enabled}`] : []),
          `path_prefix = "${salesforce.prefix ?? "/co"}"`,
          'registry = "salesforce-keys.json"',
          'audit_log = "off"',
          salesforce.extra ?? "",
          "[salesforce.auth]",
          'basic_username = "sf"',
          `basic_password_hash = "${hash}"`,
        ].join("\n");
  return ciopToml({ stores: storeToml("rg", "/rg", ["rg-key"], [C1]), healthKey: "rg-health", extra: section });
}

/** Who answered GET <prefix>/some-kid with the right Basic credentials: the Salesforce group or the XKS router. */
async function whoAnswers(prefix: string): Promise<"salesforce" | "xks" | string> {
  const r = await send(srv.url, `${prefix}/some-kid`, "GET", { authorization: `Basic ${Buffer.from(`sf:${PASSWORD}`).toString("base64")}` }, "");
  if (r.json?.error === "KeyNotFound") return "salesforce";
  if (typeof r.json?.errorName === "string") return "xks";
  return `${r.status} ${r.body.slice(0, 100)}`;
}

async function reloadTo(text: string): Promise<void> {
  writeFileSync(file, text);
  await srv.reload();
}

beforeAll(async () => {
  dir = testDir("route-group-reload");
  hash = await hashPassword(PASSWORD, { logN: 14 });
  file = path.join(dir, "proxy.toml");
  writeFileSync(file, configText({ prefix: "/co" }));
  srv = await startServer(await loadConfig(file), { logSink: () => undefined });
});
afterAll(() => srv?.close());

test("a removed [salesforce] section unmounts the group, and adding it back mounts it again", async () => {
  expect(await whoAnswers("/co")).toBe("salesforce");
  await reloadTo(configText(undefined));
  expect(await whoAnswers("/co")).toBe("xks");
  await reloadTo(configText({ prefix: "/co" }));
  expect(await whoAnswers("/co")).toBe("salesforce");
});

test("a moved path_prefix is served at the new prefix only, from the next request on", async () => {
  await reloadTo(configText({ prefix: "/moved/keys" }));
  expect(await whoAnswers("/moved/keys")).toBe("salesforce");
  expect(await whoAnswers("/co")).toBe("xks");
  await reloadTo(configText({ prefix: "/co" }));
  expect(await whoAnswers("/co")).toBe("salesforce");
  expect(await whoAnswers("/moved/keys")).toBe("xks");
});

test("enabled = false unmounts the group; enabled = true mounts it", async () => {
  await reloadTo(configText({ prefix: "/co", enabled: false }));
  expect(await whoAnswers("/co")).toBe("xks");
  await reloadTo(configText({ prefix: "/co", enabled: true }));
  expect(await whoAnswers("/co")).toBe("salesforce");
});

test("a reload with a broken [salesforce] section is refused and the group keeps serving where it was", async () => {
  await expect(reloadTo(configText({ prefix: "/elsewhere", extra: 'colour = "blue"' }))).rejects.toThrow(/colour/);
  expect(await whoAnswers("/co")).toBe("salesforce");
  expect(await whoAnswers("/elsewhere")).toBe("xks");
});

test("a [salesforce] section disabled at start-up is not mounted", async () => {
  const f2 = path.join(dir, "disabled.toml");
  writeFileSync(f2, configText({ prefix: "/off", enabled: false }));
  const other = await startServer(await loadConfig(f2), { logSink: () => undefined });
  try {
    const r = await send(other.url, "/off/some-kid", "GET", { authorization: `Basic ${Buffer.from(`sf:${PASSWORD}`).toString("base64")}` }, "");
    expect(typeof r.json?.errorName).toBe("string");
    expect(r.json?.error).toBeUndefined();
  } finally {
    await other.close();
  }
});
