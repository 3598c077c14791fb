/**
 * Issue 18 review C, findings 1, 2, 4, 5, 6, 8 and 9, through the built citool on the SoftHSM test
 * token (version records are token data objects: not on NSS). Records are planted the way the
 * reviewer did, with OpenSC's pkcs11-tool (`--write-object --type data --application-label
 * 'ciop key version'`), under the label records had before the key's CKA_ID went into it
 * (`<version label>~meta`), which is still read.
 *
 * What failed before the fixes:
 * 1. a planted description `it's $(id)` made `--key-material-version` exit 2 (ERR_USAGE) AFTER it had
 *    written `<name>-v2-wrapped`, with nothing in the audit log;
 * 2. `keys annotate 'fam~v2' 1` (a version label taken for a family) destroyed the record of
 *    version 2 of `fam` (its description and KeyMaterialId were gone);
 * 4. a later record with an empty keyId (a placeholder) or another key's CKA_ID hid the real one:
 *    `keys show` lost the description and the command lost --key-material-id/-description;
 * 5. the notes said rotate-key-on-demand first, replicas after (AWS wants the replicas first);
 * 6. the artefact's usage line printed the generic import command without --import-type;
 * 8. a taken `<name>~vN` label said only "a key named … already exists";
 * 9. a version 1 made again (old one removed behind citool's back) silently adopted version 2.
 */
import { testToken, testTokenKind } from "@ciop/testkit";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, execFileP, listFiles, makeWrappingKeys, runCli, tempDir, type WrappingKeys } from "./helpers.js";

const ALG = "RSAES_OAEP_SHA_1";
const ID_A = "0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6";
const ID_B = "1c8fe8eecbd7fff38a18524678dbe9d921f3994ed9b8645178b93ff2253fd2f7";
const maybe = testTokenKind() === "nss" ? test.skip : test;

let keys: WrappingKeys;
let cwd: string;

beforeAll(async () => {
  assertBuilt();
  cwd = tempDir("rotation-records");
  keys = await makeWrappingKeys(join(cwd, "wk"), [2048]);
}, 120_000);

/** pkcs11-tool on the test token, logged in. */
async function p11(args: string[]): Promise<string> {
  const t = testToken();
  return (await execFileP("pkcs11-tool", ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, ...args])).stdout;
}

