/**
 * Issue 14 item 9: a key lookup that fails because the token or the process is unhealthy is an
 * `unavailable` HsmError (ERR_HSM, retryable), never "no such key"; a lookup that succeeded and
 * found nothing still is. Before the fix:
 * - with every descriptor of the process in use, SoftHSM answers a key read with
 *   CKR_OBJECT_HANDLE_INVALID and the re-find with an empty result: keyUsage/encrypt threw
 *   ERR_KEY_NOT_FOUND and findKey of an existing key returned undefined, also after the
 *   descriptors were free again (SoftHSM keeps answering "nothing" in that context);
 * - a token that refused a key's handle again right after the search had found it gave
 *   ERR_KEY_NOT_FOUND (CKR_OBJECT_HANDLE_INVALID was mapped to it).
 * The token faults come from the fault-injecting module (tools/pkcs11-fault) over the real token.
 * The searches failing with a CKR (C_FindObjectsInit) already gave that error before the fix: those
 * cases guard the mapping; the other three tests failed.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { HsmError, type Hsm, type HsmKey } from "../src/index.js";
import { useFaultModuleHsm } from "./fault-hsm.js";
import { buildChildBundle, uniqueName } from "./helpers.js";

const fx = useFaultModuleHsm("lookup-unavailable-", "lookup");
const { dir, control } = fx;
let hsm: Hsm;
let key: HsmKey;
beforeAll(() => ({ hsm, key } = fx));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

const UNAVAILABLE = expect.objectContaining({ code: "ERR_HSM", unavailable: true });

test("a token that reads no object and finds nothing (SoftHSM out of descriptors): unavailable, not 'no such key'", () => {
  control.set("C_GetAttributeValue fail CKR_OBJECT_HANDLE_INVALID", "C_EncryptInit fail CKR_OBJECT_HANDLE_INVALID", "C_FindObjects empty");
  const usage = thrown(() => hsm.keyUsage(key));
  expect(usage).toBeInstanceOf(HsmError);
  expect(usage).toEqual(UNAVAILABLE);
  expect(thrown(() => hsm.encryptAesGcm(key, randomBytes(12), Buffer.from("x")))).toEqual(UNAVAILABLE);
  // an uncached name: the search itself comes back empty
  expect(thrown(() => hsm.findKey(`${key.name}-other`))).toEqual(UNAVAILABLE);
  control.clear();
  expect(hsm.keyUsage(key).encrypt).toBe(true);
  expect(hsm.findKey(key.name)?.id).toBe(key.id);
});

test("a key the search finds but whose handle the token refuses again: unavailable (it exists)", () => {
  control.set("C_GetAttributeValue fail CKR_OBJECT_HANDLE_INVALID");
  const err = thrown(() => hsm.keyUsage(key));
  expect(err).toEqual(UNAVAILABLE);
  expect((err as Error).message).toContain("was found on token");
});

test.each(["CKR_DEVICE_ERROR", "CKR_HOST_MEMORY", "CKR_TOKEN_NOT_PRESENT"])(
  "a search that fails with %s is an error carrying that CKR, not an absent key",
  (ckr) => {
    control.set(`C_FindObjectsInit fail ${ckr}`);
    expect(thrown(() => hsm.findKey(`${key.name}-uncached`))).toMatchObject({ ckr });
    // a stale handle whose re-find fails the same way
    control.set("C_GetAttributeValue fail CKR_OBJECT_HANDLE_INVALID times 1", `C_FindObjectsInit fail ${ckr}`);
    expect(thrown(() => hsm.keyUsage(key))).toMatchObject({ ckr });
  },
);

test("a healthy search that finds nothing is still 'no such key'", () => {
  expect(hsm.findKey(`${key.name}-absent`)).toBeUndefined();
  expect(thrown(() => hsm.deleteKey(`${key.name}-absent`))).toMatchObject({ code: "ERR_KEY_NOT_FOUND" });
});

test("real descriptor exhaustion (ulimit) on the real SoftHSM module: unavailable while it lasts and after, until a new context", () => {
  const bundle = buildChildBundle();
  const script = path.join(dir, "exhaust.cjs");
  writeFileSync(
    script,
    `
const fs = require("node:fs");
const { Hsm } = require(${JSON.stringify(bundle)});
const outcome = (f) => { try { const v = f(); return v === undefined ? "undefined" : "ok"; } catch (e) { return e.unavailable ? "unavailable" : e.code; } };
(async () => {
  const o = { library: process.env.CIOP_TEST_LIB, token: process.env.CIOP_TEST_TOKEN_LABEL, pin: { value: process.env.CIOP_TEST_PIN } };
  let hsm = await Hsm.open(o);
  const name = process.argv[2];
  const { key } = await hsm.getOrCreateKey(name, "AES-256", { extractable: false });
  const fds = [];
  try { for (;;) fds.push(fs.openSync("/dev/null", "r")); } catch {}
  const during = { usage: outcome(() => hsm.keyUsage(key)), find: outcome(() => hsm.findKey(name + "-x")), encrypt: outcome(() => hsm.encryptAesGcm(key, Buffer.alloc(12, 1), Buffer.from("x"))) };
  for (const fd of fds) fs.closeSync(fd);
  const after = { usage: outcome(() => hsm.keyUsage(key)), find: outcome(() => hsm.findKey(name + "-y")) };
  await hsm.close();
  hsm = await Hsm.open(o);
  const fresh = { find: outcome(() => hsm.findKey(name)) };
  hsm.deleteKey(name);
  await hsm.close();
  console.log(JSON.stringify({ exhausted: fds.length, during, after, fresh }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
  );
  const r = spawnSync("bash", ["-c", 'ulimit -n 200 && exec "$0" "$@"', process.execPath, script, uniqueName("emfile")], {
    env: { ...process.env, NODE_PATH: path.join(__dirname, "../node_modules") },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  expect(out.exhausted).toBeGreaterThan(100);
  expect(out.during).toEqual({ usage: "unavailable", find: "unavailable", encrypt: "unavailable" });
  expect(out.after).toEqual({ usage: "unavailable", find: "unavailable" });
  expect(out.fresh).toEqual({ find: "ok" });
});
