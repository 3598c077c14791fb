/**
 * `[hsm] session_key_copies` / `call_mode` at the key-manager level: "auto" on SoftHSM runs GCM
 * synchronously on a session copy; a disable of the token key (through another Hsm, as another
 * instance would) drops the copy once the key-state TTL passes; a copy that vanished under the
 * proxy (its session or context went away) costs no request; a token treated as hardware gets
 * neither copies nor sync calls by default; the settings parse and refuse bad values.
 */
import { randomBytes } from "node:crypto";
import { generateXksCredential } from "@ciop/xks";
import { Hsm } from "@ciop/hsm";
import { parseConfig } from "../src/proxy-config.js";
import { HsmBackend } from "../src/hsm-backend.js";
import { ciopToml, replaceOrThrow, sleep, storeToml, testDir } from "./proxy-helpers.js";

const C = generateXksCredential();
const keyName = `copies-${process.pid}`;
let dir: string;
let admin: Hsm;

const text = (hsmLine: string) =>
  replaceOrThrow(
    ciopToml({ stores: storeToml("s", "/s", [keyName], [C]), healthKey: "copies-health" }),
    'pin_env = "CIOP_TEST_PIN"',
    `pin_env = "CIOP_TEST_PIN"\n${hsmLine}`,
  );
const gcm = async (b: HsmBackend): Promise<boolean> => {
  const iv = randomBytes(12);
  const ct = await b.encrypt(keyName, iv, Buffer.from("copy"), Buffer.from("aad"));
  return Buffer.from(await b.decrypt(keyName, iv, ct, Buffer.from("aad"))).toString() === "copy";
};

beforeAll(async () => {
  dir = testDir("session-copies");
  const cfg = await parseConfig(text(""), { dir });
  admin = await Hsm.open({
    ...(cfg.hsm.library ? { library: cfg.hsm.library } : {}),
    ...(cfg.hsm.token ? { token: cfg.hsm.token } : {}),
    ...(cfg.hsm.pin ? { pin: cfg.hsm.pin } : {}),
  });
  await admin.getOrCreateKey(keyName, "AES-256", { extractable: false });
});
afterAll(async () => {
  admin.deleteKey(keyName);
  await admin.close();
});

test("parsed: auto by default, true/false and sync/async as written, anything else refused", async () => {
  expect((await parseConfig(text(""), { dir })).hsm).toMatchObject({ callMode: "auto", sessionKeyCopies: "auto" });
  expect((await parseConfig(text('session_key_copies = false\ncall_mode = "async"'), { dir })).hsm).toMatchObject({
    callMode: "async",
    sessionKeyCopies: false,
  });
  await expect(parseConfig(text('session_key_copies = "yes"'), { dir })).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringContaining("hsm.session_key_copies"),
  });
  await expect(parseConfig(text('call_mode = "threads"'), { dir })).rejects.toMatchObject({
    code: "ERR_CONFIG_INVALID",
    message: expect.stringContaining("hsm.call_mode"),
  });
});

test("auto on SoftHSM: sync calls on a copy; a disable elsewhere drops it after the TTL; re-enable brings it back", async () => {
  const cfg = await parseConfig(text("key_state_ttl_ms = 200"), { dir });
  const b = await HsmBackend.open(cfg.hsm);
  try {
    expect([b.syncCalls, b.copiesOn]).toEqual([true, true]);
    expect(await gcm(b)).toBe(true);
    expect(b.sessionCopies).toBe(1);
    admin.setKeyEnabled(keyName, false);
    await sleep(250);
    expect(await b.describeKey(keyName)).toMatchObject({ enabled: false });
    expect(b.sessionCopies).toBe(0);
    // with the copy gone the call reaches the token key, which refuses it
    await expect(b.encrypt(keyName, randomBytes(12), Buffer.from("x"), Buffer.alloc(0))).rejects.toBeDefined();
    await expect(b.encrypt(keyName, randomBytes(12), Buffer.from("x"), Buffer.alloc(0))).rejects.toMatchObject({ code: "ERR_KEY_DISABLED" });
    admin.setKeyEnabled(keyName, true);
    await sleep(250);
    expect(await gcm(b)).toBe(true);
    expect(b.sessionCopies).toBe(1);
  } finally {
    admin.setKeyEnabled(keyName, true);
    await b.close();
  }
});

test.each(["", 'call_mode = "async"'])("a copy destroyed under the proxy costs no request: the call is retried on a fresh lookup [%s]", async (hsmLine) => {
  const cfg = await parseConfig(text(hsmLine), { dir });
  const b = await HsmBackend.open(cfg.hsm);
  try {
    expect(await gcm(b)).toBe(true);
    const copy = b.sessionCopyOf(keyName);
    expect(copy?.ephemeral).toBe(true);
    b.hsm.destroySessionKey(copy!);
    expect(await gcm(b)).toBe(true);
    expect(b.sessionCopies).toBe(1);
  } finally {
    await b.close();
  }
});

// Final review: refreshKey (Encrypt found its cached current version disabled) forgot every key's
// state and session copy; it now forgets only that key's family. Before, key2's copy was dropped too.
test("refreshKey forgets one key's family; the other keys keep their state and session copies", async () => {
  const other = `${keyName}-other`;
  await admin.getOrCreateKey(other, "AES-256", { extractable: false });
  const b = await HsmBackend.open((await parseConfig(text(""), { dir })).hsm);
  try {
    expect(await gcm(b)).toBe(true);
    const iv = randomBytes(12);
    await b.encrypt(other, iv, Buffer.from("x"), Buffer.alloc(0));
    const otherCopy = b.sessionCopyOf(other);
    expect(otherCopy).toBeDefined();
    expect(b.sessionCopies).toBe(2);
    b.refreshKey(keyName);
    expect(b.sessionCopyOf(keyName)).toBeUndefined();
    expect(b.sessionCopyOf(other)).toBe(otherCopy);
    expect(await gcm(b)).toBe(true);
  } finally {
    await b.close();
    admin.deleteKey(other);
  }
});

test("a token treated as hardware: async calls on the token key unless configured otherwise", async () => {
  // [hsm] lines → [sync calls, copies on, keys served from a copy after a round trip]
  const seen = async (hsmLine: string): Promise<[boolean, boolean, number]> => {
    const b = await HsmBackend.open((await parseConfig(text(hsmLine), { dir })).hsm, {}, { assumeHardwareToken: true });
    try {
      expect(await gcm(b)).toBe(true);
      return [b.syncCalls, b.copiesOn, b.sessionCopies];
    } finally {
      await b.close();
    }
  };
  expect(await seen("")).toEqual([false, false, 0]);
  expect(await seen('session_key_copies = true\ncall_mode = "sync"')).toEqual([true, true, 1]);
});
