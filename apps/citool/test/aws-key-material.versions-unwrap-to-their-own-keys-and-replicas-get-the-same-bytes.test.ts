/**
 * Issue item "AWS key-material rotation", through the built citool on the token under test:
 * `citool aws <name> … --new-key-material` makes version 2 and 3 of an existing key in the HSM
 * (labels <name>~v2, <name>~v3), each artefact unwraps (python3-cryptography, the wrapping key's
 * private half only this test holds) to exactly that version's key (AES-ECB check value computed
 * inside the token by pkcs11-tool) and differs from version 1; the printed `aws kms
 * import-key-material` command is exact; `keys show` lists versions with their descriptions;
 * `keys annotate` records the KeyMaterialId and shows it; `--key-material-version 2` under another
 * wrapping key (a multi-Region replica) gives the same key bytes with EXISTING_KEY_MATERIAL and the
 * recorded id; audit lines are written. Every refusal exits with its code and makes no key and no
 * file. On NSS softokn, which keeps no token data objects, a new version is refused before any key
 * exists (and annotate likewise). Before this change citool refused --new-key-material as an
 * unknown option (exit 2), so every test here failed.
 */
import { testTokenKind } from "@ciop/testkit";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, hsmAesKcvHex, listFiles, makeWrappingKeys, pyVerify, runCli, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

const NAME = `rot-${process.pid}`;
const ID2 = "0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6";
const ID2B = "1c8fe8eecbd7fff38a18524678dbe9d921f3994ed9b8645178b93ff2253fd2f7";
const ALG = "RSAES_OAEP_SHA_1"; // done inside the token on SoftHSM, NSS softokn and the p11-kit RPC alike

let keys: WrappingKeys;
let cwd: string;
let audit: string;
const kcv: Record<number, string> = {};
const nss = testTokenKind() === "nss";

beforeAll(async () => {
  assertBuilt();
  cwd = tempDir("rotation");
  audit = join(cwd, "audit.log");
  keys = await makeWrappingKeys(join(cwd, "wk"), [2048, 3072]);
}, 120_000);

