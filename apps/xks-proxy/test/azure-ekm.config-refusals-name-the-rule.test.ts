/**
 * Issue 17, "[azure_ekm]": a section that does not meet the API's transport rules, or that names a
 * setting nobody reads, is refused when the config is loaded, with a message that says which rule
 * and what to do. Before this work the section was an unknown table (refused as such, whatever was
 * in it). Spot-checked against broken code: with the shared-listener refusal and the unknown-key
 * check taken out of config.ts, the shared-listener, min_version, ciphers, misspelt-key and
 * switched-off cases failed.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseAzureEkmSection } from "../src/azure-ekm/config.js";
import { parseConfigText } from "../src/config/index.js";
import { BUILT_IN_ROUTE_GROUPS } from "../src/route-groups.js";
import { makeCerts, testDir } from "./proxy-helpers.js";

let dir: string;

const good = (): Record<string, unknown> => ({
  keys: ["ekm-1"],
  port: 0,
  tls: { cert_file: "server.pem", key_file: "server.key", client_ca_file: "ca.pem", client_subjects: ["pool.managedhsmclient.azure.net"] },
});

const refused = (section: unknown): string => {
  try {
    parseAzureEkmSection(section, dir);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("not refused");
};

beforeAll(() => {
  dir = testDir("azure-ekm-config");
  makeCerts(dir);
  writeFileSync(path.join(dir, "not-a-cert.pem"), "hello\n");
});

test("a good section is read, relative paths resolved against the config directory", () => {
  const c = parseAzureEkmSection({ ...good(), path_prefix: "contoso/prod/" }, dir);
  expect(c).toMatchObject({ pathPrefix: "/contoso/prod", port: 0, keys: ["ekm-1"], tls: { clientCaFile: path.join(dir, "ca.pem") } });
});

test.each([
  ["the shared listener, saying why its TLS cannot serve the API", { listener: "shared" }, /TLS 1\.2.*TLS_AES_128_GCM_SHA256.*listener = "own"/s],
  ["another listener value", { listener: "main" }, /listener must be "own"/],
  ["no [azure_ekm.tls]", { tls: undefined }, /\[azure_ekm\.tls\] is required.*mutual TLS/],
  ["no client CA (mTLS is mandatory)", { tls: { ...(good().tls as object), client_ca_file: undefined } }, /client_ca_file is required: mTLS is mandatory/],
  ["no accepted subject", { tls: { ...(good().tls as object), client_subjects: [] } }, /client_subjects is required/],
  ["a client CA file without a certificate", { tls: { ...(good().tls as object), client_ca_file: "not-a-cert.pem" } }, /holds no PEM certificate/],
  ["an unreadable server chain", { tls: { ...(good().tls as object), cert_file: "missing.pem" } }, /cert_file: cannot read/],
  ["a key that does not match the certificate", { tls: { ...(good().tls as object), key_file: "client.key" } }, /do not make a TLS context/],
  ["a TLS version setting (TLS 1.3 is fixed)", { tls: { ...(good().tls as object), min_version: "TLSv1.2" } }, /unknown key 'min_version'.*never ignored/s],
  ["a cipher setting (the two suites are fixed)", { tls: { ...(good().tls as object), ciphers: "ALL" } }, /unknown key 'ciphers'/],
  ["a misspelt key, with the nearest one", { keyz: ["a"] }, /unknown key 'keyz'.*did you mean 'keys'/s],
  [
    "a per-source connection cap above the overall one",
    { max_connections: 16, max_connections_per_source: 17 },
    /max_connections_per_source \(17\) must not exceed azure_ekm\.max_connections \(16\)/,
  ],
  ["a per-source connection cap that is not a whole number", { max_connections_per_source: 2.5 }, /max_connections_per_source must be a whole number/],
  ["no keys", { keys: undefined }, /keys is required/],
  ["a key name outside the API's alphabet", { keys: ["bad_name"] }, /not an external key identifier/],
  ["a path prefix over 64 characters", { path_prefix: `/${"a".repeat(64)}` }, /path_prefix must be at most 64/],
  ["a path prefix with other characters", { path_prefix: "/a.b" }, /path_prefix must be at most 64/],
  ["an empty path segment", { path_prefix: "/a//b" }, /without empty segments/],
])("refused: %s", (_, change, message) => {
  expect(refused({ ...good(), ...(change as object) })).toMatch(message);
});

describe("in the whole config file", () => {
  const toml = (extra: string, storeKeys = "[]") => `
[server]
ip = "127.0.0.1"
port = 0
[hsm]
library = "${process.env.CIOP_TEST_LIB}"
token = "t"
pin_env = "CIOP_TEST_PIN"
[[stores]]
keys = ${storeKeys}
[[stores.credentials]]
access_key_id = "AKIAAAAAAAAAAAAAAAAA"
secret_access_key = "${"s".repeat(44)}"
${extra}
[azure_ekm.tls]
cert_file = "server.pem"
key_file = "server.key"
client_ca_file = "ca.pem"
client_subjects = ["pool.managedhsmclient.azure.net"]
`;
  const load = (text: string) => parseConfigText(text, { dir, routeGroups: BUILT_IN_ROUTE_GROUPS });

  test("a valid section loads", async () => {
    await expect(load(toml(`[azure_ekm]\nkeys = ["ekm-1"]\nport = 0`))).resolves.toBeDefined();
  });

  test("a switched-off section is still validated (what the server runs for it at start and reload)", async () => {
    const c = await load(toml(`[azure_ekm]\nenabled = false\nkeys = ["ekm-1"]\nlistener = "shared"`));
    const reg = BUILT_IN_ROUTE_GROUPS.find((g) => g.section === "azure_ekm")!;
    expect(reg.enabled(c.routeGroups.azure_ekm)).toBe(false);
    expect(() => reg.validate(c.routeGroups.azure_ekm, dir)).toThrow(/listener = "shared" is refused/);
  });

  test("an XKS store may not list an Azure external key (it wraps caller bytes)", async () => {
    await expect(load(toml(`[azure_ekm]\nkeys = ["ekm-1"]\nport = 0`, `["ekm-1"]`))).rejects.toThrow(/Azure EKM external key 'ekm-1'/);
  });
});
