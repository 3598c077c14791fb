// bench/xks: the built xks-proxy (apps/xks-proxy/dist) under TLS keep-alive load with SigV4-signed
// Encrypt and Decrypt requests, next to raw pkcs11js AES-GCM on the same SoftHSM token, same run.
//   pnpm bench:xks                      (after `pnpm build`)
//   BENCH_SECONDS=15 BENCH_CONNECTIONS=32 pnpm bench:xks
// Phases: HSM work alone in their own processes (raw pkcs11js with a token key, a session key and
// async calls; @ciop/hsm's Hsm sync and async) -> a bare node HTTPS floor with the same TLS ->
// proxy warm-up -> saturation (closed loop) -> 1,800 req/s offered (the default KMS quota per
// external key store) -> Salesforce cache-only JWE row -> raw token-key run again. The proxy runs
// as its own process (`xks-proxy serve --config F`), so the load generator (autocannon, in this
// process) and the server do not share an event loop. See apps/xks-proxy/docs/bench.md.
// BENCH_AB=<path to another build's main.js, or "same"> [BENCH_AB_NODE_ARGS=<node options for B>]
// adds rounds comparing this build with that one, or with other node options, in the same run.
// BENCH_HSM_LATENCY_US=0,300,1000 adds rows for a network HSM: the proxy with call_mode = "async"
// over the fault-injecting module (tools/pkcs11-fault), which adds that many µs to every PKCS#11 call.
// BENCH_ROTATED=1 adds rounds comparing a key rotated twice (encrypt on version 3, decrypt a mix of
// versions 1-3) with the unrotated bench key on the same proxy, as a ratio (BENCH_ROTATED_ROUNDS).
// BENCH_P11KIT=1 runs bench/xks/p11kit-rpc.mjs instead: the token out of process through p11-kit's
// RPC (p11-kit-client.so) next to the same token in process, raw pkcs11js rates, same run.
// Other knobs: apps/xks-proxy/docs/bench.md.
// Last line: `xks-bench: <req/s> req/s, ratio <r>, p99 at 1800 req/s <ms> ms`.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { encryptBody, requestMetadata, selfSignedCertificate, xksSigner } from "./common.mjs";
import { FaultControl, faultEnv, faultModule } from "../../tools/pkcs11-fault/fault.cjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const main = join(root, "apps/xks-proxy/dist/main.js");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const RATE = Number(process.env.BENCH_RATE ?? 1800);
const RAW_SECONDS = Number(process.env.BENCH_RAW_SECONDS ?? 3);
const KEEP = process.env.BENCH_KEEP === "1";
// [server] processes of the proxy (node:cluster workers sharing the port): "auto" (one per CPU, as
// deploy/xks-proxy.toml.example has it) unless BENCH_PROCESSES says otherwise
const PROCESSES = process.env.BENCH_PROCESSES ?? "auto";
/** How many processes the proxy runs; the floor and layer servers run as many, so their rows compare. */
const NPROC = os.availableParallelism?.() ?? os.cpus().length;
const SERVER_PROCESSES = PROCESSES === "auto" ? NPROC : Number(PROCESSES);
const FAST_PATH = process.env.BENCH_FAST_PATH !== "0";
const PROFILE = process.env.BENCH_CPU_PROF === "1";
const PERF = process.env.BENCH_PERF === "1";
const ROTATED = process.env.BENCH_ROTATED === "1";
const lib = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"].find(
  (p) => existsSync(p),
);
if (process.env.BENCH_P11KIT === "1") {
  await import("./p11kit-rpc.mjs");
  process.exit(0);
}
if (!existsSync(main)) {
  console.error(`${main} is missing: run pnpm build first`);
  process.exit(1);
}
if (!lib) {
  console.error("SoftHSM2 is not installed (pnpm run setup)");
  process.exit(1);
}

const log = (s) => process.stderr.write(`[bench:xks] ${s}\n`);
// The token (and the run's other files) live where BENCH_TOKEN_DIR says; by default in the system
// temporary directory, on disk like the embedded default token in the per-user data dir.
// BENCH_TOKEN_DIR=/dev/shm puts it on tmpfs, where SoftHSM's per-use file checks on a token
// object cost less (both the raw baseline and a proxy without session copies speed up).
const base = process.env.BENCH_TOKEN_DIR ?? os.tmpdir();
const baseFs = (() => {
  try {
    return execFileSync("df", ["--output=fstype", base], { encoding: "utf8" }).trim().split("\n").pop().trim();
  } catch {
    return "unknown filesystem";
  }
})();
const dir = mkdtempSync(join(base, "ciop-bench-xks-"));
/** Proxy processes started (stopped in the end). */
const servers = [];

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function get(url, headers = {}) {
  return new Promise((res, rej) => {
    // (https for the proxy's API; plain http for its own /metrics listener)
    const r = (url.startsWith("http:") ? http : https).get(url, { rejectUnauthorized: false, agent: false, headers }, (resp) => {
      let body = "";
      resp.on("data", (d) => (body += d));
      resp.on("end", () => res({ status: resp.statusCode, body }));
    });
    r.on("error", rej);
    r.setTimeout(2000, () => r.destroy(new Error("timeout")));
  });
}

/**
 * Sum (s) and count of the proxy's own HSM-call histogram (xks_proxy_hsm_duration_seconds, every
 * series; the processes' metrics are aggregated), or undefined when /metrics does not answer.
 */
async function hsmHistogram(url) {
  // (once more after a failed try: the first connection after a saturation phase can time out)
  const r = (await get(`${url}/metrics`).catch(() => undefined)) ?? (await get(`${url}/metrics`).catch(() => undefined));
  if (r?.status !== 200) return undefined;
  let sum = 0;
  let count = 0;
  for (const line of r.body.split("\n")) {
    const m = /^xks_proxy_hsm_duration_seconds_(sum|count)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === "sum") sum += Number(m[2]);
    else if (m) count += Number(m[2]);
  }
  return { sum, count };
}

function post(agent, port, path, headers, body) {
  return new Promise((res, rej) => {
    const r = https.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent, rejectUnauthorized: false }, (resp) => {
      let text = "";
      resp.on("data", (d) => (text += d));
      resp.on("end", () => res({ status: resp.statusCode, body: text }));
    });
    r.on("error", rej);
    r.end(body);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function cpuModel() {
  const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return m ? m[1].trim() : (os.cpus()[0]?.model ?? "unknown");
}

/** One autocannon phase; latencies also collected at full (sub-ms) precision from 'response'. */
async function load(title, opts) {
  const lat = [];
  const inst = autocannon({ connections: CONNECTIONS, duration: SECONDS, pipelining: 1, ...opts });
  inst.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) lat.push(ms);
  });
  const result = await inst;
  lat.sort((a, b) => a - b);
  const non2xx = result.non2xx + result.errors + result.timeouts;
  const ok = lat.length;
  const row = {
    title,
    reqPerSec: ok / result.duration,
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
    max: lat[lat.length - 1] ?? NaN,
    // autocannon's own p99 (whole ms, corrected for coordinated omission when a rate is set)
    acP99: result.latency.p99,
    errors: non2xx,
    statusCodes: result.statusCodeStats,
    duration: result.duration,
  };
  log(`${title}: ${row.reqPerSec.toFixed(0)} req/s ok, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, errors ${non2xx}`);
  return row;
}