const records = () =>
  readFileSync(audit, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const utcDay = () => new Date().toISOString().slice(0, 10);

async function unwrapKcv(file: string, bits: number): Promise<string> {
  const r = await pyVerify({ file, decode: "binary", scheme: "oaep-sha1", priv: keys.priv[bits]! });
  expect(r.len).toBe(32);
  return r.kcv as string;
}

function newCommand(file: string, description: string, id?: string, type = "NEW_KEY_MATERIAL"): string {
  return (
    `aws kms import-key-material --key-id "$KMS_KEY_ID" --encrypted-key-material fileb://${file} --import-token fileb://ImportToken.bin ` +
    `--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type ${type}${id ? ` --key-material-id ${id}` : ""} --key-material-description '${description}'`
  );
}

test("version 1 is an ordinary export", async () => {
  const r = await runCli(["aws", NAME, keys.spkiDer[3072]!, ALG, "--audit-log", audit], { cwd });
  expect(r.code).toBe(0);
  kcv[1] = await unwrapKcv(join(cwd, `${NAME}-wrapped`), 3072);
  expect(kcv[1]).toBe(await hsmAesKcvHex(NAME, cwd));
}, 60_000);

(nss ? test.skip : test)(
  "--new-key-material makes v2 and v3: each file unwraps to its own version's key, and the command printed is exact",
  async () => {
    const day = utcDay();
    const v2 = await runCli(["aws", NAME, keys.spkiDer[3072]!, ALG, "--new-key-material", "--json", "--audit-log", audit], { cwd });
    expect(v2.stderr).not.toMatch(/error/);
    expect(v2.code).toBe(0);
    const doc = JSON.parse(v2.stdout);
    expect(doc.key).toMatchObject({ name: `${NAME}~v2`, family: NAME, version: 2, type: "AES-256", status: "created" });
    const desc2 = `ciop ${NAME} v2 ${day}`;
    expect(doc.keyMaterial).toEqual({
      version: 2,
      importType: "NEW_KEY_MATERIAL",
      description: desc2,
      awsKeyMaterialId: null,
      command: newCommand(`./${NAME}-v2-wrapped`, desc2),
    });
    expect(doc.artefacts.map((a: { fileName: string }) => a.fileName)).toEqual([`${NAME}-v2-wrapped`]);
    kcv[2] = await unwrapKcv(join(cwd, `${NAME}-v2-wrapped`), 3072);
    expect(kcv[2]).toBe(await hsmAesKcvHex(`${NAME}~v2`, cwd));
    expect(kcv[2]).not.toBe(kcv[1]);

    // text output, an operator's description, into another directory
    const out = tempDir("rotation-v3");
    const v3 = await runCli(
      ["aws", NAME, keys.spkiDer[3072]!, ALG, "--new-key-material", "--key-material-description", "Q3 2026 rotation", "--out-dir", out, "--audit-log", audit],
      {
        cwd,
      },
    );
    expect(v3.code).toBe(0);
    expect(v3.stdout).toContain(`Generated AES-256 key '${NAME}~v3' (version 3 of '${NAME}')`);
    expect(v3.stdout.split("\n")).toContain(`  ${newCommand(`${out}/${NAME}-v3-wrapped`, "Q3 2026 rotation")}`);
    kcv[3] = await unwrapKcv(join(out, `${NAME}-v3-wrapped`), 3072);
    expect(kcv[3]).toBe(await hsmAesKcvHex(`${NAME}~v3`, cwd));
    expect(new Set([kcv[1], kcv[2], kcv[3]]).size).toBe(3);
    // version 1's file is untouched and still the v1 key
    expect(await unwrapKcv(join(cwd, `${NAME}-wrapped`), 3072)).toBe(kcv[1]);

    const gen = records().filter((x) => x.operation === "generate" && x.family === NAME);
    expect(gen.map((x) => [x.key, x.version, x.importType, x.materialDescription])).toEqual([
      [`${NAME}~v2`, 2, "NEW_KEY_MATERIAL", desc2],
      [`${NAME}~v3`, 3, "NEW_KEY_MATERIAL", "Q3 2026 rotation"],
    ]);
  },
  90_000,
);

(nss ? test.skip : test)(
  "keys show lists the versions with their descriptions; keys list stays one row per key",
  async () => {
    const show = await runCli(["keys", "show", NAME, "--json"], { cwd });
    expect(show.code).toBe(0);
    const versions = JSON.parse(show.stdout).key.versions as Array<Record<string, unknown>>;
    expect(versions.map((v) => [v.version, v.label, v.state, v.description, v.awsKeyMaterialId])).toEqual([
      [1, NAME, "enabled", null, null],
      [2, `${NAME}~v2`, "enabled", `ciop ${NAME} v2 ${utcDay()}`, null],
      [3, `${NAME}~v3`, "enabled", "Q3 2026 rotation", null],
    ]);
    for (const v of versions) expect(v.created).toMatch(/^\d{4}-\d\d-\d\dT/);
    const text = await runCli(["keys", "show", NAME], { cwd });
    expect(text.stdout).toMatch(/AWS key-material versions:\nVERSION +LABEL +STATE +CREATED +AWS KEY MATERIAL ID +DESCRIPTION\n/);
    expect(text.stdout).toMatch(new RegExp(`\\n3 +${NAME}~v3 +enabled +\\S+ +- +Q3 2026 rotation\\n`));
    const list = JSON.parse((await runCli(["keys", "list", "--json"], { cwd })).stdout).keys as Array<Record<string, unknown>>;
    const mine = list.filter((k) => String(k.name).startsWith(NAME));
    expect(mine.map((k) => k.name).sort()).toEqual([NAME, `${NAME}~v2`, `${NAME}~v3`]);
    for (const k of mine) expect(Object.keys(k).sort()).toEqual(["createdByCiop", "enabled", "extractable", "id", "name", "sensitive", "type"]);
  },
  60_000,
);

(nss ? test.skip : test)(
  "keys annotate records the KeyMaterialId (audited), refuses a second id without --force and an id of another version",
  async () => {
    const a = await runCli(["keys", "annotate", NAME, "2", "--aws-key-material-id", ID2, "--audit-log", audit], { cwd });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain(`Recorded KeyMaterialId ${ID2} for version 2 of key '${NAME}'`);
    const same = await runCli(["keys", "annotate", NAME, "2", "--aws-key-material-id", ID2, "--audit-log", audit], { cwd });
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("nothing changed");
    const other = await runCli(["keys", "annotate", NAME, "2", "--aws-key-material-id", ID2B, "--audit-log", audit], { cwd });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/already has KeyMaterialId .*--force.*\[ERR_USAGE\]/);
    const taken = await runCli(["keys", "annotate", NAME, "3", "--aws-key-material-id", ID2, "--audit-log", audit], { cwd });
    expect(taken.code).toBe(2);
    expect(taken.stderr).toMatch(/already recorded for version 2/);
    const upper = await runCli(["keys", "annotate", NAME, "3", "--aws-key-material-id", ID2.toUpperCase()], { cwd });
    expect(upper.code).toBe(2);
    const replaced = await runCli(["keys", "annotate", NAME, "2", "--aws-key-material-id", ID2B, "--force", "--audit-log", audit], { cwd });
    expect(replaced.code).toBe(0);
    const back = await runCli(["keys", "annotate", NAME, "2", "--aws-key-material-id", ID2, "--force", "--audit-log", audit], { cwd });
    expect(back.code).toBe(0);
    const v1 = await runCli(["keys", "annotate", NAME, "1", "--aws-key-material-id", ID2B, "--audit-log", audit], { cwd });
    expect(v1.code).toBe(0);

    const versions = JSON.parse((await runCli(["keys", "show", NAME, "--json"], { cwd })).stdout).key.versions as Array<Record<string, unknown>>;
    expect(versions.map((v) => v.awsKeyMaterialId)).toEqual([ID2B, ID2, null]);
    expect(versions[1]!.description).toBe(`ciop ${NAME} v2 ${utcDay()}`); // annotate keeps the description
    const ann = records().filter((x) => x.operation === "annotate");
    expect(ann.map((x) => [x.version, x.kmsMaterialId, x.outcome, x.replaced ?? null])).toEqual([
      [2, ID2, "ok", null],
      [2, ID2B, "error", null],
      [3, ID2, "error", null],
      [2, ID2B, "ok", ID2],
      [2, ID2, "ok", ID2B],
      [1, ID2B, "ok", null],
    ]);
  },
  90_000,
);

