// Baseline for bench/xks: AES-256-GCM encrypt and decrypt straight through pkcs11js on the same
// SoftHSM token the proxy uses, no ciop code in between. Run as its own process so it owns a core
// the way the proxy does:  node raw-gcm.mjs <lib> <tokenLabel> <seconds> <mode>   (PIN in $RAW_PIN)
// mode "sync": one session, synchronous calls on the main thread (what one core can do);
// mode "async2": two sessions, C_EncryptAsync/C_DecryptAsync on the libuv threadpool.
// mode "threads<N>" (e.g. threads8): N worker threads, each with a session of its own opened here,
// making Init + Encrypt and Init + Decrypt synchronously in a loop: the most a caller gets from
// pkcs11js with N calls in flight (the baseline for a network HSM behind the fault module's delay).
// Prints one JSON line: {"ops": n, "seconds": s, "opsPerSec": r}.
import { randomBytes } from "node:crypto";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import pkcs11js from "pkcs11js";

if (!isMainThread) {
  // a worker of mode threads<N>: the module is initialised and logged in by the main thread
  const { lib, session, key, deadlineMs } = workerData;
  const p = new pkcs11js.PKCS11();
  p.load(lib);
  const s = Buffer.from(session);
  const k = Buffer.from(key);
  const pt = randomBytes(32);
  const aad = randomBytes(66);
  const gcm = (iv) => ({ mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, aad, ivBits: 96, tagBits: 128 } });
  let ops = 0;
  while (Date.now() < deadlineMs) {
    const iv = randomBytes(12);
    p.C_EncryptInit(s, gcm(iv), k);
    const ct = p.C_Encrypt(s, pt, Buffer.alloc(48));
    p.C_DecryptInit(s, gcm(iv), k);
    p.C_Decrypt(s, ct, Buffer.alloc(48));
    ops += 2;
  }
  parentPort.postMessage(ops);
} else {
  const [lib, label, secondsArg, mode = "sync", keyKind = "token"] = process.argv.slice(2);
  const seconds = Number(secondsArg ?? 3);
  const p = new pkcs11js.PKCS11();
  p.load(lib);
  p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  try {
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === label);
    if (!slot) throw new Error(`token ${label} not found`);
    const open = () => p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    const s0 = open();
    p.C_Login(s0, pkcs11js.CKU_USER, process.env.RAW_PIN);
    // a key with the attributes that matter (AES-256, encrypt+decrypt, sensitive, not extractable)
    const keyLabel = `raw-bench-${process.pid}-${randomBytes(4).toString("hex")}`;
    const key = p.C_GenerateKey(s0, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: keyKind === "token" },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
    ]);
    // the same sizes as the proxy load: 32-byte plaintext (a data key), 64-byte AAD
    const pt = randomBytes(32);
    const aad = randomBytes(66); // 2-byte length prefix + 64 bytes, as the spec AAD recipe would give
    const gcm = (iv) => ({ mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, aad, ivBits: 96, tagBits: 128 } });

    let ops = 0;
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(Math.round(seconds * 1e9));
    if (mode === "sync") {
      while (process.hrtime.bigint() < deadline) {
        for (let i = 0; i < 100; i++) {
          const iv = randomBytes(12);
          p.C_EncryptInit(s0, gcm(iv), key);
          const ct = p.C_Encrypt(s0, pt, Buffer.alloc(48));
          p.C_DecryptInit(s0, gcm(iv), key);
          p.C_Decrypt(s0, ct, Buffer.alloc(48));
          ops += 2;
        }
      }
    } else if (mode.startsWith("threads")) {
      const n = Number(mode.slice("threads".length));
      const deadlineMs = Date.now() + seconds * 1000;
      const counts = await Promise.all(
        Array.from({ length: n }, () => {
          const w = new Worker(new URL(import.meta.url), { workerData: { lib, session: open(), key, deadlineMs } });
          return new Promise((resolve, reject) => {
            w.once("message", resolve);
            w.once("error", reject);
          });
        }),
      );
      ops = counts.reduce((a, b) => a + b, 0);
    } else {
      const sessions = [open(), open()];
      await Promise.all(
        sessions.map(async (s) => {
          while (process.hrtime.bigint() < deadline) {
            const iv = randomBytes(12);
            p.C_EncryptInit(s, gcm(iv), key);
            const ct = await p.C_EncryptAsync(s, pt, Buffer.alloc(48));
            p.C_DecryptInit(s, gcm(iv), key);
            await p.C_DecryptAsync(s, ct, Buffer.alloc(48));
            ops += 2;
          }
        }),
      );
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (keyKind === "token") p.C_DestroyObject(s0, key);
    process.stdout.write(`${JSON.stringify({ ops, seconds: secs, opsPerSec: ops / secs })}\n`);
  } finally {
    try {
      p.C_Finalize();
    } catch {
      /* ignore */
    }
  }
}
