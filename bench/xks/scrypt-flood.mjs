// XKS latency while the Salesforce route is flooded with wrong Basic passwords (issue 14, item 12).
//
//   node bench/xks/scrypt-flood.mjs            (from the repository root; runs the proxy from its sources)
//
// Starts the proxy (plain HTTP, one process, SoftHSM token made here, default scrypt cost N=2^15)
// in a child process, then for each row sends paced XKS Encrypt requests (RATE req/s over 4
// keep-alive connections for SECONDS s) and reports their client-side p50/p99:
//   baseline      no flood
//   one source    40 connections of wrong passwords, all from 127.0.0.2
//   40 sources    40 connections of wrong passwords, each from its own address (127.0.1.x)
// Printed as a table with the p99 ratio against the baseline. Not part of `pnpm test`.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { generateXksCredential } from "@ciop/xks";
import { encryptBody, xksSigner } from "./common.mjs";

const RATE = Number(process.env.RATE ?? 400);
const SECONDS = Number(process.env.SECONDS ?? 8);
const here = dirname(fileURLToPath(import.meta.url));
const runProxy = join(here, "../../apps/xks-proxy/test/support/run-proxy.cjs");
const dir = mkdtempSync(join(tmpdir(), "scrypt-flood-"));
const log = (s) => process.stdout.write(`${s}\n`);

mkdirSync(join(dir, "tokens"));
const conf = join(dir, "softhsm2.conf");
writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
const pin = randomBytes(8).toString("hex");
const env = { ...process.env, SOFTHSM2_CONF: conf, BENCH_PIN: pin, XDG_DATA_HOME: join(dir, "xdg") };
delete env.XKS_PROXY_CONFIG;
execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "flood-bench", "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], {
  env,
  stdio: "ignore",
});
const hash = execFileSync(process.execPath, [runProxy, "salesforce", "hash-password"], { env, input: "the real password", encoding: "utf8" })
  .trim()
  .split("\n")
  .pop()
  .trim();
const cred = generateXksCredential();
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const file = join(dir, "proxy.toml");
writeFileSync(
  file,
  `[server]\nip = "127.0.0.1"\nport = ${port}\n[hsm]\ntoken = "flood-bench"\npin_env = "BENCH_PIN"\n[logging]\nlevel = "error"\n` +
    `[[stores]]\nname = "b"\nuri_prefix = "/b"\nkeys = ["bench-key"]\n[[stores.credentials]]\naccess_key_id = "${cred.accessKeyId}"\nsecret_access_key = "${cred.secretAccessKey}"\n` +
    `[salesforce]\npath_prefix = "/sf"\nregistry = "keys.json"\naudit_log = "off"\n[salesforce.auth]\nbasic_username = "salesforce"\nbasic_password_hash = "${hash}"\n`,
);
execFileSync(process.execPath, [runProxy, "keys", "create", "bench-key", "--config", file], { env, stdio: "ignore" });

const child = spawn(process.execPath, [runProxy, "serve", "--config", file], { env, stdio: ["ignore", "ignore", "inherit"] });
process.on("exit", () => child.kill("SIGKILL"));
for (let i = 0; ; i++) {
  const up = await new Promise((resolve) =>
    http
      .get({ host: "127.0.0.1", port, path: "/ping" }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
      .on("error", () => resolve(false)),
  );
  if (up) break;
  if (i > 600) throw new Error("the proxy did not start");
  await new Promise((r) => setTimeout(r, 100));
}

const sign = xksSigner(cred);
const path = "/b/kms/xks/v1/keys/bench-key/encrypt";
// pre-signed requests (signing is the client's cost, not the proxy's)
const signed = [];
for (let i = 0; i < 400; i++) signed.push(await sign(path, encryptBody(), port));

function request(agent, r) {
  return new Promise((resolve, reject) => {
    const q = http.request(
      { host: "127.0.0.1", port, path: r.path, method: "POST", agent, headers: { ...r.headers, "content-length": Buffer.byteLength(r.body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    q.on("error", reject);
    q.end(r.body);
  });
}

async function xksRun() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const lat = [];
  let bad = 0;
  const start = performance.now();
  const total = RATE * SECONDS;
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // latency from when the request was due (queueing on the client side counts too)
    pending.push(
      request(agent, signed[i % signed.length]).then((status) => {
        if (status !== 200) bad++;
        lat.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { p50: q(0.5), p99: q(0.99), bad, n: lat.length };
}

// The flood runs in a process of its own, so its client-side work does not delay the XKS client's.
const FLOODER = `
const http = require("node:http");
const [port, spread] = process.argv.slice(1);
let on = true, n = 0;
const counts = {};
process.on("message", () => { on = false; });
const one = async (i) => {
  while (on) {
    const status = await new Promise((resolve) => {
      const q = http.request({ host: "127.0.0.1", port: Number(port), path: "/sf/some-kid", method: "GET", agent: false,
        localAddress: spread === "1" ? "127.0.1." + (i + 1) : "127.0.0.2",
        headers: { authorization: "Basic " + Buffer.from("salesforce:wrong " + n++).toString("base64") } },
        (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
      q.on("error", () => resolve(0));
      q.end();
    });
    counts[status] = (counts[status] || 0) + 1;
  }
};
Promise.all(Array.from({ length: 40 }, (_, i) => one(i))).then(() => process.send(counts, () => process.exit(0)));
`;

async function withFlood(spread, f) {
  const flooder = spawn(process.execPath, ["-e", FLOODER, String(port), spread ? "1" : "0"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise((r) => setTimeout(r, 500));
  const out = await f();
  const counts = await new Promise((resolve) => {
    flooder.once("message", resolve);
    flooder.send("stop");
  });
  return {
    ...out,
    flood: Object.entries(counts)
      .map(([s, c]) => `${s}:${c}`)
      .join(" "),
  };
}

try {
  await xksRun(); // warm-up
  const rows = [];
  rows.push({ row: "baseline", ...(await xksRun()) });
  rows.push({ row: "one source", ...(await withFlood(false, xksRun)) });
  rows.push({ row: "40 sources", ...(await withFlood(true, xksRun)) });
  rows.push({ row: "baseline again", ...(await xksRun()) });
  const base = rows[0].p99;
  log(`XKS Encrypt at ${RATE} req/s for ${SECONDS} s per row, while 40 connections send wrong Basic passwords to the Salesforce route`);
  log("row              p50 ms   p99 ms   p99/baseline   non-200   flood answers (status:count)");
  for (const r of rows)
    log(
      `${r.row.padEnd(16)} ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${(r.p99 / base).toFixed(2).padStart(12)}   ${String(r.bad).padStart(7)}   ${r.flood ?? ""}`,
    );
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