(nss ? test.skip : test)(
  "a replica's export of version 2 (another wrapping key) gives the same key bytes, with EXISTING_KEY_MATERIAL and the recorded id",
  async () => {
    const out = tempDir("rotation-replica");
    const r = await runCli(["aws", NAME, keys.spkiDer[2048]!, ALG, "--key-material-version", "2", "--json", "--audit-log", audit], { cwd: out });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.key).toMatchObject({ name: `${NAME}~v2`, version: 2, status: "reused" });
    const desc2 = `ciop ${NAME} v2 ${utcDay()}`;
    expect(doc.keyMaterial.command).toBe(newCommand(`./${NAME}-v2-wrapped`, desc2, ID2, "EXISTING_KEY_MATERIAL"));
    expect(await unwrapKcv(join(out, `${NAME}-v2-wrapped`), 2048)).toBe(kcv[2]);
    // version 1 again, for a replica: its recorded id, no description (none was recorded)
    const r1 = await runCli(["aws", NAME, keys.spkiDer[2048]!, ALG, "--key-material-version", "1", "--json"], { cwd: out });
    expect(r1.code).toBe(0);
    expect(JSON.parse(r1.stdout).keyMaterial.command).toBe(
      `aws kms import-key-material --key-id "$KMS_KEY_ID" --encrypted-key-material fileb://./${NAME}-v1-wrapped --import-token fileb://ImportToken.bin ` +
        `--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL --key-material-id ${ID2B}`,
    );
    expect(await unwrapKcv(join(out, `${NAME}-v1-wrapped`), 2048)).toBe(kcv[1]);
    expect(
      records()
        .filter((x) => x.operation === "export" && x.version === 2)
        .at(-1),
    ).toMatchObject({ key: `${NAME}~v2`, importType: "EXISTING_KEY_MATERIAL", outcome: "ok" });
  },
  60_000,
);

