/**
 * citool keys list/show/disable/enable/delete on keys ciop made, and the audit log: one JSON line
 * per generate/export/delete/enable/disable, with facts (sha256s match the files) and no secret.
 */
import { noHostHandOff, openTestHsm, testToken } from "@ciop/testkit";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, listFiles, makeWrappingKeys, runCli, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;
let cwd: string;
let audit: string;

beforeAll(async () => {
  assertBuilt();
  cwd = tempDir("keys");
  audit = join(cwd, "audit", "citool.log");
  keys = await makeWrappingKeys(join(cwd, "wk"), [3072]);
}, 120_000);

const lines = (file: string = audit) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("export → list → show → disable (export refused: ERR_KEY_DISABLED, exit 1) → enable → delete, all audited", async () => {
  const out = tempDir("keys-out");
  const ex = await runCli(["aws", "life-1", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_1", "--json", "--audit-log", audit], { cwd: out });
  expect(ex.code).toBe(0);
  const exDoc = JSON.parse(ex.stdout);

  let l = lines();
  expect(l.map((r) => r.operation)).toEqual(["generate", "export"]);
  const exp = l[1]!;
  expect(exp).toMatchObject({
    operation: "export",
    key: "life-1",
    provider: "aws",
    algorithm: "RSAES_OAEP_SHA_1",
    outcome: "ok",
    wrappingKeySha256: exDoc.wrappingKey.sha256,
  });
  expect(exp.artefacts).toEqual([{ name: "life-1-wrapped", sha256: exDoc.artefacts[0].sha256 }]);
  expect(exp.hostFallback).toBe(false); // SoftHSM does RSA-OAEP(SHA-1) C_WrapKey itself
  expect(exp.steps).toEqual(expect.arrayContaining([expect.stringMatching(/OAEP/)]));
  for (const f of ["time", "user", "host"]) expect(exp[f]).toBeTruthy();
  const raw = readFileSync(audit, "utf8");
  expect(raw).not.toContain(testToken().pin);

  const list = await runCli(["keys", "list", "--json"], { cwd });
  expect(list.code).toBe(0);
  const listed = JSON.parse(list.stdout).keys.find((k: { name: string }) => k.name === "life-1");
  expect(listed).toMatchObject({ name: "life-1", type: "AES-256", createdByCiop: true, enabled: true });

  const show = await runCli(["keys", "show", "life-1"], { cwd });
  expect(show.code).toBe(0);
  expect(show.stdout).toMatch(/type\s+AES-256/);

  const dis = await runCli(["keys", "disable", "life-1", "--audit-log", audit], { cwd });
  expect(dis.code).toBe(0);
  expect(JSON.parse((await runCli(["keys", "show", "life-1", "--json"], { cwd })).stdout).key.enabled).toBe(false);
  const out2 = tempDir("keys-out2");
  const refused = await runCli(["aws", "life-1", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_1", "--audit-log", audit], { cwd: out2 });
  expect(refused.code).not.toBe(0);
  expect(existsSync(join(out2, "life-1-wrapped"))).toBe(false);

  const en = await runCli(["keys", "enable", "life-1", "--audit-log", audit], { cwd });
  expect(en.code).toBe(0);
  const again = await runCli(["aws", "life-1", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_1", "--audit-log", audit], { cwd: out2 });
  expect(again.code).toBe(0);

  const del = await runCli(["keys", "delete", "life-1", "--yes", "--audit-log", audit], { cwd });
  expect(del.code).toBe(0);
  expect(await tokenLabels()).not.toContain("life-1");

  l = lines();
  expect(l.map((r) => `${r.operation}:${r.outcome}`)).toEqual([
    "generate:ok",
    "export:ok",
    "disable:ok",
    "export:error",
    "enable:ok",
    "export:ok",
    "delete:ok",
  ]);
  expect(l.every((r) => r.key === "life-1")).toBe(true);
  expect(l[3]).toMatchObject({ operation: "export", outcome: "error", error: "ERR_KEY_DISABLED", keyCreated: false });
  expect(refused.stderr).toMatch(/key 'life-1' is disabled.*citool keys enable life-1.*\[ERR_KEY_DISABLED\]/);
  expect(refused.code).toBe(1);
});

/** Every field an audit record may carry: facts only, nothing that could hold a secret. */
const AUDIT_FIELDS = new Set([
  "time",
  "user",
  "host",
  "pid",
  "tool",
  "operation",
  "key",
  "keyType",
  "provider",
  "algorithm",
  "wrappingKeySha256",
  "token",
  "keyCreated",
  "artefacts",
  "hostFallback",
  "hostFallbackEvents",
  "steps",
  "outcome",
  "error",
]);

test("a wrap done partly on the host is recorded as such (hostFallback + events) and said on stderr; records hold only known fields", async () => {
  const log = join(tempDir("keys-fb"), "fb.log");
  const out = tempDir("keys-fb-out");
  // Issue 16 (three tokens): a direct RSA-OAEP of an EC private key is a host step on every token
  // (PKCS#11 RSA-wraps secret keys only); the Cloud KMS case used before ran inside NSS softokn, so
  // the test failed there. A token that cannot hand keys to the host at all (SoftHSM through p11-kit
  // 0.24's RPC, decided by the probe) must refuse instead.
  const hsm = await openTestHsm();
  const noHost = noHostHandOff(hsm.capabilities());
  await hsm.close();
  const r = await runCli(["aws", "life-fb", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_256", "-k", "EC-NISTP256", "--audit-log", log], { cwd: out });
  if (noHost !== undefined) {
    console.log(`host step not possible on this token, refusal checked instead: ${noHost}`);
    expect({ code: r.code, files: listFiles(out) }).toEqual({ code: 1, files: [] });
    return;
  }
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/warning: part of the wrap ran on the host/);
  const recs = lines(log);
  const exp = recs.find((x) => x.operation === "export")!;
  expect(exp.hostFallback).toBe(true);
  const events = exp.hostFallbackEvents as Array<Record<string, unknown>>;
  expect(events.length).toBeGreaterThan(0);
  for (const e of events) {
    expect(Object.keys(e).sort()).toEqual(["material", "operation", "reason"]);
    expect(["target-key", "ephemeral-key"]).toContain(e.material);
  }
  const raw = readFileSync(log, "utf8");
  expect(raw).not.toContain(testToken().pin);
  for (const rec of [...recs, ...lines(audit)]) {
    for (const k of Object.keys(rec)) expect([k, AUDIT_FIELDS.has(k)]).toEqual([k, true]);
  }
});

test("the default audit log lives under $XDG_DATA_HOME/ciop, and 'off' disables it", async () => {
  const out = tempDir("keys-xdg");
  const r = await runCli(["aws", "life-2", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_1"], { cwd: out });
  expect(r.code).toBe(0);
  const log = join(out, ".xdg-data", "ciop", "audit.log");
  expect(
    readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((x) => JSON.parse(x).operation),
  ).toEqual(["generate", "export"]);
  const out2 = tempDir("keys-off");
  const r2 = await runCli(["aws", "life-2", keys.spkiDer[3072]!, "RSAES_OAEP_SHA_1", "--audit-log", "off"], { cwd: out2 });
  expect(r2.code).toBe(0);
  expect(existsSync(join(out2, ".xdg-data", "ciop", "audit.log"))).toBe(false);
});
