// bench/xks, BENCH_P11KIT=1: the out-of-process token. SoftHSM2 behind `p11-kit server`, reached
// through p11-kit-client.so (every PKCS#11 call crosses a process boundary, as with a network HSM's
// client library), next to the same token in process, same run. Token keys, no session copies.
//   BENCH_P11KIT=1 pnpm bench:xks        (BENCH_SECONDS per row, default 3; BENCH_POOL, default 4)
// The XKS rows (req/s at saturation, p99 at 1,800 req/s) need CKM_AES_GCM through the RPC. When the
// client module does not list it (Debian 12's p11-kit 0.24.1), they are printed as not possible with
// the CKR, and the rows measure what does cross: one AES-ECB block per call (C_EncryptInit +
// C_Encrypt, the same two calls as a GCM request), sync on one session and async on a session pool.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { join } from "node:path";
import pkcs11js from "pkcs11js";

const require = createRequire(import.meta.url);
const { startP11KitServer, findP11Kit, p11KitVersion } = require("../../tools/p11-kit-rpc/start.cjs");
const P = pkcs11js;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const POOL = Number(process.env.BENCH_POOL ?? 4);
const SOFTHSM = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));

const why = findP11Kit();
if (why) {
  console.log(`p11kit-bench: skipped: ${why}`);
  process.exit(0);
}

const base = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "ciop-p11kit-bench-"));
const conf = join(base, "softhsm2.conf");
mkdirSync(join(base, "tokens"), { mode: 0o700 });
writeFileSync(conf, `directories.tokendir = ${join(base, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
const LABEL = "p11kit-bench";
const PIN = randomBytes(8).toString("hex");
execFileSync("softhsm2-util", ["--init-token", "--free", "--label", LABEL, "--so-pin", randomBytes(8).toString("hex"), "--pin", PIN], {
  env: { ...process.env, SOFTHSM2_CONF: conf },
  stdio: ["ignore", "ignore", "inherit"],
});
process.env.SOFTHSM2_CONF = conf;
const server = await startP11KitServer({ module: SOFTHSM, token: LABEL, dir: join(base, "rpc"), env: { SOFTHSM2_CONF: conf } });
process.env.P11_KIT_SERVER_ADDRESS = server.address;

/** One library, logged in, with a token AES-256 key and a pool of sessions. */
function openLib(path, keyLabel, createKey) {
  const p = new P.PKCS11();
  p.load(path);
  p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === LABEL);
  const sessions = Array.from({ length: POOL }, () => p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION));
  p.C_Login(sessions[0], P.CKU_USER, PIN);
  const s = sessions[0];
  if (createKey) {
    p.C_GenerateKey(s, { mechanism: P.CKM_AES_KEY_GEN }, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_VALUE_LEN, value: 32 },
      { type: P.CKA_LABEL, value: keyLabel },
    ]);
  }
  p.C_FindObjectsInit(s, [{ type: P.CKA_LABEL, value: keyLabel }]);
  const [key] = p.C_FindObjects(s, 1);
  p.C_FindObjectsFinal(s);
  return { p, slot, sessions, key };
}

const ECB = { mechanism: P.CKM_AES_ECB };
const block = randomBytes(16);
function syncRate(lib) {
  const s = lib.sessions[0];
  const out = Buffer.alloc(16);
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) {
      lib.p.C_EncryptInit(s, ECB, lib.key);
      lib.p.C_Encrypt(s, block, out);
    }
    n += 50;
  }
  return n / SECONDS;
}
async function asyncRate(lib) {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(
    lib.sessions.map(async (s) => {
      const out = Buffer.alloc(16);
      while (performance.now() < end) {
        lib.p.C_EncryptInit(s, ECB, lib.key);
        await lib.p.C_EncryptAsync(s, block, out);
        n++;
      }
    }),
  );
  return n / SECONDS;
}
function gcmThrough(lib) {
  try {
    const s = lib.sessions[0];
    lib.p.C_EncryptInit(s, { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_AES_GCM, iv: randomBytes(12), tagBits: 128 } }, lib.key);
    lib.p.C_Encrypt(s, block, Buffer.alloc(32));
    return "ok";
  } catch (err) {
    return /CKR_\w+/.exec(String(err.message))?.[0] ?? String(err.message);
  }
}

const rpc = openLib(server.clientLibrary, "bench-key", true);
const local = openLib(SOFTHSM, "bench-key", false);
const rows = [];
for (const [name, lib] of [
  ["in process (libsofthsm2.so)", local],
  ["through p11-kit RPC (p11-kit-client.so)", rpc],
]) {
  const gcm = gcmThrough(lib);
  const listed = lib.p.C_GetMechanismList(lib.slot);
  const sync = syncRate(lib);
  const asy = await asyncRate(lib);
  rows.push({ name, gcm, mechs: listed.length, sync, asy });
}
const f = (x) => Math.round(x).toLocaleString("en-US");
console.log(
  `p11-kit ${p11KitVersion() ?? "?"}, ${os.cpus().length} CPUs, ${SECONDS} s per row, async pool ${POOL}; AES-ECB, 1 block, token key, C_EncryptInit + C_Encrypt per op`,
);
console.log("| library | mechanisms listed | AES-GCM | raw sync ops/s | raw async ops/s (pool) |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.name} | ${r.mechs} | ${r.gcm} | ${f(r.sync)} | ${f(r.asy)} |`);
const [l, r] = rows;
console.log(`RPC / in process: sync ${(r.sync / l.sync).toFixed(3)}, async ${(r.asy / l.asy).toFixed(3)}`);
if (r.gcm !== "ok") {
  console.log(
    `xks through the RPC: not possible (CKM_AES_GCM ${r.gcm} through p11-kit-client.so): no req/s at saturation, no p99 at 1,800 req/s, no ratio to the raw rate`,
  );
} else {
  console.log("xks through the RPC: the client carries AES-GCM; the proxy rows are not written yet (BENCH_P11KIT measures the raw rates only)");
}
console.log(`p11kit-bench: raw rpc sync ${f(r.sync)} ops/s, async ${f(r.asy)} ops/s, gcm ${r.gcm}`);
for (const lib of [rpc, local]) {
  for (const s of lib.sessions) lib.p.C_CloseSession(s);
}
rpc.p.C_Finalize();
local.p.C_Finalize();
await server.stop();
rmSync(base, { recursive: true, force: true });