// Saturation load generator: wrk (C, one thread) when installed, else autocannon (node). Both are
// closed-loop over CONNECTIONS keep-alive TLS connections; wrk needs far less CPU per request,
// which matters when the generator shares the machine's two cores with the proxy.
const GENERATOR = process.env.BENCH_GENERATOR ?? (hasWrk() ? "wrk" : "autocannon");
function hasWrk() {
  try {
    execFileSync("wrk", ["-v"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // wrk -v prints its version and exits with status 1
    return err.status === 1;
  }
}

const WRK_LUA = `
local reqs = {}
local i = 0
init = function(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for r in string.gmatch(data, "([^%z]+)") do reqs[#reqs + 1] = r end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

let wrkRuns = 0;
/** One wrk phase over a pool of fully formed requests (each sent as raw HTTP/1.1, in turn). */
async function loadWrk(title, { url, requests, seconds = SECONDS }) {
  const n = wrkRuns++;
  const script = join(dir, "wrk.lua");
  if (n === 0) writeFileSync(script, WRK_LUA);
  const file = join(dir, `wrk-requests-${n}.bin`);
  const host = new URL(url).host;
  writeFileSync(file, Buffer.concat(requests.flatMap((r, i) => (i === 0 ? [rawRequest(r, host)] : [Buffer.from([0]), rawRequest(r, host)]))));
  const out = await new Promise((res, rej) => {
    const child = spawn("wrk", ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "5s", "-s", script, url, "--", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.stderr.on("data", (d) => (text += d));
    child.once("exit", (code) => (code === 0 ? res(text) : rej(new Error(`wrk exited with ${code}: ${text.slice(0, 500)}`))));
  });
  const m = /WRK_JSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no summary: ${out.slice(0, 500)}`);
  const w = JSON.parse(m[1]);
  const duration = w.duration_us / 1e6;
  const errors = w.non2xx + w.errors;
  const row = {
    title,
    reqPerSec: (w.requests - w.non2xx) / duration,
    p50: w.p50_us / 1000,
    p99: w.p99_us / 1000,
    max: w.max_us / 1000,
    errors,
    statusCodes: { non2xx: w.non2xx, socketErrors: w.errors },
    duration,
  };
  log(`${title}: ${row.reqPerSec.toFixed(0)} req/s ok, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, errors ${errors} (wrk)`);
  return row;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** The numeric fields of /proc/<pid>/stat after the command name: utime [11], stime [12], cutime [13], cstime [14]. */
function procStat(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  return text
    .slice(text.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
}
/** CPU seconds (user + system) used so far by a server process and its live children (cluster workers); NaN without /proc. */
function serverCpu(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return [pid, ...kids].reduce((sum, p) => {
      const f = procStat(p);
      return sum + (f[11] + f[12]) / CLK_TCK;
    }, 0);
  } catch {
    return NaN;
  }
}
/** CPU seconds of this process's finished children (wrk runs as one); NaN without /proc. */
function generatorCpu() {
  try {
    const f = procStat("self");
    return (f[13] + f[14]) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * A closed-loop saturation phase with the chosen generator. With `serverPid`, the row also gets the
 * server's and the generator's CPU time per answered request (µs, user + system; the generator's
 * only for wrk, which is a child process of this one).
 */
async function saturate(title, { serverPid, ...opts }) {
  const s0 = serverPid ? serverCpu(serverPid) : NaN;
  const g0 = generatorCpu();
  const row = await (GENERATOR === "wrk" ? loadWrk(title, { url: opts.url, requests: opts.requests, seconds: opts.duration }) : load(title, opts));
  const answered = row.reqPerSec * row.duration;
  row.serverCpuUs = serverPid ? ((serverCpu(serverPid) - s0) / answered) * 1e6 : NaN;
  row.generatorCpuUs = GENERATOR === "wrk" ? ((generatorCpu() - g0) / answered) * 1e6 : NaN;
  return row;
}

/** A request as raw HTTP/1.1 bytes (Host from `host` unless the headers carry one). */
function rawRequest(r, host) {
  const body = r.body ?? "";
  const lines = [`${r.method} ${r.path} HTTP/1.1`];
  const headers = { host, ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
  for (const [k, v] of Object.entries(headers)) if (k !== "content-length") lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i/rate and is sent then (or as soon
 * as the generator gets the CPU and a connection is free), over `connections` keep-alive TLS
 * sockets. Latency runs from the due time to the end of the response, so a slow server or a late
 * generator shows up in it (no coordinated omission). Requests are pre-rendered bytes written to
 * raw TLS sockets and responses are parsed by Content-Length: a node https.Agent costs several
 * times more CPU per request, which on a 2-core machine is taken from the server being measured.
 * autocannon's own rate option sends each second's budget as a burst, which measures saturation
 * latency instead; hence this.
 */
async function paced(title, { port, rate, seconds, connections, requests }) {
  const host = `localhost:${port}`;
  const wire = requests.map((r) => rawRequest(r, host));
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const lat = [];
  const codes = {};
  const slow = [];
  let errors = 0;
  let errMax = 0;
  let start = 0;
  let measuring = false;
  const queue = []; // due times of requests waiting for a free connection
  const free = [];
  let completed = 0;
  let onAllDone;

  function finish(due, status) {
    if (!measuring) return;
    const ms = performance.now() - due;
    if (ms > 50) slow.push(Math.round(due - start));
    codes[status] = (codes[status] ?? 0) + 1;
    if (status >= 200 && status < 300) lat.push(ms);
    else {
      errors++;
      errMax = Math.max(errMax, ms);
    }
    completed++;
    if (completed === total && onAllDone) onAllDone();
  }

  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((res, rej) => {
          const sock = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false });
          sock.setNoDelay(true);
          const c = { sock, due: 0, n: 0, buf: Buffer.alloc(0) };
          sock.on("data", (d) => {
            c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
            for (;;) {
              const end = c.buf.indexOf("\r\n\r\n");
              if (end < 0) return;
              const head = c.buf.subarray(0, end).toString("latin1");
              const m = /\r\ncontent-length: *(\d+)/i.exec(head);
              const len = m ? Number(m[1]) : 0;
              if (c.buf.length < end + 4 + len) return;
              const status = Number(head.slice(9, 12));
              c.buf = c.buf.subarray(end + 4 + len);
              finish(c.due, status);
              const next = queue.shift();
              if (next === undefined) free.push(c);
              else send(c, next);
            }
          });
          sock.once("secureConnect", () => res(c));
          sock.once("error", (e) => {
            errors++;
            rej(e);
          });
        }),
    ),
  );
  function send(c, due) {
    c.due = due;
    c.sock.write(wire[c.n++ % wire.length]);
  }
  // one warm-up request per connection (not measured); each connection is free again once answered
  for (const c of conns) send(c, performance.now());
  for (let i = 0; free.length < conns.length; i++) {
    if (i > 500) throw new Error(`${title}: the warm-up requests were not answered`);
    await new Promise((r) => setTimeout(r, 10));
  }
  start = performance.now();
  measuring = true;
  let sent = 0;
  const allDone = new Promise((r) => (onAllDone = r));
  await new Promise((resolveAll) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) {
        const at = start + sent * interval;
        const c = free.pop();
        if (c) send(c, at);
        else queue.push(at);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, Math.floor(start + sent * interval - performance.now())));
      else resolveAll();
    };
    tick();
  });
  await Promise.race([allDone, new Promise((r) => setTimeout(r, 10_000))]);
  const elapsed = (performance.now() - start) / 1000;
  for (const c of conns) c.sock.destroy();
  errors += total - completed;
  lat.sort((a, b) => a - b);
  const row = {
    title,
    reqPerSec: lat.length / elapsed,
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
    max: lat[lat.length - 1] ?? NaN,
    errors,
    statusCodes: codes,
    errMax,
    duration: elapsed,
  };
  log(`${title}: ${row.reqPerSec.toFixed(0)} req/s ok, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, errors ${errors}`);
  if (slow.length) {
    // when the slow (> 50 ms) requests were due, in 100 ms buckets: tells stalls from steady queueing
    const buckets = [...new Set(slow.map((t) => Math.floor(t / 100) * 100))];
    log(
      `  ${slow.length} requests over 50 ms, due in ${buckets.length} 100-ms windows starting at ms ${buckets.slice(0, 20).join(", ")}${buckets.length > 20 ? ", ..." : ""}`,
    );
  }
  return row;
}

