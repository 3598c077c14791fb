// bench/hsm: AES-256-GCM encryptions per second on a token key (32-byte plaintext, 32-byte AAD,
// 12-byte IV), through @ciop/hsm's sync API, its async path (session pool + pkcs11js *Async) and
// worker threads, each next to raw pkcs11js doing the same calls in the same run. Raw and ciop runs
// are interleaved in ABBA order (raw, ciop, ciop, raw, ...) so drift hits both alike; the table shows medians and the
// median of the per-round ciop/raw ratios. The token is a throw-away SoftHSM2 token made for this run (never the user's
// embedded token). Uses the built dist of @ciop/hsm:
//   pnpm --filter @ciop/hsm build && pnpm bench:hsm
//   BENCH_SECONDS=2 BENCH_ROUNDS=7 BENCH_INFLIGHT=4 BENCH_WORKERS=2,4 pnpm bench:hsm
//   pnpm bench:hsm -- --json            (one JSON line at the end, for use as a baseline)
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const here = dirname(fileURLToPath(import.meta.url));
const loadAtStart = loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
const seconds = Number(process.env.BENCH_SECONDS ?? 1.5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const inflight = Number(process.env.BENCH_INFLIGHT ?? 4);
const workerCounts = (process.env.BENCH_WORKERS ?? "2,4")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const json = process.argv.includes("--json");
const lib = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));
if (!lib) {
  console.error("SoftHSM2 is not installed (pnpm setup)");
  process.exit(1);
}
if (!existsSync(join(here, "../node_modules/@ciop/hsm/dist/index.js"))) {
  console.error("@ciop/hsm is not built: run pnpm --filter @ciop/hsm build first");
  process.exit(1);
}

// A private token directory and config, set before anything loads SoftHSM (it reads the config once).
const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(base, "ciop-bench-hsm-"));
mkdirSync(join(dir, "tokens"));
const conf = join(dir, "softhsm2.conf");
writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
process.env.SOFTHSM2_CONF = conf;
const label = "ciop-bench";
const pin = randomBytes(8).toString("hex");
execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], { stdio: "ignore" });

const { Hsm } = await import("@ciop/hsm");
const { default: pkcs11js } = await import("pkcs11js");
const P = pkcs11js;
const { openRawKey } = await import("./raw.mjs");

const pt = randomBytes(32);
const aad = randomBytes(32);
const KEY = "bench-gcm";

/** A counter IV per operation (unique per key, as GCM needs). */
function ivFactory(prefix) {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(prefix, 0);
  let n = 0n;
  return () => {
    iv.writeBigUInt64BE(++n, 4);
    return iv;
  };
}

