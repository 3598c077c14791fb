/**
 * Synchronous HSM calls (`call_mode` sync, the default on SoftHSM) are queued and run back to back
 * at the end of the event-loop turn (http/end-of-turn.ts), on a real SoftHSM token: after the code that
 * made them, before the turn's write step, each with its own outcome; a shutdown still runs the
 * calls queued before it; a device error in one call sends the calls after it to the new context;
 * a queued callback that throws does not take the others with it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { generateXksCredential } from "@ciop/xks";
import { Hsm, HsmError } from "@ciop/hsm";
import { parseConfig } from "../src/proxy-config.js";
import { EndOfTurn } from "../src/http/end-of-turn.js";
import { HsmBackend } from "../src/hsm-backend.js";
import { ciopToml, storeToml, testDir } from "./proxy-helpers.js";

const C = generateXksCredential();
const keyName = `turn-${process.pid}`;
const aad = Buffer.from("aad");
let admin: Hsm;
let backend: HsmBackend;
const events: string[] = [];
// the schedule the backend queues its calls in, as the server shares it with its fast path
const turns = new EndOfTurn();

beforeAll(async () => {
  const dir = testDir("end-of-turn");
  const cfg = await parseConfig(ciopToml({ stores: storeToml("s", "/s", [keyName], [C]), healthKey: "turn-health" }), { dir });
  admin = await Hsm.open({
    ...(cfg.hsm.library ? { library: cfg.hsm.library } : {}),
    ...(cfg.hsm.token ? { token: cfg.hsm.token } : {}),
    ...(cfg.hsm.pin ? { pin: cfg.hsm.pin } : {}),
  });
  await admin.getOrCreateKey(keyName, "AES-256", { extractable: false });
  backend = await HsmBackend.open(cfg.hsm, { observe: (operation, _s, outcome) => events.push(`hsm ${operation} ${outcome}`), turns });
  expect(backend.syncCalls).toBe(true);
  // the first call also reads the key's state and makes its session copy
  await backend.encrypt(keyName, randomBytes(12), Buffer.from("warm"), aad);
});
afterAll(async () => {
  await backend.close();
  admin.deleteKey(keyName);
  await admin.close();
});
beforeEach(() => {
  events.length = 0;
});

test("three calls made in one turn run together after the code that made them, and the turn's write step, in the same turn, sees all three answers", async () => {
  let writeQueued = false;
  const answered = (label: string) => (ct: Uint8Array) => {
    events.push(`answer ${label}`);
    // what the fast path does when an answer is ready
    if (!writeQueued) {
      writeQueued = true;
      turns.at("write", () => events.push("write"));
    }
    return ct;
  };
  const calls = ["a", "b", "c"].map((l) => backend.encrypt(keyName, randomBytes(12), Buffer.from(l), aad).then(answered(l)));
  events.push("caller done");
  setImmediate(() => events.push("next immediate"));
  const cts = await Promise.all(calls);
  await new Promise((r) => setImmediate(r));
  expect(events).toEqual(["caller done", "hsm encrypt ok", "hsm encrypt ok", "hsm encrypt ok", "answer a", "answer b", "answer c", "write", "next immediate"]);
  expect(cts.map((ct) => ct.length)).toEqual([17, 17, 17]);
});

test("a call that fails in a turn fails alone: the calls queued before and after it are answered", async () => {
  const iv = randomBytes(12);
  const ct = await backend.encrypt(keyName, iv, Buffer.from("kept"), aad);
  events.length = 0;
  const bad = Buffer.from(ct);
  bad[bad.length - 1]! ^= 1;
  const results = await Promise.allSettled([
    backend.decrypt(keyName, iv, ct, aad),
    backend.decrypt(keyName, iv, bad, aad),
    backend.decrypt(keyName, iv, ct, aad),
  ]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  expect(results.filter((r) => r.status === "fulfilled").map((r) => Buffer.from((r as PromiseFulfilledResult<Uint8Array>).value).toString())).toEqual([
    "kept",
    "kept",
  ]);
  expect(events).toEqual(["hsm decrypt ok", "hsm decrypt error", "hsm decrypt ok"]);
});

test("close() runs the calls queued before it on the still-open context instead of refusing them", async () => {
  const dir = testDir("end-of-turn-close");
  const cfg = await parseConfig(ciopToml({ stores: storeToml("s", "/s", [keyName], [C]), healthKey: "turn-health" }), { dir });
  const b = await HsmBackend.open(cfg.hsm);
  await b.encrypt(keyName, randomBytes(12), Buffer.from("warm"), aad);
  const queued = b.encrypt(keyName, randomBytes(12), Buffer.from("last"), aad);
  const closing = b.close();
  await expect(queued).resolves.toHaveLength(20);
  await closing;
  await expect(b.encrypt(keyName, randomBytes(12), Buffer.from("late"), aad)).rejects.toMatchObject({ name: "InternalException" });
});

test("a device error in one call of a turn resets the context, and the calls queued after it wait for the new context and are answered there", async () => {
  const dir = testDir("end-of-turn-reset");
  const cfg = await parseConfig(ciopToml({ stores: storeToml("s", "/s", [keyName], [C]), healthKey: "turn-health" }), { dir });
  const b = await HsmBackend.open(cfg.hsm);
  try {
    const iv = randomBytes(12);
    const ct = await b.encrypt(keyName, iv, Buffer.from("before"), aad);
    const before = b.hsm;
    // the first call meets a broken device; any later call that still reached this context would too
    let calls = 0;
    before.encryptAesGcm = before.decryptAesGcm = (): never => {
      if (calls++ === 0) throw new HsmError("ERR_HSM", "device gone", { ckr: "CKR_DEVICE_ERROR", fn: "C_Encrypt" });
      throw new Error("a queued call ran on the context being reset");
    };
    const results = await Promise.allSettled([
      b.encrypt(keyName, randomBytes(12), Buffer.from("first"), aad),
      b.decrypt(keyName, iv, ct, aad),
      b.encrypt(keyName, randomBytes(12), Buffer.from("during"), aad),
    ]);
    expect(results[0]).toMatchObject({ status: "rejected", reason: { ckr: "CKR_DEVICE_ERROR" } });
    expect(results.slice(1).map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(Buffer.from((results[1] as PromiseFulfilledResult<Uint8Array>).value).toString()).toBe("before");
    expect((results[2] as PromiseFulfilledResult<Uint8Array>).value).toHaveLength("during".length + 16);
    expect(calls).toBe(1);
    expect(b.hsm).not.toBe(before);
    expect(b.resets).toBe(1);
  } finally {
    await b.close();
  }
});

test("an end-of-turn callback that throws does not drop the ones queued after it, and its error still surfaces as uncaught", () => {
  // in a process of its own (jest reports an uncaught error as a failure of whichever test is running)
  const script = `
    import { EndOfTurn } from ${JSON.stringify(pathToFileURL(resolve(__dirname, "../dist/fast-http.js")).href)};
    process.on("uncaughtException", (err) => console.log("uncaught " + err.message));
    const turns = new EndOfTurn();
    turns.at("write", () => { throw new Error("boom"); });
    turns.at("write", () => console.log("second"));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(out.trim().split("\n")).toEqual(["second", "uncaught boom"]);
});
