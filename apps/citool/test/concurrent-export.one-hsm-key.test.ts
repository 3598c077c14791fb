/**
 * Two citool processes started at the same moment, exporting the same new key name, must end up
 * with ONE key in the HSM, and both files must carry that same key.
 */
import { join } from "node:path";
import { assertBuilt, hsmAesKcvHex, makeWrappingKeys, pyVerify, runCli, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;

beforeAll(async () => {
  assertBuilt();
  keys = await makeWrappingKeys(join(tempDir("conc"), "wk"), [2048]);
}, 120_000);

test.each([1, 2, 3])("round %i: two concurrent exports of a new key name create one HSM key", async (round) => {
  const name = `conc-${round}`;
  const a = tempDir("conc-a");
  const b = tempDir("conc-b");
  const args = ["aws", name, keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1", "--json"];
  const [ra, rb] = await Promise.all([runCli(args, { cwd: a }), runCli(args, { cwd: b })]);
  expect([ra.code, rb.code]).toEqual([0, 0]);
  expect(ra.stderr + rb.stderr).not.toContain("error");
  const statuses = [JSON.parse(ra.stdout).key.status, JSON.parse(rb.stdout).key.status].sort();
  expect(statuses).toEqual(["created", "reused"]);
  expect((await tokenLabels()).filter((l) => l === name)).toHaveLength(1);
  const va = await pyVerify({ file: join(a, `${name}-wrapped`), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  const vb = await pyVerify({ file: join(b, `${name}-wrapped`), decode: "binary", scheme: "oaep-sha1", priv: keys.priv[2048]! });
  expect(va.kcv).toBe(vb.kcv);
  expect(va.kcv).toBe(await hsmAesKcvHex(name, a));
});

test("two concurrent exports into the same directory: one writes the file, the other refuses, one key", async () => {
  const dir = tempDir("conc-same");
  const args = ["aws", "conc-same", keys.spkiDer[2048]!, "RSAES_OAEP_SHA_1"];
  const [r1, r2] = await Promise.all([runCli(args, { cwd: dir }), runCli(args, { cwd: dir })]);
  const codes = [r1.code, r2.code].sort();
  // either both checks ran before either write (one loses at the atomic link: exit 2, and its
  // own files are rolled back) or the second saw the first's files up front (exit 2)
  expect(codes).toEqual([0, 2]);
  expect([r1.stderr, r2.stderr].join("\n")).toContain("[ERR_OUTPUT_EXISTS]");
  expect((await tokenLabels()).filter((l) => l === "conc-same")).toHaveLength(1);
});
