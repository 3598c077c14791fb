/**
 * Issue 15, "citool cold start": a cold export loads only what it needs. Before the fix every run
 * loaded all five provider packages, every command module, smol-toml and, through @ciop/wrap,
 * @peculiar/x509 with its ~200 ASN.1 modules (tsyringe, reflect-metadata, asn1-schema/-x509/-cms/
 * -pfx...): `aws <existing key> <SPKI> RSAES_OAEP_SHA_1` took 2.7x a bare pkcs11js script's wall
 * time (bench/citool). The first test failed then on those twelve packages. A plain public key
 * now needs no ASN.1 decoder at all (not even asn1js). The other two are the controls: the
 * recorder does see the X.509 library, the decoder, the TOML parser and the provider packages when
 * a command needs them.
 *
 * The built dist/cli.js runs with test/support/record-loads.mjs preloaded (NODE_OPTIONS --import),
 * which writes every module the process loaded (ESM loader and CommonJS cache) to a file.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { assertBuilt, makeWrappingKeys, runCli, tempDir, type WrappingKeys } from "./helpers.js";

const RECORDER = pathToFileURL(resolve(__dirname, "support/record-loads.mjs")).href;

let keys: WrappingKeys;

beforeAll(async () => {
  assertBuilt();
  keys = await makeWrappingKeys(join(tempDir("loads"), "wk"), [2048]);
}, 120_000);

/** Package names (and citool's own dist files other than cli.js) of every module a run loaded. */
function packagesIn(recordFile: string): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(recordFile, "utf8").split("\n")) {
    if (!line.startsWith("file:") && !line.startsWith("/")) continue;
    const path = line.startsWith("file:") ? decodeURIComponent(new URL(line).pathname) : line;
    const nm = [...path.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].at(-1);
    const ws = /\/packages\/([^/]+)\/(?:dist|src)\//.exec(path);
    const own = /\/apps\/citool\/dist\/([a-z-]+)\.js$/.exec(path);
    if (nm) names.add(nm[1]!);
    else if (ws) names.add(`@ciop/${ws[1]}`);
    if (own && own[1] !== "cli") names.add(`citool:${own[1]}`);
  }
  return names;
}

async function recordedRun(args: string[], cwd: string, noHsmArgs = false): Promise<{ code: number | null; stderr: string; loaded: Set<string> }> {
  const record = join(cwd, "loaded-modules.txt");
  writeFileSync(record, "");
  const r = await runCli(args, { cwd, noHsmArgs, env: { NODE_OPTIONS: `--import=${RECORDER}`, CIOP_RECORD_LOADS: record } });
  return { code: r.code, stderr: r.stderr, loaded: packagesIn(record) };
}

const X509_STACK = ["@peculiar/x509", "@peculiar/asn1-x509", "@peculiar/asn1-schema", "@peculiar/asn1-cms", "reflect-metadata", "tsyringe"];
const OTHER_PROVIDERS = [
  "@ciop/providers-gcp",
  "@ciop/providers-azure",
  "@ciop/providers-salesforce",
  "@ciop/providers-alibaba",
  "@ciop/salesforce-cache-only",
];

test("a cold AWS export of an existing key under a DER public key loads one provider package, no X.509/TOML/JOSE library and no other command", async () => {
  const cwd = tempDir("loads-export");
  const first = await runCli(["aws", "loads-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", cwd], { cwd });
  expect([first.code, first.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  const out = join(cwd, "again");
  mkdirSync(out);
  const r = await recordedRun(["aws", "loads-1", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--out-dir", out], cwd);
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  const unneeded = [...X509_STACK, "asn1js", ...OTHER_PROVIDERS, "smol-toml", "jose", "citool:salesforce-cache-only"];
  expect(unneeded.filter((p) => r.loaded.has(p))).toEqual([]);
  // what an export does need, so the recorder is known to see ESM packages and CommonJS ones
  for (const needed of ["@ciop/providers-aws", "@ciop/wrap", "@ciop/hsm", "pkcs11js"]) expect(r.loaded).toContain(needed);
});

test("control: inspecting a certificate loads the X.509 library and every provider package", async () => {
  const cwd = tempDir("loads-inspect");
  const r = await recordedRun(["inspect", keys.cert[2048]!], cwd, true);
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  for (const needed of ["@peculiar/x509", "@peculiar/asn1-x509", "asn1js", "@ciop/providers-aws", ...OTHER_PROVIDERS.slice(0, 4)])
    expect(r.loaded).toContain(needed);
});

test("control: a config file loads the TOML parser", async () => {
  const cwd = tempDir("loads-config");
  writeFileSync(join(cwd, "citool.toml"), `[output]\ndir = "out"\n`);
  mkdirSync(join(cwd, "out"));
  const r = await recordedRun(["--config", "citool.toml", "aws", "loads-3", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"], cwd);
  expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
  expect(r.loaded).toContain("smol-toml");
});

test("--version and --help open no HSM: neither @ciop/hsm nor pkcs11js is loaded, and --version loads no provider", async () => {
  const cwd = tempDir("loads-version");
  const v = await recordedRun(["--version"], cwd, true);
  expect([v.code, v.stderr]).toEqual([0, ""]);
  expect(["@ciop/hsm", "pkcs11js", "@ciop/providers-aws", ...OTHER_PROVIDERS, ...X509_STACK].filter((p) => v.loaded.has(p))).toEqual([]);
  const h = await recordedRun(["--help"], cwd, true);
  expect([h.code, h.stderr]).toEqual([0, ""]);
  expect(["@ciop/hsm", "pkcs11js", ...X509_STACK].filter((p) => h.loaded.has(p))).toEqual([]);
});