let hsm;
const results = [];
try {
  hsm = await Hsm.open({ library: lib, token: label, pin: { value: pin }, sessionPoolSize: inflight });
  const key = await hsm.generateKey(KEY, "AES-256", { extractable: false });

  // raw pkcs11js in the same process: the library is initialised and the token logged in already
  const { raw, sessions: rawSessions, key: rawKey } = openRawKey(lib, label, KEY, inflight);
  const gcm = (iv) => ({ mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } });

  /** Runs `once` (sync) as often as possible for `seconds`; ops/s. */
  const timedSync = (once) => {
    const end = performance.now() + seconds * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) once();
      n += 64;
    }
    return n / seconds;
  };
  /** `k` concurrent loops of `once` (async) for `seconds`; ops/s. */
  const timedAsync = async (k, once) => {
    const end = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: k }, async (_, j) => {
        while (performance.now() < end) {
          await once(j);
          n++;
        }
      }),
    );
    return n / seconds;
  };
  /** `w` worker threads, each a sync loop on its own session (raw) or its own Hsm (ciop); ops/s. */
  const timedWorkers = async (w, mode) => {
    const workers = Array.from(
      { length: w },
      (_, i) => new Worker(join(here, "worker.mjs"), { workerData: { mode, lib, label, pin, key: KEY, seconds, index: i + 1, pt, aad } }),
    );
    const ready = workers.map(
      (wk) =>
        new Promise((res, rej) => {
          wk.once("message", res);
          wk.once("error", rej);
        }),
    );
    await Promise.all(ready);
    const done = workers.map(
      (wk) =>
        new Promise((res, rej) => {
          wk.once("message", res);
          wk.once("error", rej);
        }),
    );
    for (const wk of workers) wk.postMessage("go");
    const counts = await Promise.all(done);
    await Promise.all(workers.map((wk) => wk.terminate()));
    return counts.reduce((a, b) => a + b.ops, 0) / seconds;
  };

  const rawSyncIv = ivFactory(1);
  const ciopSyncIv = ivFactory(2);
  const rawAsyncIvs = Array.from({ length: inflight }, (_, j) => ivFactory(100 + j));
  const ciopAsyncIvs = Array.from({ length: inflight }, (_, j) => ivFactory(200 + j));
  const pairs = [
    {
      name: "sync, one session",
      raw: () =>
        timedSync(() => {
          raw.C_EncryptInit(rawSessions[0], gcm(rawSyncIv()), rawKey);
          raw.C_Encrypt(rawSessions[0], pt, Buffer.alloc(48));
        }),
      ciop: () => timedSync(() => hsm.encryptAesGcm(key, ciopSyncIv(), pt, aad)),
    },
    {
      name: `async, ${inflight} in flight`,
      raw: () =>
        timedAsync(inflight, async (j) => {
          raw.C_EncryptInit(rawSessions[j], gcm(Buffer.from(rawAsyncIvs[j]())), rawKey);
          await raw.C_EncryptAsync(rawSessions[j], pt, Buffer.alloc(48));
        }),
      ciop: () => timedAsync(inflight, (j) => hsm.encryptAesGcmAsync(key, Buffer.from(ciopAsyncIvs[j]()), pt, aad)),
    },
    ...workerCounts.map((w) => ({
      name: `worker_threads x${w}, sync in each`,
      raw: () => timedWorkers(w, "raw"),
      ciop: () => timedWorkers(w, "ciop"),
    })),
  ];

  // warm-up (JIT, page cache, worker start-up paths)
  timedSync.call(null, () => hsm.encryptAesGcm(key, ciopSyncIv(), pt, aad));
  for (const pair of pairs) {
    const r = [],
      c = [];
    for (let i = 0; i < rounds; i++) {
      // ABBA order (raw first in even rounds, ciop first in odd ones) so a steady drift in machine
      // load does not favour either side
      if (i % 2 === 0) {
        r.push(await pair.raw());
        c.push(await pair.ciop());
      } else {
        c.push(await pair.ciop());
        r.push(await pair.raw());
      }
    }
    const median = (a) => {
      const s = [...a].sort((x, y) => x - y);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    // each ciop run sits next to its raw run, so the per-round ratio cancels most load drift
    results.push({ path: pair.name, raw: median(r), ciop: median(c), ratio: median(c.map((x, i) => x / r[i])), rawRuns: r, ciopRuns: c });
  }

  // spot check: what the fast paths produce decrypts
  const iv = randomBytes(12);
  const sealed = await hsm.encryptAesGcmAsync(key, iv, pt, aad);
  if (!hsm.decryptAesGcm(key, iv, sealed, aad).equals(pt)) throw new Error("spot check failed: ciphertext does not decrypt");
  for (const s of rawSessions) raw.C_CloseSession(s);
} finally {
  await hsm?.close();
  rmSync(dir, { recursive: true, force: true });
}

const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m) ?? [])[1] ?? cpus()[0]?.model ?? "unknown";
const nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
const k = (x) => `${(x / 1000).toFixed(1)}k`;
console.log(`\n@ciop/hsm AES-256-GCM encrypt, token key (CKA_TOKEN, sensitive), 32 B plaintext + 32 B AAD`);
console.log(
  `SoftHSM2 token in ${base}; medians of ${rounds} x ${seconds} s per cell, interleaved ABBA; ${nproc} CPUs (${cpu}); Node ${process.version}; load average at start ${loadAtStart}\n`,
);
const w0 = Math.max(...results.map((r) => r.path.length), 4);
console.log(`| ${"path".padEnd(w0)} | raw pkcs11js ops/s | @ciop/hsm ops/s | ciop / raw (median of pairs) |`);
console.log(`|${"-".repeat(w0 + 2)}|-------------------:|----------------:|-----------------------------:|`);
for (const r of results) {
  console.log(`| ${r.path.padEnd(w0)} | ${k(r.raw).padStart(18)} | ${k(r.ciop).padStart(15)} | ${r.ratio.toFixed(2).padStart(28)} |`);
}
const sync = results[0];
console.log(
  `\nrelative to raw sync (${k(sync.raw)} ops/s): ${results.map((r) => `${r.path}: raw ${(r.raw / sync.raw).toFixed(2)}, ciop ${(r.ciop / sync.raw).toFixed(2)}`).join("; ")}`,
);
if (json) console.log(JSON.stringify({ bench: "hsm", loadAtStart, seconds, rounds, inflight, nproc: Number(nproc), cpu, node: process.version, results }));