test("every refusal exits with its code and makes no key and no file", async () => {
  const other = `rot-hmac-${process.pid}`;
  expect((await runCli(["aws", other, keys.spkiDer[3072]!, ALG, "-k", "HMAC-256"], { cwd: tempDir("rotation-hmac") })).code).toBe(0);
  const before = (await tokenLabels()).sort();
  const out = tempDir("rotation-refused");
  const taken = tempDir("rotation-taken");
  const next = nss ? 2 : 4;
  writeFileSync(join(taken, `${NAME}-v${next}-wrapped`), "someone else's file");
  const wk = keys.spkiDer[3072]!;
  const cases: Array<{ what: string; args: string[]; code: number; err: string; dir?: string }> = [
    { what: "not aws", args: ["google-compute-engine", NAME, keys.cert[2048]!, ALG, "--new-key-material"], code: 2, err: "ERR_USAGE" },
    {
      what: "-k not AES-256",
      args: ["aws", NAME, wk, "RSA_AES_KEY_WRAP_SHA_1", "-k", "RSA-2048", "--new-key-material"],
      code: 2,
      err: "ERR_KEY_TYPE_UNSUPPORTED",
    },
    { what: "an HMAC key", args: ["aws", other, wk, ALG, "--new-key-material"], code: 2, err: "ERR_KEY_TYPE_UNSUPPORTED" },
    { what: "unknown name", args: ["aws", `nope-${process.pid}`, wk, ALG, "--new-key-material"], code: 1, err: "ERR_KEY_NOT_FOUND" },
    { what: "file exists, no --force", args: ["aws", NAME, wk, ALG, "--new-key-material"], code: 2, err: "ERR_OUTPUT_EXISTS", dir: taken },
    {
      what: "description too long",
      args: ["aws", NAME, wk, ALG, "--new-key-material", "--key-material-description", "d".repeat(257)],
      code: 2,
      err: "ERR_USAGE",
    },
    { what: "description with a quote", args: ["aws", NAME, wk, ALG, "--new-key-material", "--key-material-description", "it's"], code: 2, err: "ERR_USAGE" },
    { what: "new and version together", args: ["aws", NAME, wk, ALG, "--new-key-material", "--key-material-version", "2"], code: 2, err: "ERR_USAGE" },
    { what: "description without new", args: ["aws", NAME, wk, ALG, "--key-material-description", "x"], code: 2, err: "ERR_USAGE" },
    { what: "version 0", args: ["aws", NAME, wk, ALG, "--key-material-version", "0"], code: 2, err: "ERR_USAGE" },
    { what: "no such version", args: ["aws", NAME, wk, ALG, "--key-material-version", "99"], code: 1, err: "ERR_KEY_NOT_FOUND" },
    { what: "annotate a bad id", args: ["keys", "annotate", NAME, "1", "--aws-key-material-id", "abc"], code: 2, err: "ERR_USAGE" },
    { what: "annotate without an id", args: ["keys", "annotate", NAME, "1"], code: 2, err: "ERR_USAGE" },
    // version 1 of a family with later versions: a new key of that name would inherit them
    ...(nss ? [] : [{ what: "delete v1 while v2.. exist", args: ["keys", "delete", NAME, "--yes"], code: 2, err: "ERR_USAGE" }]),
  ];
  for (const c of cases) {
    const r = await runCli([...c.args, "--json"], { cwd: c.dir ?? out });
    expect({ what: c.what, code: r.code, err: JSON.parse(r.stdout || "{}").error?.code }).toEqual({ what: c.what, code: c.code, err: c.err });
  }
  // a disabled key gets no new version
  expect((await runCli(["keys", "disable", NAME], { cwd })).code).toBe(0);
  const dis = await runCli(["aws", NAME, wk, ALG, "--new-key-material"], { cwd: out });
  expect(dis.code).toBe(1);
  expect(dis.stderr).toMatch(/is disabled.*\[ERR_KEY_DISABLED\]/);
  expect((await runCli(["keys", "enable", NAME], { cwd })).code).toBe(0);

  expect(listFiles(out)).toEqual([]);
  expect(listFiles(taken)).toEqual([`${NAME}-v${next}-wrapped`]);
  expect(readFileSync(join(taken, `${NAME}-v${next}-wrapped`), "utf8")).toBe("someone else's file");
  expect((await tokenLabels()).sort()).toEqual(before);
}, 120_000);

(nss ? test : test.skip)(
  "NSS softokn keeps no token data objects: a new version and annotate are refused before any key exists",
  async () => {
    const out = tempDir("rotation-nss");
    const before = (await tokenLabels()).sort();
    const r = await runCli(["aws", NAME, keys.spkiDer[3072]!, ALG, "--new-key-material"], { cwd: out });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not keep data objects.*\[ERR_MECHANISM_UNSUPPORTED\]/);
    const a = await runCli(["keys", "annotate", NAME, "1", "--aws-key-material-id", ID2], { cwd: out });
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/\[ERR_MECHANISM_UNSUPPORTED\]/);
    expect(listFiles(out)).toEqual([]);
    expect((await tokenLabels()).sort()).toEqual(before);
    expect(before).not.toContain(`${NAME}~v2`);
  },
  60_000,
);

(nss ? test.skip : test)(
  "a plain aws export of a key with later versions says it is version 1's material (text and --json); other keys get no such note",
  async () => {
    // Before: the plain export printed nothing about versions, so version 1's material could be
    // imported as if it were the current one.
    const out = tempDir("rotation-plain");
    const r = await runCli(["aws", NAME, keys.spkiDer[3072]!, ALG], { cwd: out });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`key '${NAME}' has later AWS key-material versions; this file is version 1's material`));
    expect(await unwrapKcv(join(out, `${NAME}-wrapped`), 3072)).toBe(kcv[1]);
    const j = await runCli(["aws", NAME, keys.spkiDer[3072]!, ALG, "--json", "--force"], { cwd: out });
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).warnings.join(" ")).toMatch(/has later AWS key-material versions/);
    const other = await runCli(["aws", `plain-${process.pid}`, keys.spkiDer[3072]!, ALG, "--json"], { cwd: out });
    expect(other.code).toBe(0);
    expect(JSON.parse(other.stdout).warnings.join(" ")).not.toMatch(/key-material versions/);
  },
  60_000,
);