try {
  // ---------------------------------------------------------------- token, key, TLS, config
  mkdirSync(join(dir, "tokens"));
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = randomBytes(8).toString("hex");
  const label = "xks-bench";
  const env = { ...process.env, SOFTHSM2_CONF: conf, XKS_BENCH_PIN: pin, RAW_PIN: pin, XDG_DATA_HOME: join(dir, "xdg"), NO_COLOR: "1" };
  delete env.XKS_PROXY_CONFIG;
  delete env.XKS_PROXY_SETTINGS_TOML;
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], {
    env,
    stdio: "ignore",
  });
  const { cert, key } = selfSignedCertificate(dir);

  // Salesforce cache-only route group (optional row): a BYOK certificate, a Basic password, a kid
  let sfSection = [];
  let sfAuth;
  const SF_KID = "bench-kid";
  if (process.env.BENCH_SALESFORCE !== "0") {
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:4096",
          "-nodes",
          "-keyout",
          join(dir, "sf-byok.key"),
          "-out",
          join(dir, "sf-byok.crt"),
          "-days",
          "2",
          "-subj",
          "/CN=bench-byok",
        ],
        { stdio: "ignore" },
      );
      const password = randomBytes(18).toString("base64url");
      const hash = execFileSync(process.execPath, [main, "salesforce", "hash-password"], { env, input: password, encoding: "utf8" })
        .trim()
        .split("\n")
        .pop()
        .trim();
      sfSection = [
        `[salesforce]`,
        `path_prefix = "/salesforce/keys"`,
        `registry = "${join(dir, "sf-registry.json")}"`,
        `certificate = "${join(dir, "sf-byok.crt")}"`,
        `audit_log = "off"`,
        `[salesforce.auth]`,
        `basic_username = "salesforce"`,
        `basic_password_hash = "${hash}"`,
      ];
      sfAuth = `Basic ${Buffer.from(`salesforce:${password}`).toString("base64")}`;
    } catch (err) {
      log(`salesforce row skipped (setup failed: ${String(err.message ?? err).split("\n")[0]})`);
    }
  }

  const port = await freePort();
  // /metrics has a listener of its own (the main one never serves it)
  const metricsPort = await freePort();
  const cred = JSON.parse(execFileSync(process.execPath, [main, "credential", "new", "--json"], { env, encoding: "utf8" }));
  const prefix = "/bench/xks";
  const configFile = join(dir, "xks-proxy.toml");
  writeFileSync(
    configFile,
    [
      `[server]`,
      `ip = "127.0.0.1"`,
      `port = ${port}`,
      `processes = ${PROCESSES === "auto" ? '"auto"' : Number(PROCESSES)}`,
      ...(FAST_PATH ? [] : ["fast_path = false"]),
      `[server.tls]`,
      `cert_file = "${cert}"`,
      `key_file = "${key}"`,
      `[hsm]`,
      `library = "${lib}"`,
      `token = "${label}"`,
      `pin_env = "XKS_BENCH_PIN"`,
      ...(process.env.BENCH_CALL_MODE ? [`call_mode = "${process.env.BENCH_CALL_MODE}"`] : []),
      `[metrics]`,
      `ip = "127.0.0.1"`,
      `port = ${metricsPort}`,
      `[logging]`,
      `level = "info"`,
      `file = "${join(dir, "proxy.log")}"`,
      `[health]`,
      `key = "bench-health"`,
      `[[stores]]`,
      `name = "bench"`,
      `uri_prefix = "${prefix}"`,
      `keys = ["bench-key"${ROTATED ? `, "bench-rot"` : ""}]`,
      `[[stores.credentials]]`,
      `access_key_id = "${cred.accessKeyId}"`,
      `secret_access_key_env = "XKS_BENCH_SECRET"`,
      ...sfSection,
      ``,
    ].join("\n"),
    { mode: 0o600 },
  );
  env.XKS_BENCH_SECRET = cred.secretAccessKey;
  execFileSync(process.execPath, [main, "keys", "create", "bench-key", "--config", configFile], { env, stdio: ["ignore", "ignore", "inherit"] });
  if (sfAuth) {
    try {
      execFileSync(process.execPath, [main, "salesforce", "keys", "create", SF_KID, "--config", configFile], { env, stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      log(`salesforce row skipped (key creation failed: ${String(err.stderr ?? err.message).split("\n")[0]})`);
      sfAuth = undefined;
    }
  }

  // ---------------------------------------------------------------- raw pkcs11js baseline
  // each in its own process; the token-key sync run is repeated after the load phases and the
  // better of the two is the ratio's denominator (a busy machine can only lower the baseline)
  const raw = (mode, kind) =>
    JSON.parse(execFileSync(process.execPath, [join(here, "raw-gcm.mjs"), lib, label, String(RAW_SECONDS), mode, kind], { env, encoding: "utf8" }));
  const layer = (mode) =>
    JSON.parse(
      execFileSync(process.execPath, [join(here, "hsm-layer.mjs"), lib, label, String(RAW_SECONDS), mode, String(CONNECTIONS)], { env, encoding: "utf8" }),
    );
  log(`raw pkcs11js AES-GCM baselines (${RAW_SECONDS} s each)...`);
  const rawSync = raw("sync", "token");
  const rawSession = raw("sync", "session");
  const rawAsync = raw("async2", "token");
  const layerSync = layer("sync");
  const layerAsync = layer("async");
  log(
    `raw token-key sync ${rawSync.opsPerSec.toFixed(0)}, session-key sync ${rawSession.opsPerSec.toFixed(0)}, token-key async x2 ${rawAsync.opsPerSec.toFixed(0)}; Hsm sync ${layerSync.opsPerSec.toFixed(0)}, Hsm async ${layerAsync.opsPerSec.toFixed(0)} ops/s`,
  );

  // ---------------------------------------------------------------- TLS floor (bare HTTPS server)
  let floor;
  let floorPaced;
  // node options for the proxy and the layer servers (BENCH_CPU_PROF: a V8 CPU profile per process)
  const nodeArgs = [
    ...(PROFILE ? ["--cpu-prof", "--cpu-prof-dir", join(here, "profiles")] : []),
    ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
  ];
  /** A floor server (floor-server.mjs) of the given layer on a free port, once it listens. */
  async function startFloor(layer) {
    const fport = await freePort();
    const layerEnv = {
      ...env,
      FLOOR_ACCESS_KEY_ID: cred.accessKeyId,
      FLOOR_PREFIX: prefix,
      FLOOR_KEY: "bench-key",
      FLOOR_LIB: lib,
      FLOOR_TOKEN: label,
      FLOOR_PROCESSES: String(SERVER_PROCESSES),
    };
    const child = spawn(process.execPath, [...(layer === "bare" ? [] : nodeArgs), join(here, "floor-server.mjs"), cert, key, String(fport), layer], {
      env: layerEnv,
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise((r, j) => {
      child.stdout.once("data", r);
      child.once("exit", () => j(new Error(`floor server (${layer}) exited`)));
    });
    return { fport, child };
  }
  {
    const { fport, child: fs } = await startFloor("bare");
    try {
      const fUrl = `https://localhost:${fport}`;
      const body = JSON.stringify({
        requestMetadata: { kmsOperation: "Encrypt", kmsRequestId: randomUUID() },
        plaintext: randomBytes(32).toString("base64"),
        encryptionAlgorithm: "AES_GCM",
      });
      const reqs = [{ method: "POST", path: "/kms/xks/v1/keys/k/encrypt", headers: { "content-type": "application/json" }, body }];
      await saturate("floor warm-up", { url: fUrl, requests: reqs, duration: 2 });
      floor = await saturate("bare node HTTPS floor (no SigV4, no HSM)", { url: fUrl, requests: reqs, serverPid: fs.pid });
      // the paced generator against the floor: shows what the generator itself adds at that rate
      floorPaced = await paced(`bare node HTTPS floor, ${RATE} req/s paced`, {
        port: fport,
        rate: RATE,
        seconds: Math.min(SECONDS, 5),
        connections: CONNECTIONS,
        requests: reqs.map((r) => ({ ...r, headers: { ...r.headers, host: `localhost:${fport}` } })),
      });
    } finally {
      fs.kill("SIGTERM");
    }
  }

  // ---------------------------------------------------------------- start the proxy
  /** Starts `entry` (a build's dist/main.js) with `config`; resolves once its /ping answers. */
  async function startProxy(entry, config, onPort, args = nodeArgs, childEnv = env) {
    const child = spawn(process.execPath, [...args, entry, "serve", "--config", config], { env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
    servers.push(child);
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    for (let i = 0; ; i++) {
      const r = await get(`https://localhost:${onPort}/ping`).catch(() => undefined);
      if (r?.status === 200) break;
      if (child.exitCode !== null || i > 100) throw new Error(`the proxy (${entry}) did not come up: ${err.slice(0, 2000)}`);
      await new Promise((r2) => setTimeout(r2, 100));
    }
    return child;
  }
  /** A saturation phase against a proxy; the row also gets the time inside its HSM calls, per call. */
  async function saturateProxy(title, opts) {
    const h0 = await hsmHistogram(opts.metricsUrl);
    const row = await saturate(title, opts);
    const h1 = await hsmHistogram(opts.metricsUrl);
    // as the proxy itself measures it; with sync calls (SoftHSM) that is CPU time of the proxy too
    row.hsmCallUs = h0 && h1 && h1.count > h0.count ? ((h1.sum - h0.sum) / (h1.count - h0.count)) * 1e6 : NaN;
    return row;
  }
  const server = await startProxy(main, configFile, port);
  const baseUrl = `https://localhost:${port}`;
  log(`proxy up on ${baseUrl} (pid ${server.pid})`);

  // ---------------------------------------------------------------- signed request pools
  const signed = xksSigner(cred);
  const encPath = `${prefix}/kms/xks/v1/keys/bench-key/encrypt`;
  const decPath = `${prefix}/kms/xks/v1/keys/bench-key/decrypt`;
  const POOL = Number(process.env.BENCH_POOL ?? 256);

  /** Ciphertexts to decrypt, made by the server on `toPort` itself over keep-alive connections. */
  async function ciphertextsFrom(toPort, count = POOL, encP = encPath) {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    const out = [];
    try {
      for (let i = 0; i < count; i++) {
        const b = encryptBody();
        const r = await signed(encP, b, toPort);
        const resp = await post(agent, toPort, encP, r.headers, r.body);
        if (resp.status !== 200) throw new Error(`encrypt during setup failed: ${resp.status} ${resp.body}`);
        out.push({ aad: b.additionalAuthenticatedData, ...JSON.parse(resp.body) });
      }
    } finally {
      agent.destroy();
    }
    return out;
  }

  /** Encrypt and Decrypt requests, alternating, freshly signed for the server on `toPort`. */
  async function mixedPool(toPort = port, cts = ciphertexts, paths = { enc: encPath, dec: decPath }) {
    const reqs = [];
    for (let i = 0; i < POOL; i++) {
      reqs.push(await signed(paths.enc, encryptBody(), toPort));
      const c = cts[i];
      const dec = {
        requestMetadata: requestMetadata("Decrypt"),
        ciphertext: c.ciphertext,
        encryptionAlgorithm: "AES_GCM",
        initializationVector: c.initializationVector,
        authenticationTag: c.authenticationTag,
        additionalAuthenticatedData: c.aad,
      };
      if (c.ciphertextMetadata !== undefined) dec.ciphertextMetadata = c.ciphertextMetadata;
      reqs.push(await signed(paths.dec, dec, toPort));
    }
    return reqs;
  }
  const ciphertexts = await ciphertextsFrom(port);
  const common = { url: baseUrl, metricsUrl: `http://127.0.0.1:${metricsPort}`, tlsOptions: { rejectUnauthorized: false }, serverPid: server.pid };

  // ---------------------------------------------------------------- phases
  log(`warm-up (3 s)...`);
  await saturate("warm-up", { ...common, duration: 3, requests: await mixedPool() });
  // BENCH_PERF=1: a system-wide `perf record` over the saturation phase (who burns the CPU: kernel, TLS, SoftHSM, V8)
  const perf = PERF
    ? spawn("perf", ["record", "-a", "-g", "-q", "-o", join(here, "profiles", "perf.data"), "--", "sleep", String(SECONDS)], { stdio: "ignore" })
    : undefined;
  const sat = await saturateProxy(`saturation, ${CONNECTIONS} connections`, { ...common, requests: await mixedPool() });
  if (perf) await new Promise((r) => (perf.exitCode !== null ? r() : perf.once("exit", r)));
  // a rate the proxy can sustain here (half its saturation throughput), for a latency picture below the knee
  const halfRate = Math.max(100, Math.round(sat.reqPerSec / 2 / 100) * 100);
  const half = await paced(`${halfRate} req/s offered (paced, half of saturation)`, {
    port,
    rate: halfRate,
    seconds: SECONDS,
    connections: CONNECTIONS,
    requests: await mixedPool(),
  });
  const rated = await paced(`${RATE} req/s offered (paced), ${CONNECTIONS} connections`, {
    port,
    rate: RATE,
    seconds: SECONDS,
    connections: CONNECTIONS,
    requests: await mixedPool(),
  });

  // BENCH_AB=<another build's apps/xks-proxy/dist/main.js, or "same"> (and BENCH_AB_NODE_ARGS, node
  // options for it instead of BENCH_NODE_ARGS): a second proxy B on another port with the same
  // config and token, then rounds of a saturation and a paced phase against this build (A) and B,
  // in the order AB, BA, AB...: a difference smaller than this machine's drift between whole runs
  // shows up in the pairs (BENCH_AB_ROUNDS, default 6)
  let abRounds;
  let abLabel;
  if (process.env.BENCH_AB) {
    // (a relative path is taken from where `pnpm bench:xks` was started)
    const entryB = process.env.BENCH_AB === "same" ? main : resolve(process.env.INIT_CWD ?? process.cwd(), process.env.BENCH_AB);
    const argsB = process.env.BENCH_AB_NODE_ARGS === undefined ? nodeArgs : process.env.BENCH_AB_NODE_ARGS.split(" ").filter(Boolean);
    abLabel = `A = ${main}${nodeArgs.length ? ` (${nodeArgs.join(" ")})` : ""}, B = ${entryB}${argsB.length ? ` (${argsB.join(" ")})` : ""}`;
    const portB = await freePort();
    const metricsPortB = await freePort();
    const configB = join(dir, "xks-proxy-b.toml");
    writeFileSync(
      configB,
      readFileSync(configFile, "utf8").replace(`port = ${port}\n`, `port = ${portB}\n`).replace(`port = ${metricsPort}\n`, `port = ${metricsPortB}\n`),
      { mode: 0o600 },
    );
    const serverB = await startProxy(entryB, configB, portB, argsB);
    log(`A/B: B = ${entryB} on port ${portB} (pid ${serverB.pid})`);
    await saturate("A/B: B warm-up", { url: `https://localhost:${portB}`, duration: 3, requests: await mixedPool(portB) });
    const sides = [
      { name: "A", port, metricsPort, pid: server.pid },
      { name: "B", port: portB, metricsPort: metricsPortB, pid: serverB.pid },
    ];
    abRounds = [];
    for (let i = 0; i < Number(process.env.BENCH_AB_ROUNDS ?? 6); i++) {
      const round = {};
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        const s = await saturateProxy(`A/B round ${i + 1}, ${side.name}, saturation`, {
          url: `https://localhost:${side.port}`,
          metricsUrl: `http://127.0.0.1:${side.metricsPort}`,
          requests: await mixedPool(side.port),
          serverPid: side.pid,
        });
        const p = await paced(`A/B round ${i + 1}, ${side.name}, ${RATE} req/s offered`, {
          port: side.port,
          rate: RATE,
          seconds: SECONDS,
          connections: CONNECTIONS,
          requests: await mixedPool(side.port),
        });
        round[side.name] = { sat: s, paced: p };
      }
      abRounds.push(round);
    }
  }

  // BENCH_ROTATED=1: key rotation's cost. bench-rot is created, 1/3 of the decrypt pool is encrypted
  // under version 1, `keys rotate`, 1/3 under version 2, `keys rotate`, 1/3 under version 3; then
  // rounds of saturation alternate between bench-key (never rotated) and bench-rot (encrypt on
  // version 3, decrypt the mix) on the same proxy; the ratio of the medians is the cost.
  let rotRounds;
  if (ROTATED) {
    const rotPaths = { enc: `${prefix}/kms/xks/v1/keys/bench-rot/encrypt`, dec: `${prefix}/kms/xks/v1/keys/bench-rot/decrypt` };
    const admin = (...args) => execFileSync(process.execPath, [main, "keys", ...args, "--config", configFile], { env, stdio: ["ignore", "ignore", "inherit"] });
    const third = Math.ceil(POOL / 3);
    admin("create", "bench-rot");
    await new Promise((r) => setTimeout(r, 1500)); // past the key-state TTL: the proxy sees the new key
    const rotCts = await ciphertextsFrom(port, third, rotPaths.enc);
    for (let v = 2; v <= 3; v++) {
      admin("rotate", "bench-rot");
      await new Promise((r) => setTimeout(r, 1500));
      rotCts.push(...(await ciphertextsFrom(port, third, rotPaths.enc)));
    }
    const versions = rotCts.map((c) => Buffer.from(c.ciphertextMetadata, "base64").toString("hex"));
    if (!versions.includes("c101") || !versions.includes("c10200000003"))
      throw new Error(`rotation setup: unexpected metadata ${[...new Set(versions)].join(",")}`);
    // interleave the versions through the pool (v1, v2, v3, v1, ...)
    const mix = Array.from({ length: POOL }, (_, i) => rotCts[(i % 3) * third + Math.floor(i / 3)] ?? rotCts[i]);
    const sides = [
      { name: "unrotated", pool: () => mixedPool(port) },
      { name: "rotated", pool: () => mixedPool(port, mix, rotPaths) },
    ];
    await saturate("rotation: warm-up (rotated key)", { ...common, duration: 3, requests: await sides[1].pool() });
    rotRounds = [];
    for (let i = 0; i < Number(process.env.BENCH_ROTATED_ROUNDS ?? 6); i++) {
      const round = {};
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        round[side.name] = await saturateProxy(`rotation round ${i + 1}, ${side.name} key, saturation`, { ...common, requests: await side.pool() });
      }
      rotRounds.push(round);
    }
  }

  // BENCH_HSM_LATENCY_US=0,300,1000: the proxy as for a network HSM (call_mode = "async": GCM in
  // @ciop/hsm's worker threads, token keys, no session copies) over the fault-injecting module,
  // which adds that latency to every PKCS#11 call (a request makes two: the Init and the
  // Encrypt/Decrypt); the 0 row is the same set-up without added latency. BENCH_NET_SESSIONS=2,4,8,16
  // (default 8) runs each latency with that many pooled sessions (and worker threads) per server
  // process, next to the raw pkcs11js rate through the same module with as many threads making the
  // same calls (raw-gcm.mjs threads<N>, N = sessions × server processes); BENCH_NET_WORKERS sets
  // `[hsm] workers` (0: no worker threads, as before they existed). BENCH_NET_HANG=0 leaves out
  // the row where some calls hang past timeout_ms (default on, at the smallest latency > 0).
  const netRows = [];
  let hangRow;
  if (process.env.BENCH_HSM_LATENCY_US) {
    const shim = faultModule();
    const sessionCounts = (process.env.BENCH_NET_SESSIONS ?? "8").split(",").map(Number);
    // BENCH_NET_WORKERS=0: the proxy without GCM worker threads (each Init on the event loop), for comparison
    const NET_WORKERS = process.env.BENCH_NET_WORKERS;
    /** One proxy over the module with `sessions` pooled sessions; `during` runs while its paced phase does. */
    async function netPhase(us, sessions, { rules = [], control, during } = {}) {
      const portN = await freePort();
      const metricsPortN = await freePort();
      const configN = join(dir, `xks-proxy-net-${us}-${sessions}.toml`);
      const text = readFileSync(configFile, "utf8")
        .replace(`port = ${port}\n`, `port = ${portN}\n`)
        .replace(`port = ${metricsPort}\n`, `port = ${metricsPortN}\n`)
        .replace(`library = "${lib}"\n`, `library = "${shim}"\n`)
        .replace(/call_mode = "\w+"\n/, "")
        .replace(
          `pin_env = "XKS_BENCH_PIN"\n`,
          `pin_env = "XKS_BENCH_PIN"\ncall_mode = "async"\nsession_key_copies = false\nsession_pool = ${sessions}\n${NET_WORKERS === undefined ? "" : `workers = ${NET_WORKERS}\n`}`,
        );
      writeFileSync(configN, text, { mode: 0o600 });
      // BENCH_NET_DELAY_FUNCS (default "*"): which PKCS#11 functions get the latency, e.g.
      // "C_EncryptInit,C_Encrypt,C_DecryptInit,C_Decrypt" for the data path only
      const delayed = (process.env.BENCH_NET_DELAY_FUNCS ?? "*").split(",").filter(Boolean);
      const envN = { ...env, ...faultEnv({ realModule: lib, control, rules: [...(us > 0 ? delayed.map((fn) => `${fn} delay ${us}`) : []), ...rules] }) };
      const threads = sessions * SERVER_PROCESSES;
      const rawN = (() =>
        JSON.parse(
          execFileSync(process.execPath, [join(here, "raw-gcm.mjs"), shim, label, String(RAW_SECONDS), `threads${threads}`, "token"], {
            env: envN,
            encoding: "utf8",
          }),
        ))();
      const serverN = await startProxy(main, configN, portN, nodeArgs, envN);
      try {
        const title = `async, +${us / 1000} ms per PKCS#11 call, ${sessions} sessions`;
        await saturate(`${title}: warm-up`, {
          url: `https://localhost:${portN}`,
          duration: 2,
          tlsOptions: { rejectUnauthorized: false },
          requests: await mixedPool(portN),
        });
        const satN = await saturateProxy(`${title}: saturation`, {
          url: `https://localhost:${portN}`,
          metricsUrl: `http://127.0.0.1:${metricsPortN}`,
          tlsOptions: { rejectUnauthorized: false },
          requests: await mixedPool(portN),
          serverPid: serverN.pid,
        });
        const stop = during?.();
        const pacedN = await paced(`${title}: ${RATE} req/s offered`, {
          port: portN,
          rate: RATE,
          seconds: SECONDS,
          connections: CONNECTIONS,
          requests: await mixedPool(portN),
        });
        stop?.();
        return { us, sessions, threads, raw: rawN?.opsPerSec, sat: satN, paced: pacedN };
      } finally {
        serverN.kill("SIGTERM");
        await new Promise((r) => (serverN.exitCode !== null ? r() : serverN.once("exit", r)));
      }
    }
    const latencies = process.env.BENCH_HSM_LATENCY_US.split(",").map(Number);
    for (const us of latencies) for (const n of us === 0 ? [sessionCounts[sessionCounts.length - 1]] : sessionCounts) netRows.push(await netPhase(us, n));
    const hangUs = latencies.filter((u) => u > 0).sort((a, b) => a - b)[0];
    if (process.env.BENCH_NET_HANG !== "0" && hangUs !== undefined) {
      // every 500 ms the control file is replaced (which also starts its counters afresh): the next
      // C_EncryptInit and the next C_Decrypt then hang for 400 ms, past timeout_ms (200): those
      // requests must be answered 503 within the timeout while the others are served
      const control = new FaultControl(join(dir, "hang-control"));
      control.clear();
      const n = sessionCounts.includes(8) ? 8 : sessionCounts[sessionCounts.length - 1];
      hangRow = await netPhase(hangUs, n, {
        control: control.file,
        during: () => {
          const t = setInterval(() => control.set("C_EncryptInit hang 400 times 1", "C_Decrypt hang 400 times 1"), 500);
          return () => {
            clearInterval(t);
            control.clear();
          };
        },
      });
    }
  }

  // Salesforce cache-only: GET <prefix>/<kid> with Basic auth, a fresh JWE per response
  let sfRow;
  if (sfAuth) {
    const sfReq = [{ method: "GET", path: `/salesforce/keys/${SF_KID}`, headers: { authorization: sfAuth } }];
    const probe = await get(`${baseUrl}/salesforce/keys/${SF_KID}`, { authorization: sfAuth }).catch((e) => ({ status: 0, body: e.message }));
    if (probe.status === 200 && JSON.parse(probe.body).jwe?.split(".").length === 5) {
      // warm-up first, as for the XKS rows: the first callout per connection pays scrypt once per
      // process (Basic credentials are then cached) and the JWE path its first compilation
      await saturate("salesforce warm-up", { ...common, duration: 2, requests: sfReq });
      sfRow = await saturate("salesforce cache-only JWE, saturation", { ...common, requests: sfReq });
    } else {
      log(`salesforce row skipped (probe answered ${probe.status}: ${probe.body.slice(0, 200)})`);
    }
  }

  // ------------------------------------------------ the same requests through the proxy's layers alone
  // (one process each): @ciop/xks's pipeline with node:crypto GCM, then with GCM in the HSM
  const layers = [];
  if (process.env.BENCH_LAYERS !== "0") {
    // by default the layers sit on the same HTTP path as the proxy (its fast path, unless BENCH_FAST_PATH=0)
    for (const layer of (process.env.BENCH_LAYERS || (FAST_PATH ? "xks+fast,xks-hsm+fast" : "xks,xks-hsm")).split(",")) {
      const { fport, child } = await startFloor(layer);
      try {
        const cts = await ciphertextsFrom(fport);
        const lUrl = `https://localhost:${fport}`;
        await saturate(`layer ${layer} warm-up`, { url: lUrl, duration: 2, requests: await mixedPool(fport, cts) });
        layers.push({ layer, row: await saturate(`layer ${layer}, saturation`, { url: lUrl, requests: await mixedPool(fport, cts), serverPid: child.pid }) });
      } finally {
        child.kill("SIGTERM");
      }
    }
  }

  const rawSyncAfter = raw("sync", "token");
  const rawBase = Math.max(rawSync.opsPerSec, rawSyncAfter.opsPerSec);

  // ---------------------------------------------------------------- report
  const ratio = sat.reqPerSec / rawBase;
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  const load1 = os.loadavg()[0];
  console.log(`\nxks-proxy under TLS keep-alive load: SigV4-signed Encrypt/Decrypt (50/50), 32-byte plaintext, 64-byte AAD`);
  console.log(
    `machine: ${NPROC} CPUs, ${cpuModel()}, node ${process.version}, SoftHSM 2 token in ${base} (${baseFs}), load average at the end ${load1.toFixed(2)}`,
  );
  console.log(
    `load generators: ${GENERATOR === "wrk" ? "wrk 4 (one thread, its own process)" : "autocannon 8 (in this process)"} for saturation, and a paced open-loop generator in this process (fixed rate, raw TLS sockets), ${CONNECTIONS} keep-alive connections, ${SECONDS} s per phase; the proxy is a separate process (server processes: ${PROCESSES === "auto" ? `auto = ${SERVER_PROCESSES}` : PROCESSES}; XKS fast path ${FAST_PATH ? "on" : "off"})\n`,
  );
  console.log(`${"".padEnd(44)}${"req/s".padStart(10)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"max ms".padStart(9)}${"errors".padStart(8)}`);
  const line = (name, r) =>
    console.log(
      `${name.padEnd(44)}${f(r.reqPerSec).padStart(10)}${f(r.p50, 2).padStart(9)}${f(r.p99, 2).padStart(9)}${f(r.max, 1).padStart(9)}${String(r.errors).padStart(8)}`,
    );
  line("proxy, saturation", sat);
  line(`proxy, ${RATE} req/s offered (paced)`, rated);
  line(`proxy, ${halfRate} req/s offered (paced)`, half);
  if (sfRow) line("salesforce cache-only JWE, saturation", sfRow);
  line("bare node HTTPS server, same TLS (floor)", floor);
  line(`  floor, ${RATE} req/s paced (generator check)`, floorPaced);
  const opsLine = (name, v) => console.log(`${name.padEnd(44)}${f(v).padStart(10)}`);
  console.log(`\nHSM work alone (ops/s, one op = one AES-GCM encrypt or decrypt; a request needs one):`);
  opsLine("raw pkcs11js, token key, 1 session, sync", rawSync.opsPerSec);
  opsLine("  same, repeated after the load phases", rawSyncAfter.opsPerSec);
  opsLine("raw pkcs11js, session key, 1 session, sync", rawSession.opsPerSec);
  opsLine("raw pkcs11js, token key, 2 sessions, async", rawAsync.opsPerSec);
  opsLine("@ciop/hsm Hsm, token key, sync", layerSync.opsPerSec);
  opsLine(`@ciop/hsm Hsm, token key, async, ${CONNECTIONS} in flight`, layerAsync.opsPerSec);
  const cpuLine = (name, r) => console.log(`${name.padEnd(44)}${f(r.serverCpuUs).padStart(10)}${f(r.generatorCpuUs).padStart(12)}`);
  console.log(`\nCPU time per answered request at saturation (µs, user + system, all of the machine's CPUs):`);
  console.log(`${"".padEnd(44)}${"server".padStart(10)}${"generator".padStart(12)}`);
  cpuLine("proxy", sat);
  opsLine("  of which in the HSM call (proxy's histogram)", sat.hsmCallUs);
  if (sfRow) cpuLine("salesforce cache-only JWE", sfRow);
  cpuLine("bare node HTTPS floor", floor);
  opsLine("one raw token-key GCM op (1e6 / best raw)", 1e6 / rawBase);
  if (layers.length > 0) {
    const n = SERVER_PROCESSES;
    const procs = `${n} process${n === 1 ? "" : "es"}`;
    console.log(`\nThe proxy's cost built up layer by layer (${procs} each, the same signed requests, saturation):`);
    console.log(`${"".padEnd(52)}${"req/s".padStart(8)}${"server µs".padStart(11)}${"ratio to".padStart(10)}`);
    console.log(`${"".padEnd(52)}${"".padStart(8)}${"per req".padStart(11)}${"raw".padStart(10)}`);
    const layerLine = (name, r) =>
      console.log(`${name.padEnd(52)}${f(r.reqPerSec).padStart(8)}${f(r.serverCpuUs).padStart(11)}${(r.reqPerSec / rawBase).toFixed(2).padStart(10)}`);
    layerLine("bare node HTTPS server (floor)", floor);
    const names = {
      xks: "+ @ciop/xks pipeline, node:crypto GCM",
      "xks-hsm": "+ GCM in the HSM (session copy, sync)",
      "xks+fast": "+ @ciop/xks pipeline, node GCM, fast path",
      "xks-hsm+fast": "+ GCM in the HSM (session copy), fast path",
    };
    for (const { layer, row } of layers) layerLine(names[layer] ?? `layer ${layer}`, row);
    layerLine("the proxy itself (all on)", sat);
  }
  if (netRows.length > 0) {
    const base0 = netRows.find((r) => r.us === 0) ?? netRows[0];
    console.log(
      `\nA network HSM: call_mode = "async" (${process.env.BENCH_NET_WORKERS === "0" ? "workers = 0: each Init on the event loop" : "GCM in worker threads"}), token key, no session copies, over tools/pkcs11-fault adding latency to every PKCS#11 call (two per request)`,
    );
    console.log(
      `raw: pkcs11js through the same module, as many threads as the proxy has sessions in all its processes, each making Init + Encrypt/Decrypt in a loop (ops/s; one op = one request's HSM work)`,
    );
    console.log(
      `${"".padEnd(40)}${"raw".padStart(8)}${"req/s".padStart(8)}${"ratio".padStart(7)}${"ratio".padStart(7)}${`p99@${RATE}`.padStart(10)}${"served".padStart(8)}${"non-200".padStart(9)}`,
    );
    console.log(
      `${"".padEnd(40)}${"ops/s".padStart(8)}${"sat.".padStart(8)}${"to raw".padStart(7)}${"to +0".padStart(7)}${"ms".padStart(10)}${`@${RATE}`.padStart(8)}${"".padStart(9)}`,
    );
    const netLine = (name, r) =>
      console.log(
        `${name.padEnd(40)}${f(r.raw).padStart(8)}${f(r.sat.reqPerSec).padStart(8)}${(r.raw ? (r.sat.reqPerSec / r.raw).toFixed(2) : "-").padStart(7)}${(r.sat.reqPerSec / base0.sat.reqPerSec).toFixed(2).padStart(7)}${f(r.paced.p99, 2).padStart(10)}${f(r.paced.reqPerSec).padStart(8)}${String(r.sat.errors + r.paced.errors).padStart(9)}`,
      );
    for (const r of netRows) netLine(`+${r.us / 1000} ms/call, ${r.sessions} sess x ${SERVER_PROCESSES} proc`, r);
    console.log(
      `${"(the proxy above, its own call mode)".padEnd(40)}${"".padStart(8)}${f(sat.reqPerSec).padStart(8)}${"".padStart(7)}${(sat.reqPerSec / base0.sat.reqPerSec).toFixed(2).padStart(7)}${f(rated.p99, 2).padStart(10)}${f(rated.reqPerSec).padStart(8)}`,
    );
    if (hangRow) {
      netLine(`+${hangRow.us / 1000} ms/call, ${hangRow.sessions} sess, hangs`, hangRow);
      const c = hangRow.paced.statusCodes;
      console.log(
        `  hangs (every 500 ms one C_EncryptInit and one C_Decrypt held 400 ms; timeout_ms 200) during the paced phase: ${c[503] ?? 0} answered 503 (slowest ${f(hangRow.paced.errMax, 1)} ms after due), ${c[200] ?? 0} served, other statuses ${JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => k !== "200" && k !== "503")))}`,
      );
    }
  }
  if (rotRounds) {
    console.log(`\nKey rotation: the same proxy, bench-key (never rotated) vs bench-rot (rotated twice: encrypt on v3,`);
    console.log(`decrypt a 1/3 mix of v1, v2, v3 ciphertexts), alternating; ${SECONDS} s saturation phases`);
    console.log(`${"round".padEnd(8)}${"unrotated".padStart(11)}${"rotated".padStart(11)}${"ratio".padStart(8)}${"µs srv unrot/rot".padStart(20)}`);
    const rotMedian = (xs) => {
      const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
      const m = v.length >> 1;
      return v.length === 0 ? NaN : v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    };
    const line = (name, u, r, cu, cr) =>
      console.log(`${name.padEnd(8)}${f(u).padStart(11)}${f(r).padStart(11)}${(r / u).toFixed(3).padStart(8)}${`${f(cu)}/${f(cr)}`.padStart(20)}`);
    for (const [i, x] of rotRounds.entries()) line(String(i + 1), x.unrotated.reqPerSec, x.rotated.reqPerSec, x.unrotated.serverCpuUs, x.rotated.serverCpuUs);
    const mu = rotMedian(rotRounds.map((x) => x.unrotated.reqPerSec));
    const mr = rotMedian(rotRounds.map((x) => x.rotated.reqPerSec));
    line("median", mu, mr, rotMedian(rotRounds.map((x) => x.unrotated.serverCpuUs)), rotMedian(rotRounds.map((x) => x.rotated.serverCpuUs)));
    console.log(`rotated / unrotated, medians: ${(mr / mu).toFixed(3)} (target: >= 0.97, rotation costs at most 3 %)`);
  }

  if (abRounds) {
    console.log(`\nA/B, alternating (AB, BA, ...): ${abLabel}; ${SECONDS} s phases`);
    console.log("(µs per request: server CPU / generator CPU / in the HSM call; p99 in ms)");
    const head = (side) => `${`${side} req/s`.padStart(9)}${"µs srv/gen/hsm".padStart(16)}${`p99@${RATE}`.padStart(10)}`;
    console.log(`${"round".padEnd(8)}${head("A")} ${head("B")}`);
    const cell = (x) =>
      `${f(x.sat.reqPerSec).padStart(9)}${`${f(x.sat.serverCpuUs)}/${f(x.sat.generatorCpuUs)}/${f(x.sat.hsmCallUs)}`.padStart(16)}${f(x.paced.p99, 2).padStart(10)}`;
    for (const [i, r] of abRounds.entries()) console.log(`${String(i + 1).padEnd(8)}${cell(r.A)} ${cell(r.B)}`);
    // (a round whose /metrics read failed has no HSM figure: medians skip it rather than sort a NaN)
    const median = (xs) => {
      const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
      if (v.length === 0) return NaN;
      const m = v.length >> 1;
      return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    };
    const med = (side, pick) => median(abRounds.map((r) => pick(r[side])));
    const mid = (side) => ({
      sat: {
        reqPerSec: med(side, (x) => x.sat.reqPerSec),
        serverCpuUs: med(side, (x) => x.sat.serverCpuUs),
        generatorCpuUs: med(side, (x) => x.sat.generatorCpuUs),
        hsmCallUs: med(side, (x) => x.sat.hsmCallUs),
      },
      paced: { p99: med(side, (x) => x.paced.p99) },
    });
    const [mA, mB] = [mid("A"), mid("B")];
    console.log(`${"median".padEnd(8)}${cell(mA)} ${cell(mB)}`);
    const wins = abRounds.filter((r) => r.B.sat.reqPerSec > r.A.sat.reqPerSec).length;
    console.log(
      `B / A, medians: req/s ${(mB.sat.reqPerSec / mA.sat.reqPerSec).toFixed(3)}, server µs per request ${(mB.sat.serverCpuUs / mA.sat.serverCpuUs).toFixed(3)}; B served more in ${wins} of ${abRounds.length} rounds`,
    );
  }
  console.log(`\nratio proxy req/s / raw token-key sync ops/s (better of two runs): ${ratio.toFixed(2)}`);
  console.log(`ratio proxy req/s / bare HTTPS floor req/s:                       ${(sat.reqPerSec / floor.reqPerSec).toFixed(2)}`);
  if (sat.errors || rated.errors || half.errors)
    console.log(
      `non-2xx/errors: saturation ${JSON.stringify(sat.statusCodes)}, ${RATE}/s ${JSON.stringify(rated.statusCodes)}, ${halfRate}/s ${JSON.stringify(half.statusCodes)}`,
    );
  if (rated.reqPerSec < RATE * 0.97)
    console.log(
      `note: the proxy delivered ${f(rated.reqPerSec)} of the ${RATE} req/s offered, so requests queued and the p99 at ${RATE} req/s is queueing time`,
    );
  const p99 = Math.max(rated.p99, 0);
  console.log(`xks-bench: ${f(sat.reqPerSec)} req/s, ratio ${ratio.toFixed(2)}, p99 at ${RATE} req/s ${p99.toFixed(2)} ms`);
  if (sat.errors + rated.errors + half.errors > 0) process.exitCode = 1;
} finally {
  await Promise.all(
    servers
      .filter((child) => child.exitCode === null)
      .map(
        (child) =>
          new Promise((r) => {
            const t = setTimeout(() => {
              child.kill("SIGKILL");
              r();
            }, 5000);
            child.once("exit", () => {
              clearTimeout(t);
              r();
            });
            child.kill("SIGTERM");
          }),
      ),
  );
  if (KEEP) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