/** Writes a version record as a data object labelled `label`, as any PKCS#11 tool could. */
async function plantRecord(label: string, doc: Record<string, unknown>): Promise<void> {
  const file = join(cwd, `record-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ format: 1, annotations: {}, ...doc }));
  await p11(["--write-object", file, "--type", "data", "--application-label", "ciop key version", "--label", label, "--private"]);
}

async function keyId(label: string): Promise<string> {
  const list = JSON.parse((await runCli(["keys", "list", "--all", "--json"], { cwd })).stdout).keys as Array<{ name: string; id: string }>;
  return list.find((k) => k.name === label)!.id;
}

const versionsOf = async (name: string) => {
  const r = await runCli(["keys", "show", name, "--json"], { cwd });
  const doc = JSON.parse(r.stdout);
  return { versions: doc.key.versions as Array<Record<string, unknown>>, warnings: doc.warnings as string[] };
};

const later = () => new Date(Date.now() + 3_600_000).toISOString();

async function family(name: string): Promise<void> {
  expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG], { cwd })).code).toBe(0);
  expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material", "--key-material-description", "second one"], { cwd })).code).toBe(0);
}

maybe(
  "finding 1: a recorded value AWS would refuse is left out with a warning; the export completes and is audited",
  async () => {
    const name = `rec1-${process.pid}`;
    await family(name);
    const id2 = await keyId(`${name}~v2`);
    await plantRecord(`${name}~v2~meta`, {
      name,
      version: 2,
      keyId: id2,
      created: later(),
      updated: later(),
      description: "it's $(id)",
      annotations: { "aws.keyMaterialId": "not-an-id; rm -rf /" },
    });
    const out = tempDir("rec1-out");
    const audit = join(out, "a.log");
    const r = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--key-material-version", "2", "--audit-log", audit, "--out-dir", out], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the description recorded for version 2 .* left out/);
    expect(r.stderr).toMatch(/warning: the KeyMaterialId recorded for version 2 .* left out/);
    expect(r.stderr).not.toContain("$(id)");
    expect(r.stdout).not.toContain("$(id)");
    expect(r.stdout).not.toContain("--key-material-id");
    expect(r.stdout).not.toContain("--key-material-description");
    expect(listFiles(out)).toEqual(["a.log", `${name}-v2-wrapped`]);
    const lines = readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.operation, l.outcome])).toEqual([["export", "ok"]]);
    const show = await versionsOf(name);
    expect(show.versions[1]).toMatchObject({ version: 2, description: null, awsKeyMaterialId: null });
    expect(show.warnings).toHaveLength(2);
  },
  90_000,
);

maybe(
  "finding 2: a version label is refused as a family name, and version 2's record survives",
  async () => {
    const name = `rec2-${process.pid}`;
    await family(name);
    expect((await runCli(["keys", "annotate", name, "2", "--aws-key-material-id", ID_A], { cwd })).code).toBe(0);
    const bad = await runCli(["keys", "annotate", `${name}~v2`, "1", "--aws-key-material-id", ID_B, "--json"], { cwd });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe("ERR_KEY_NAME_INVALID");
    const exp = await runCli(["aws", `${name}~v2`, keys.spkiDer[2048]!, ALG, "--key-material-version", "1", "--json"], { cwd: tempDir("rec2-out") });
    expect(JSON.parse(exp.stdout).error?.code).toBe("ERR_KEY_NAME_INVALID");
    const { versions } = await versionsOf(name);
    expect(versions[1]).toMatchObject({ version: 2, description: "second one", awsKeyMaterialId: ID_A });
  },
  90_000,
);

maybe(
  "finding 4: a placeholder or another key's record, however recent, does not hide the record of the key",
  async () => {
    const name = `rec4-${process.pid}`;
    await family(name);
    expect((await runCli(["keys", "annotate", name, "2", "--aws-key-material-id", ID_A], { cwd })).code).toBe(0);
    const base = { name, version: 2, created: later(), updated: later(), description: "stale", annotations: { "aws.keyMaterialId": ID_B } };
    await plantRecord(`${name}~v2~meta`, { ...base, keyId: "" });
    await plantRecord(`${name}~v2~meta`, { ...base, keyId: "63696f7001000000000000000000000000" });
    const { versions } = await versionsOf(name);
    expect(versions[1]).toMatchObject({ version: 2, description: "second one", awsKeyMaterialId: ID_A });
    const r = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--key-material-version", "2", "--json"], { cwd: tempDir("rec4-out") });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).keyMaterial.command).toMatch(new RegExp(`--key-material-id ${ID_A} --key-material-description 'second one'$`));
  },
  90_000,
);

maybe(
  "findings 5 and 6: one import command per new version (usage line too), and replicas come before rotate-key-on-demand",
  async () => {
    const name = `rec5-${process.pid}`;
    await family(name);
    const out = tempDir("rec5-out");
    const text = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material"], { cwd: out });
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    const commands = lines.filter((l) => l.includes("aws kms import-key-material"));
    expect(commands).toHaveLength(2); // the artefact's usage line and the import note
    for (const c of commands) expect(c).toContain("--import-type NEW_KEY_MATERIAL");
    const replicas = lines.findIndex((l) => /every replica first/.test(l));
    const rotate = lines.findIndex((l) => l.includes("rotate-key-on-demand"));
    expect(replicas).toBeGreaterThan(-1);
    expect(rotate).toBeGreaterThan(replicas);
    const json = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material", "--json"], { cwd: out });
    const doc = JSON.parse(json.stdout);
    expect(doc.artefacts[0].usage).toContain(`CLI: ${doc.keyMaterial.command}`);
  },
  90_000,
);

maybe(
  "finding 8: a taken version label names both causes and asks for another run",
  async () => {
    const name = `rec8-${process.pid}`;
    await family(name);
    // a key citool did not make, at the label version 3 would get
    await p11(["--keygen", "--key-type", "AES:32", "--label", `${name}~v3`, "--id", "0badc0de"]);
    const r = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material", "--json"], { cwd: tempDir("rec8-out") });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe("ERR_KEY_EXISTS");
    expect(err.message).toMatch(/Another process made version 3 first, or a key not made by this rotation holds that label; run again/);
  },
  90_000,
);

maybe(
  "finding 9: a version 1 made again is told apart from the one its versions were made for",
  async () => {
    const name = `rec9-${process.pid}`;
    await family(name);
    // version 1 removed behind citool's back (citool itself refuses while later versions exist), then made again
    await p11(["--delete-object", "--type", "secrkey", "--label", name]);
    expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG], { cwd: tempDir("rec9-v1") })).code).toBe(0);
    const { warnings } = await versionsOf(name);
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`version 2 \\('${name}~v2'\\) was made for a version 1 with CKA_ID \\w+, but '${name}' now has`)),
    ]);
    const text = await runCli(["keys", "show", name], { cwd });
    expect(text.stderr).toMatch(/warning: version 2 .* was made again after it/);
    const r = await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--key-material-version", "2"], { cwd: tempDir("rec9-out") });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: version 2 .* may belong to the earlier key/);
    expect(existsSync(join(cwd, `${name}-wrapped`))).toBe(true);
  },
  90_000,
);
