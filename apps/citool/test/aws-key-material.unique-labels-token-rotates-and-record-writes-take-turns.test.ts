/**
 * Issue 18 review C, findings 3 and 7, through the built citool and the fault-injecting PKCS#11
 * module (tools/pkcs11-fault) over the SoftHSM test token (data objects are needed: not on NSS).
 *
 * Finding 3: on a token that refuses duplicate labels (`quirk unique-labels`, as CloudHSM does)
 * `--new-key-material` and `keys annotate --force` work, and a key version made and removed again
 * because its record could not be written is audited (generate, then delete). Failed before the
 * fix: the placeholder and the final record shared a label, so the new version was refused with
 * ERR_MECHANISM_UNSUPPORTED ("does not keep data objects") after its key had been made, and the
 * audit log had neither a generate nor a delete line for that key.
 *
 * Finding 7: record writes take turns. While one `keys annotate` hangs inside its record write
 * (C_CreateObject held by the fault module), a second one waits for it instead of writing (and
 * destroying the other's object) at the same time. Failed before the fix: the second finished while
 * the first still hung, and the first then replaced the second's id.
 */
import { testToken, testTokenKind } from "@ciop/testkit";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { assertBuilt, makeWrappingKeys, runCli, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

const ALG = "RSAES_OAEP_SHA_1";
const ID_A = "0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6";
const ID_B = "1c8fe8eecbd7fff38a18524678dbe9d921f3994ed9b8645178b93ff2253fd2f7";
const ID_C = "2d90f9ffdce8004a9b29635789ecfae032f4aa5fea0c975289ca4003364fe308";
const nss = testTokenKind() === "nss";
const maybe = nss ? test.skip : test;

let keys: WrappingKeys;
let cwd: string;
/** How many C_CreateObject calls opening the token makes (the capability probe's session objects). */
let atOpen = 0;

beforeAll(async () => {
  assertBuilt();
  cwd = tempDir("rotation-fault");
  keys = await makeWrappingKeys(join(cwd, "wk"), [2048]);
  if (nss) return;
  // counted, not assumed: `keys list` makes no object of its own, so it fails until the rule lets
  // every C_CreateObject of the open through
  while ((await viaFault(["keys", "list"], [`C_CreateObject fail CKR_DEVICE_ERROR after ${atOpen} times 1`])).code !== 0) {
    if (++atOpen > 50) throw new Error("opening the token kept failing");
  }
}, 180_000);

/** citool on a private copy of the fault module with `rules` (and a control file, when given). */
function viaFault(args: string[], rules: string[], control?: string) {
  const t = testToken();
  const lib = faultModuleCopy(cwd, faultEnv({ realModule: t.lib, rules, ...(control ? { control } : {}) }));
  return runCli(["--hsm-lib", lib, "--token", t.label, ...args], { cwd, noHsmArgs: true });
}

const auditLines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

const versionsOf = async (name: string) =>
  JSON.parse((await runCli(["keys", "show", name, "--json"], { cwd })).stdout).key.versions as Array<Record<string, unknown>>;

maybe(
  "unique labels: a new version is made and annotated twice (finding 3)",
  async () => {
    const name = `uq-${process.pid}`;
    const audit = join(cwd, "uq.log");
    expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG], { cwd })).code).toBe(0);
    const r = await viaFault(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material", "--audit-log", audit], ["quirk unique-labels"]);
    expect(r.stderr).not.toMatch(/ERR_/);
    expect(r.code).toBe(0);
    expect(await tokenLabels()).toContain(`${name}~v2`);
    const a = await viaFault(["keys", "annotate", name, "2", "--aws-key-material-id", ID_A], ["quirk unique-labels"]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    const b = await viaFault(["keys", "annotate", name, "2", "--aws-key-material-id", ID_B, "--force"], ["quirk unique-labels"]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const v = await versionsOf(name);
    expect(v.map((x) => [x.version, x.awsKeyMaterialId, x.description === null])).toEqual([
      [1, null, true],
      [2, ID_B, false],
    ]);
  },
  90_000,
);

maybe(
  "a version whose record cannot be written is removed again, and its generation and deletion are audited (finding 3)",
  async () => {
    const name = `uq-fail-${process.pid}`;
    const audit = join(cwd, "uq-fail.log");
    expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG], { cwd })).code).toBe(0);
    // after the open's, the placeholder record is the first C_CreateObject, the final record the second
    const r = await viaFault(
      ["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material", "--audit-log", audit],
      [`C_CreateObject fail CKR_DEVICE_ERROR after ${atOpen + 1} times 1`],
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_HSM/);
    expect(await tokenLabels()).not.toContain(`${name}~v2`);
    const lines = auditLines(audit).filter((l) => l.key === `${name}~v2`);
    expect(lines.map((l) => [l.operation, l.outcome])).toEqual([
      ["export", "error"],
      ["generate", "ok"],
      ["delete", "ok"],
    ]);
  },
  90_000,
);

maybe(
  "a second record write waits while the first is in progress (finding 7)",
  async () => {
    const name = `lock-${process.pid}`;
    expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG], { cwd })).code).toBe(0);
    expect((await runCli(["aws", name, keys.spkiDer[2048]!, ALG, "--new-key-material"], { cwd })).code).toBe(0);
    expect((await runCli(["keys", "annotate", name, "2", "--aws-key-material-id", ID_A], { cwd })).code).toBe(0);
    const lockDir = join(tmpdir(), `ciop-locks-${process.getuid!()}`);
    const locksBefore = new Set(existsSync(lockDir) ? readdirSync(lockDir) : []);
    const control = new FaultControl(join(cwd, "hang.rules"));
    control.set(`C_CreateObject hang 30000 after ${atOpen}`);
    let firstDone = false;
    const first = viaFault(["keys", "annotate", name, "2", "--aws-key-material-id", ID_B, "--force"], [], control.file).then((r) => {
      firstDone = true;
      return r;
    });
    // the first run holds the record lock once it is inside its write (it appears just before the
    // hanging C_CreateObject); without a lock (before the fix) none appears and we go on after 10 s
    const until = Date.now() + 10_000;
    while (Date.now() < until && !(existsSync(lockDir) && readdirSync(lockDir).some((f) => f.startsWith("key-version-") && !locksBefore.has(f)))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    let secondDoneWhileFirstHung = false;
    const second = runCli(["keys", "annotate", name, "2", "--aws-key-material-id", ID_C, "--force"], { cwd }).then((r) => {
      if (!firstDone) secondDoneWhileFirstHung = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 3000));
    control.clear(); // releases the first run's C_CreateObject
    const [a, b] = await Promise.all([first, second]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(secondDoneWhileFirstHung).toBe(false);
    // the second write came after the first: its id is the one recorded
    expect((await versionsOf(name))[1]!.awsKeyMaterialId).toBe(ID_C);
  },
  90_000,
);
