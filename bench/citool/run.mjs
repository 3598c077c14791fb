// bench/citool: wall time of one cold `citool aws <existing key> ... RSAES_OAEP_SHA_1` process,
// next to a bare node + pkcs11js script doing the same wrap (bare-wrap.mjs), measured in the same
// run on the same throw-away SoftHSM token. Prints a table and the ratio of medians.
//   pnpm bench:citool            (after building: npx turbo run build --filter=@ciop/citool...)
//   BENCH_RUNS=30 pnpm bench:citool
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const cli = join(root, "apps/citool/dist/cli.js");
const bare = join(here, "bare-wrap.mjs");
const runs = Number(process.env.BENCH_RUNS ?? 20);
const lib = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));
if (!existsSync(cli)) {
  console.error(`${cli} is missing: run npx turbo run build --filter=@ciop/citool... first`);
  process.exit(1);
}
if (!lib) {
  console.error("SoftHSM2 is not installed (pnpm setup)");
  process.exit(1);
}

const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(base, "ciop-bench-citool-"));
try {
  mkdirSync(join(dir, "tokens"));
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = randomBytes(8).toString("hex");
  const env = { ...process.env, SOFTHSM2_CONF: conf, CIOP_PIN: pin, XDG_DATA_HOME: join(dir, "xdg"), XDG_CONFIG_HOME: join(dir, "xdg-config"), NO_COLOR: "1" };
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "bench", "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], { env, stdio: "ignore" });
  const priv = join(dir, "wrap.key");
  const spki = join(dir, "wrap.der");
  execFileSync("openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-out", priv]);
  execFileSync("openssl", ["pkey", "-in", priv, "-pubout", "-outform", "DER", "-out", spki]);

  const citoolArgs = (out) => [cli, "--hsm-lib", lib, "--token", "bench", "aws", "bench-key", spki, "RSAES_OAEP_SHA_1", "--out-dir", out];
  // create the key once (not measured)
  const first = spawnSync(process.execPath, citoolArgs(dir), { env, encoding: "utf8" });
  if (first.status !== 0) throw new Error(`citool failed: ${first.stderr}`);

  // Wall time of each cold process, and its CPU time (user + sys, from /usr/bin/time when present):
  // CPU time barely moves when other work shares the machine; wall time does.
  const haveTime = existsSync("/usr/bin/time");
  const cpuFile = join(dir, "cpu.txt");
  const time = (args) => {
    const cmd = haveTime ? "/usr/bin/time" : process.execPath;
    const full = haveTime ? ["-f", "%U %S", "-o", cpuFile, process.execPath, ...args] : args;
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, full, { env, encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
    let cpu = NaN;
    if (haveTime) {
      const [u, s] = readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-2).map(Number);
      cpu = (u + s) * 1000;
    }
    return { ms, cpu };
  };
  const node = [], bareT = [], citool = [];
  // warm the page cache for all three, then interleave so drift hits all alike
  for (let i = 0; i < 2; i++) {
    time(["-e", ""]);
    time([bare, lib, "bench", "bench-key", spki, join(dir, "warm.bin")]);
    const o = join(dir, `warm-${i}`); mkdirSync(o); time(citoolArgs(o));
  }
  for (let i = 0; i < runs; i++) {
    node.push(time(["-e", ""]));
    bareT.push(time([bare, lib, "bench", "bench-key", spki, join(dir, `bare-${i}.bin`)]));
    const o = join(dir, `out-${i}`);
    mkdirSync(o);
    citool.push(time(citoolArgs(o)));
  }
  const stats = (a) => {
    const s = [...a].sort((x, y) => x - y);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
    return { min: s[0], median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
  };
  const wall = (a) => stats(a.map((x) => x.ms));
  const cpuS = (a) => stats(a.map((x) => x.cpu));
  const rows = [
    ["empty node process (floor)", wall(node)],
    ["bare node + pkcs11js wrap", wall(bareT)],
    ["citool export (existing key)", wall(citool)],
  ];
  const f = (x) => x.toFixed(1).padStart(8);
  const cpu = cpus();
  let softhsm = "SoftHSM 2";
  try { softhsm = `SoftHSM ${execFileSync("softhsm2-util", ["--version"], { encoding: "utf8" }).trim()}`; } catch { /* keep the generic name */ }
  console.log(`\nmachine: ${cpu[0]?.model?.trim() ?? "unknown CPU"} x${cpu.length}, node ${process.version}, ${softhsm}, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")} (at the end)`);
  console.log(`\ncitool cold-process export vs bare pkcs11js, ${runs} runs each, token files on ${base}, RSA-4096 wrapping key, AES-256 key, RSAES_OAEP_SHA_1\n`);
  console.log(`wall time          ${"".padEnd(13)}${"min ms".padStart(8)}${"median".padStart(8)}${"p90".padStart(8)}${"max".padStart(8)}`);
  for (const [name, st] of rows) console.log(`${name.padEnd(32)}${f(st.min)}${f(st.median)}${f(st.p90)}${f(st.max)}`);
  if (haveTime) {
    console.log(`\nCPU time (user+sys)${"".padEnd(13)}${"min ms".padStart(8)}${"median".padStart(8)}${"p90".padStart(8)}${"max".padStart(8)}`);
    for (const [name, a] of [["empty node process (floor)", node], ["bare node + pkcs11js wrap", bareT], ["citool export (existing key)", citool]]) {
      const st = cpuS(a);
      console.log(`${name.padEnd(32)}${f(st.min)}${f(st.median)}${f(st.p90)}${f(st.max)}`);
    }
  }
  const b = wall(bareT), c = wall(citool), n0 = wall(node);
  console.log(`\nratio citool / bare, median wall time:             ${(c.median / b.median).toFixed(2)}x`);
  console.log(`ratio citool / bare, fastest run (least disturbed): ${(c.min / b.min).toFixed(2)}x`);
  console.log(`ratio above the empty-node floor ((c-n)/(b-n)):     ${((c.median - n0.median) / (b.median - n0.median)).toFixed(2)}x (medians)`);
  if (haveTime) console.log(`ratio citool / bare, median CPU time:              ${(cpuS(citool).median / cpuS(bareT).median).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
