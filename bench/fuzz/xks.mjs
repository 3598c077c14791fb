// pnpm fuzz:xks — sends mutated and malformed requests to running xks-proxy processes and checks
// every answer against HTTP and the XKS spec, while a legitimate signed client measures latency.
//
//   pnpm fuzz:xks                                   (100,000 cases; after `pnpm build`)
//   pnpm fuzz:xks --requests 2000 --seed 1234
//   pnpm fuzz:xks --case 4711 --seed 1234           (one case again, with what was sent and received)
//
// Proxies (each its own process, the built apps/xks-proxy/dist/main.js unless --proxy names
// another entry): tls-fast (TLS, fast path on), plain-fast (plain HTTP, fast path on), tls-node
// and plain-node (`[server] fast_path = false`: everything through node's HTTP server). With the
// fast path on, every case that is not a clean XKS POST (odd headers, chunked, GET, weird targets,
// trickled bytes) is handed to node's server, so both HTTP paths get fuzzed there too; the
// proxies' xks_proxy_connections_handed_off_total is printed to show it.
// Token: the jest global setup's (SOFTHSM2_CONF + CIOP_TEST_TOKEN_LABEL + CIOP_TEST_PIN) when set,
// else a throw-away SoftHSM token; keys and credentials come from the proxy's admin commands.
// Every case is a pure function of (seed, case number). Options: see USAGE below.
// Exit status 0 when there are no crashes, no non-spec answers (invalid HTTP, a status/errorName
// pair the spec does not allow, a JSON error without errorName, anything past authentication for
// an unsigned request, a failed control request), no unexpected 5xx, no unanswered well-formed
// request, no failed legitimate request, and RSS and fds within tolerance; 1 otherwise; 2 usage.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import * as signed from "./lib/cases-signed.mjs";
import * as raw from "./lib/cases-raw.mjs";
import { judge } from "./lib/oracle.mjs";
import { rngFor } from "./lib/prng.mjs";
import { admin, certificate, ProxyProcess, renderToml, token } from "./lib/proxy.mjs";
import { Pool, runCase } from "./lib/runner.mjs";
import { render, signedRequest } from "./lib/wire.mjs";

const USAGE = `usage: node bench/fuzz/xks.mjs [options]
  --requests N          fuzz cases to send (default 100000, or $FUZZ_XKS_REQUESTS)
  --seed N              32-bit seed (default random; printed)
  --targets LIST        of tls-fast,plain-fast,tls-node,plain-node (default all four)
  --concurrency N       cases in flight (default 16)
  --legit-rate N        legitimate requests per second, spread over the targets (default 40)
  --legit-from ADDR     local address of the legitimate client (default 127.0.0.2, another source
                        than the fuzzer's 127.0.0.1 as KMS would be; "" = the system's choice)
  --baseline-secs N     legitimate client alone before the fuzz (default 3)
  --settle-secs N       quiet time before the RSS/fd readings (default 5)
  --rss-tolerance-mib N allowed RSS growth per proxy, baseline to end (default 48)
  --fd-tolerance N      allowed open-fd growth per proxy (default 4)
  --timeout-ms N        a well-formed request unanswered this long is a finding (default 5000)
  --set TABLE.KEY=VALUE extra proxy setting, TOML value as written (repeatable; "stores.KEY" goes to
                        every store; also $FUZZ_XKS_SET, separated by ";"): e.g. limits for the run
  --allow-503           503 DependencyTimeoutException (HSM slower than timeout_ms) is not a failure
  --proxy FILE          proxy entry point (default apps/xks-proxy/dist/main.js)
  --json FILE           also write the summary and reproducers as JSON
  --repro N             reproducers printed per finding type (default 3)
  --case N              run only case N (with --seed) and print what was sent and received
  --keep                keep the run directory (configs, logs)`;

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
let args;
try {
  ({ values: args } = parseArgs({
    options: {
      requests: { type: "string" },
      seed: { type: "string" },
      targets: { type: "string" },
      concurrency: { type: "string" },
      "legit-rate": { type: "string" },
      "legit-from": { type: "string" },
      "baseline-secs": { type: "string" },
      "settle-secs": { type: "string" },
      "rss-tolerance-mib": { type: "string" },
      "fd-tolerance": { type: "string" },
      "timeout-ms": { type: "string" },
      set: { type: "string", multiple: true },
      "allow-503": { type: "boolean" },
      proxy: { type: "string" },
      json: { type: "string" },
      repro: { type: "string" },
      case: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const num = (v, d) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`not a number: ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const N = num(args.requests ?? process.env.FUZZ_XKS_REQUESTS, 100_000);
const SEED = args.seed !== undefined ? num(args.seed) >>> 0 : randomBytes(4).readUInt32BE(0);
const CONCURRENCY = Math.max(1, num(args.concurrency, 16));
const LEGIT_RATE = num(args["legit-rate"], 40);
const LEGIT_FROM = args["legit-from"] ?? "127.0.0.2";
const BASELINE_SECS = num(args["baseline-secs"], 3);
const SETTLE_SECS = num(args["settle-secs"], 5);
const RSS_TOL_KIB = num(args["rss-tolerance-mib"], 48) * 1024;
const FD_TOL = num(args["fd-tolerance"], 4);
const TIMEOUT_MS = num(args["timeout-ms"], 5000);
const REPRO = num(args.repro, 3);
const ONE_CASE = args.case !== undefined ? num(args.case) : undefined;
const SETS = [...(process.env.FUZZ_XKS_SET ?? "").split(";").filter(Boolean), ...(args.set ?? [])];
const ENTRY = resolve(process.env.INIT_CWD ?? process.cwd(), args.proxy ?? join(root, "apps/xks-proxy/dist/main.js"));
const ALL_TARGETS = {
  "tls-fast": { tls: true, fast: true },
  "plain-fast": { tls: false, fast: true },
  "tls-node": { tls: true, fast: false },
  "plain-node": { tls: false, fast: false },
};
const TARGET_NAMES = (args.targets ?? Object.keys(ALL_TARGETS).join(",")).split(",");
for (const t of TARGET_NAMES) {
  if (!ALL_TARGETS[t]) {
    console.error(`unknown target ${t}\n${USAGE}`);
    process.exit(2);
  }
}

const FAMILIES = [
  [5, "control", signed.control],
  [35, "signed-json", signed.signedJson],
  [8, "signed-headers", signed.signedHeaders],
  [10, "bad-auth", signed.badAuth],
  [8, "request-line", raw.requestLine],
  [10, "headers", raw.headerMutation],
  [10, "framing", raw.framing],
  [5, "pipelined", raw.pipelined],
  [4, "slow-writes", raw.slowWrites],
  [4, "random-bytes", raw.randomBytes],
  [1, "abandoned", raw.abandon],
];
const log = (s) => process.stderr.write(`[fuzz:xks] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------- setup
const dir = mkdtempSync(join(process.env.CIOP_TEST_DIR ?? os.tmpdir(), "ciop-fuzz-xks-"));
const proxies = [];
let exitCode = 1;
try {
  const tok = token(dir);
  const { cert, key } = certificate(dir);
  const run = randomBytes(3).toString("hex");
  const env = { ...process.env, SOFTHSM2_CONF: tok.conf, FUZZ_PIN: tok.pin, NO_COLOR: "1", XDG_DATA_HOME: join(dir, "xdg") };
  delete env.XKS_PROXY_CONFIG;
  delete env.XKS_PROXY_SETTINGS_TOML;
  const creds = [0, 1, 2].map(() => JSON.parse(admin(ENTRY, ["credential", "new", "--json"], env)));
  for (const [i, c] of creds.entries()) env[`FUZZ_SECRET_${i}`] = c.secretAccessKey;
  const keys = {
    good: `fuzz-${run}-key`,
    encOnly: `fuzz-${run}-enc`,
    decOnly: `fuzz-${run}-dec`,
    disabled: `fuzz-${run}-off`,
    missing: `fuzz-${run}-absent`,
    other: `fuzz-${run}-unlisted`,
  };
  const principal = "arn:aws:iam::111122223333:role/bench";
  const stores = {
    a: { prefix: "/fuzz/a", credentials: [creds[0]], principal },
    root: { prefix: "", credentials: [creds[1], creds[2]] },
  };
  const storeToml = [
    {
      name: "a",
      uri_prefix: "/fuzz/a",
      keys: [keys.good, keys.encOnly, keys.decOnly, keys.disabled, keys.missing],
      allowed_principals: [principal],
      regions: ["us-east-1", "eu-west-1"],
      credentials: [{ access_key_id: creds[0].accessKeyId, secret_access_key_env: "FUZZ_SECRET_0" }],
    },
    {
      name: "root",
      uri_prefix: "",
      keys: [keys.good, keys.encOnly, keys.decOnly, keys.disabled],
      credentials: [
        { access_key_id: creds[1].accessKeyId, secret_access_key_env: "FUZZ_SECRET_1" },
        { access_key_id: creds[2].accessKeyId, secret_access_key_env: "FUZZ_SECRET_2" },
      ],
    },
  ];
  const targets = TARGET_NAMES.map((name) => ({ name, ...ALL_TARGETS[name], port: 0 }));
  for (const t of targets) {
    const tables = [
      ["server", { ip: "127.0.0.1", port: 0, ...(t.fast ? {} : { fast_path: false }) }],
      ...(t.tls ? [["server.tls", { cert_file: cert, key_file: key }]] : []),
      ["hsm", { library: tok.lib, token: tok.label, pin_env: "FUZZ_PIN" }],
      ["health", { key: `fuzz-${run}-health` }],
      ["logging", { level: "info", file: join(dir, `${t.name}.log`) }],
      ["metrics", { port: 0 }],
    ];
    const file = join(dir, `${t.name}.toml`);
    writeFileSync(file, renderToml(tables, storeToml, SETS), { mode: 0o600 });
    proxies.push(new ProxyProcess(t, ENTRY, file, join(dir, `${t.name}.log`), env));
  }
  const cfg0 = proxies[0].configFile;
  admin(ENTRY, ["keys", "create", keys.good, "--config", cfg0], env);
  admin(ENTRY, ["keys", "create", keys.encOnly, "--usage", "encrypt-only", "--config", cfg0], env);
  admin(ENTRY, ["keys", "create", keys.decOnly, "--usage", "decrypt-only", "--config", cfg0], env);
  admin(ENTRY, ["keys", "create", keys.disabled, "--config", cfg0], env);
  admin(ENTRY, ["keys", "disable", keys.disabled, "--config", cfg0], env);
  admin(ENTRY, ["keys", "create", keys.other, "--config", cfg0], env);
  await Promise.all(proxies.map((p) => p.start()));
  log(
    `seed ${SEED}; ${N} cases over ${targets.map((t) => `${t.name} :${t.port}`).join(", ")}; proxy ${ENTRY}; token ${tok.shared ? "from the jest setup" : "throw-away"}; run dir ${dir}`,
  );

  // ------------------------------------------------------------------ controls and ciphertexts
  const ctx = { stores, keys, principal, ciphertexts: [], prefixes: ["/fuzz/a", ""] };
  const once = async (target, store, op, body) => {
    const r = signedRequest({ store, port: target.port, target: signed.apiPath(store.prefix, op, keys.good), body: Buffer.from(JSON.stringify(body)) });
    const out = await runCase({ bytes: render(r), requests: [{ method: "POST", target: r.target, wellFormed: true }] }, target, undefined, {
      timeoutMs: 10_000,
    });
    const resp = out.responses[0];
    if (resp?.status !== 200)
      throw new Error(
        `control ${op} on ${target.name} (store ${store.prefix || "/"}) answered ${resp ? `${resp.status} ${resp.body.toString().slice(0, 300)}` : JSON.stringify(out)}: the fuzzer's signer or the setup is wrong`,
      );
    return JSON.parse(resp.body.toString());
  };
  const setupRng = rngFor(SEED, 0xffffffff);
  for (const t of targets)
    for (const s of Object.values(stores)) await once(t, s, "GetHealthStatus", signed.validBody(ctx, setupRng, "setup", "GetHealthStatus", s));
  for (let i = 0; i < 12; i++) {
    const pt = randomBytes([1, 32, 300, 4300][i % 4]);
    const body = {
      requestMetadata: {
        awsPrincipalArn: principal,
        kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/x",
        kmsOperation: "Encrypt",
        kmsRequestId: `setup-${i}`,
      },
      plaintext: pt.toString("base64"),
      encryptionAlgorithm: "AES_GCM",
    };
    if (i % 3 !== 0) body.additionalAuthenticatedData = randomBytes(i % 3 === 1 ? 64 : 8192).toString("base64");
    if (i % 2 === 1) body.ciphertextDataIntegrityValueAlgorithm = "SHA_256";
    const r = await once(targets[0], stores.a, "Encrypt", body);
    ctx.ciphertexts.push({
      ciphertext: r.ciphertext,
      initializationVector: r.initializationVector,
      authenticationTag: r.authenticationTag,
      ciphertextMetadata: r.ciphertextMetadata,
      additionalAuthenticatedData: body.additionalAuthenticatedData,
    });
  }

  // ------------------------------------------------------------------ cases
  const genCase = (i) => {
    const rng = rngFor(SEED, i);
    const target = rng.pick(targets);
    const [, family, fn] = rng.weighted(FAMILIES.map((f) => [f[0], f]));
    const c = fn(ctx, rng, target, i);
    c.family = family;
    return { c, target };
  };

  if (ONE_CASE !== undefined) {
    const { c, target } = genCase(ONE_CASE);
    const bytes = Buffer.concat((c.writes ?? [{ data: c.bytes }]).map((w) => w.data));
    console.log(`case ${ONE_CASE} (seed ${SEED}): ${c.family} on ${target.name}: ${c.note}`);
    console.log(`sent (${bytes.length} bytes in ${(c.writes ?? [1]).length} writes${c.end ? ", then FIN" : ""}), base64:\n${bytes.toString("base64")}`);
    console.log(`as text:\n${bytes.toString("latin1").slice(0, 4000)}`);
    const out = await runCase(c, target, undefined, { timeoutMs: TIMEOUT_MS });
    for (const r of out.responses)
      console.log(
        `answer: ${r.head}\n${r.body.toString().slice(0, 2000)}\n  -> ${JSON.stringify(judge(r, c.requests[out.responses.indexOf(r)], ctx.prefixes))}`,
      );
    console.log(
      JSON.stringify({
        invalid: out.invalid,
        closedByPeer: out.closedByPeer,
        timedOut: out.timedOut,
        abandoned: out.abandoned,
        connectError: out.connectError,
      }),
    );
    await sleep(500);
    const crashed = proxies.filter((p) => p.exits.length);
    for (const p of crashed) console.log(`CRASH ${p.target.name}: ${JSON.stringify(p.exits[0])}`);
    exitCode = crashed.length ? 1 : 0;
  } else {
    exitCode = await fuzz({ targets, ctx, genCase, dir });
  }
} catch (err) {
  console.error(`[fuzz:xks] ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  for (const p of proxies) {
    const how = await p.stop();
    if (how.code !== 0 && !p.exits.length) log(`${p.target.name} proxy ended with ${JSON.stringify(how)} on SIGTERM`);
  }
  if (args.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);

// ------------------------------------------------------------------------------------- the run
async function fuzz({ targets, ctx, genCase }) {
  const counts = {
    cases: 0,
    requestsSent: 0,
    cls: {},
    families: {},
    findings: {},
    throttledClose: 0,
    closedAfterFin: 0,
    connectErrors: 0,
    notClosedAfterFin: 0,
    abandoned: 0,
    reused: 0,
  };
  const examples = {};
  const add = (o, k, n = 1) => (o[k] = (o[k] ?? 0) + n);
  const finding = (type, i, c, target, detail, resp) => {
    add(counts.findings, type);
    examples[type] ??= [];
    const list = examples[type];
    if (list.length >= REPRO) return;
    const bytes = Buffer.concat((c.writes ?? [{ data: c.bytes }]).map((w) => w.data));
    list.push({
      case: i,
      target: target.name,
      family: c.family,
      note: c.note,
      detail,
      answer: resp ? `${resp.head.split("\r\n")[0]} ${resp.body.toString("utf8").slice(0, 300)}` : undefined,
      writes: (c.writes ?? [1]).length,
      fin: Boolean(c.end),
      reusedConnection: Boolean(c.reusedConnection),
      bytesBase64:
        bytes.length > 12_000
          ? `${bytes.subarray(0, 12_000).toString("base64")}... (${bytes.length} bytes in all; run --case ${i} --seed ${SEED} for the rest)`
          : bytes.toString("base64"),
    });
  };

  const evaluate = (i, c, target, out) => {
    add(counts.families, c.family);
    counts.requestsSent += Math.max(1, c.requests.length);
    if (out.reused) counts.reused++;
    c.reusedConnection = out.reused;
    if (out.connectError) {
      counts.connectErrors++;
      return;
    }
    if (out.invalid) finding("invalid-http", i, c, target, out.invalid);
    const allWellFormed = c.requests.length > 0 && c.requests.every((r) => r.wellFormed);
    out.responses.forEach((resp, k) => {
      const req = c.requests[k];
      if (!req && allWellFormed) {
        add(counts.cls, "non-spec");
        finding("non-spec", i, c, target, "more answers than requests", resp);
        return;
      }
      let j = judge(resp, req, ctx.prefixes);
      // node's parser answers a malformed request with 400 and closes at once, even when requests
      // pipelined before it are still unanswered: that answer may stand in for any of them
      if (
        j.finding &&
        !allWellFormed &&
        k === out.responses.length - 1 &&
        out.closedByPeer &&
        !/json/i.test(resp.headers.find(([n]) => n === "content-type")?.[1] ?? "") &&
        [400, 413, 431].includes(resp.status)
      )
        j = { cls: "parser-4xx" };
      add(counts.cls, j.cls);
      if (j.finding) finding(j.finding.type, i, c, target, j.finding.detail, resp);
      if (j.cls === "503" && !args["allow-503"]) finding("503", i, c, target, "503 DependencyTimeoutException", resp);
    });
    const want = c.minAnswers ?? (allWellFormed ? c.requests.length : 0);
    if (out.responses.length < want && !out.invalid) {
      if (out.timedOut) finding("unanswered", i, c, target, `${want - out.responses.length} of ${want} well-formed requests unanswered after ${TIMEOUT_MS} ms`);
      // node's HTTP server (and the fast path, which behaves the same) drops requests still
      // unanswered when the client half-closes: not a finding
      else if (c.end) counts.closedAfterFin++;
      else {
        counts.throttledClose++;
        finding(
          "closed-without-answer",
          i,
          c,
          target,
          `closed with ${want - out.responses.length} of ${want} well-formed requests unanswered${out.socketError ? ` (${out.socketError})` : ""}`,
        );
      }
    } else if (c.end && out.timedOut) counts.notClosedAfterFin++;
    if (out.abandoned) counts.abandoned++;
  };

  // stats: a baseline after 10 % of the cases and a settle, samples every 10 %, the end after a settle
  const samples = [];
  const sample = (label) => {
    const s = { label, at: counts.cases, procs: Object.fromEntries(proxies.map((p) => [p.target.name, p.stats()])) };
    samples.push(s);
    return s;
  };
  // the legitimate client runs on its own thread (see lib/legit-worker.mjs)
  const legitData = {
    targets: targets.map((t) => ({ name: t.name, tls: t.tls, port: t.port })),
    store: ctx.stores.a,
    key: ctx.keys.good,
    ciphertexts: ctx.ciphertexts.filter((x) => x.additionalAuthenticatedData === undefined || x.additionalAuthenticatedData.length < 200),
    rate: LEGIT_RATE,
    localAddress: LEGIT_FROM || undefined,
  };
  const legit = LEGIT_RATE > 0 ? new Worker(new URL("./lib/legit-worker.mjs", import.meta.url), { workerData: legitData }) : undefined;
  if (legit) {
    // one second of warm-up (connections, TLS, first compilations) is not counted
    legit.postMessage({ cmd: "start", phase: "warm-up" });
    await sleep(1000);
    legit.postMessage({ cmd: "mark", phase: "alone" });
    await sleep(BASELINE_SECS * 1000);
    legit.postMessage({ cmd: "mark", phase: "during the fuzz" });
  }

  let next = 0;
  let gate;
  let active = 0;
  const pools = [];
  const inflight = new Map();
  const crashCases = [];
  let stopRun = false;
  /** Stops the lanes, waits for the cases in flight, runs `fn`, lets the lanes go on. */
  const pause = (fn) => {
    if (gate) return gate.done.then(() => pause(fn));
    let open;
    const promise = new Promise((r) => (open = r));
    gate = { promise };
    gate.done = (async () => {
      while (active > 0) await sleep(20);
      try {
        await fn();
      } finally {
        gate = undefined;
        open();
      }
    })();
    return gate.done;
  };
  // a proxy that exits is a crash: the cases in flight to it are kept as suspects, it is restarted
  // (at most 10 times in all) so the rest of the run still finds what it can
  let restarts = 0;
  for (const p of proxies) {
    p.onExit = () => {
      const suspects = [...inflight.entries()]
        .filter(([, v]) => v.target === p.target)
        .map(([i, v]) => ({
          case: i,
          family: v.c.family,
          note: v.c.note,
          bytesBase64: Buffer.concat((v.c.writes ?? [{ data: v.c.bytes }]).map((w) => w.data))
            .subarray(0, 12_000)
            .toString("base64"),
        }));
      crashCases.push({ target: p.target.name, suspects });
      log(`${p.target.name} proxy exited; cases in flight: ${suspects.map((x) => x.case).join(", ")}`);
      void pause(async () => {
        if (++restarts > 10) {
          stopRun = true;
          return;
        }
        try {
          await p.start();
        } catch (err) {
          log(`restart failed: ${err.message}`);
          stopRun = true;
          return;
        }
        p.restarted = true;
        legit?.postMessage({ cmd: "port", name: p.target.name, port: p.target.port });
      });
    };
  }
  const marks = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((f) => Math.max(1, Math.floor(N * f)));
  const baselineAt = marks[0];
  let baseline;
  const started = performance.now();
  let lastProgress = started;
  const lane = async () => {
    const pool = new Pool();
    pools.push(pool);
    for (;;) {
      while (gate) await gate.promise;
      if (next >= N || stopRun) break;
      const i = next++;
      active++;
      const { c, target } = genCase(i);
      inflight.set(i, { c, target });
      const out = await runCase(c, target, pool, { timeoutMs: TIMEOUT_MS });
      inflight.delete(i);
      evaluate(i, c, target, out);
      counts.cases++;
      active--;
      if (counts.cases === baselineAt) {
        // let connections close and the heap settle, then read the baseline
        void pause(async () => {
          for (const p of pools) p.closeAll();
          await sleep(SETTLE_SECS * 1000);
          baseline = sample("baseline");
        });
      } else if (marks.includes(counts.cases)) sample(`${Math.round((counts.cases / N) * 100)} %`);
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        log(`${counts.cases} / ${N} cases, ${(counts.cases / ((lastProgress - started) / 1000)).toFixed(0)}/s, findings ${JSON.stringify(counts.findings)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const fuzzSecs = (performance.now() - started) / 1000;
  let legitSummaries = {};
  if (legit) {
    legitSummaries = await new Promise((r) => {
      legit.once("message", (m) => r(m.summaries));
      legit.postMessage({ cmd: "stop", phases: ["alone", "during the fuzz"] });
    });
    await legit.terminate();
  }
  for (const p of pools) p.closeAll();
  await sleep(SETTLE_SECS * 1000);
  const end = sample("end");
  baseline ??= samples[0] ?? end;
  const metrics = {};
  for (const p of proxies) metrics[p.target.name] = await p.metrics();

  // ------------------------------------------------------------------ verdicts
  const crashes = [];
  for (const p of proxies) {
    for (const e of p.exits)
      crashes.push(`${p.target.name}: exited ${JSON.stringify({ code: e.code, signal: e.signal })} at ${e.at}: ${e.stderr.slice(0, 600)}`);
    for (const l of p.logLines()) if (l.msg === "worker-exited") crashes.push(`${p.target.name}: worker ${l.worker} exited (${l.code ?? l.signal})`);
  }
  const logs = Object.fromEntries(
    proxies.map((p) => {
      const lines = p.logLines();
      let bytes = NaN;
      try {
        bytes = statSync(p.logFile).size;
      } catch {
        // no log
      }
      const errorLines = lines.filter((l) => l.level === "error");
      // the distinct error messages (a handler that threw is a bug even when the client saw nothing)
      const kinds = {};
      for (const l of errorLines) {
        const k = `${l.msg}: ${String(l.error ?? "").slice(0, 160)}`;
        kinds[k] = (kinds[k] ?? 0) + 1;
      }
      return [
        p.target.name,
        {
          bytes,
          lines: lines.length,
          errors: errorLines.length,
          errorKinds: kinds,
          requestFailed: lines.filter((l) => l.msg === "request-failed").length,
          unparsed: lines.filter((l) => l.unparsed).length,
        },
      ];
    }),
  );
  const growth = Object.fromEntries(
    proxies.map((p) => {
      const b = baseline.procs[p.target.name];
      const e = end.procs[p.target.name];
      const peak = Math.max(...samples.map((s) => s.procs[p.target.name].rssKiB));
      // (a restarted proxy has no baseline to compare with; its crash fails the run anyway)
      const judged = !p.restarted;
      return [
        p.target.name,
        {
          rssBeforeKiB: b.rssKiB,
          rssAfterKiB: e.rssKiB,
          rssPeakKiB: peak,
          fdsBefore: b.fds,
          fdsAfter: e.fds,
          restarted: !judged,
          rssOk: !judged || e.rssKiB - b.rssKiB <= RSS_TOL_KIB,
          fdsOk: !judged || e.fds - b.fds <= FD_TOL,
        },
      ];
    }),
  );
  const legitAlone = legitSummaries.alone;
  const legitDuring = legitSummaries["during the fuzz"];
  const legitThrottled = (legitDuring?.codes[429] ?? 0) + (legitAlone?.codes[429] ?? 0);
  const legitFailures = (legitDuring?.errors ?? 0) + (legitAlone?.errors ?? 0) - legitThrottled;
  const F = counts.findings;
  const nonSpec = (F["non-spec"] ?? 0) + (F["invalid-http"] ?? 0) + (F["auth-leak"] ?? 0) + (F["control-failed"] ?? 0);
  const unexpected5xx = F["unexpected-5xx"] ?? 0;
  const failures = [];
  if (crashes.length) failures.push(`${crashes.length} crash(es)`);
  if (nonSpec) failures.push(`${nonSpec} non-spec answer(s)`);
  if (unexpected5xx) failures.push(`${unexpected5xx} unexpected 5xx`);
  if (F["503"]) failures.push(`${F["503"]} 503 (use --allow-503 under deliberate overload)`);
  if (F.unanswered) failures.push(`${F.unanswered} unanswered well-formed request(s)`);
  if (legitFailures > 0) failures.push(`${legitFailures} failed legitimate request(s)`);
  for (const [name, g] of Object.entries(growth)) {
    if (!g.rssOk) failures.push(`${name}: RSS grew ${((g.rssAfterKiB - g.rssBeforeKiB) / 1024).toFixed(1)} MiB (tolerance ${RSS_TOL_KIB / 1024})`);
    if (!g.fdsOk) failures.push(`${name}: open fds ${g.fdsBefore} -> ${g.fdsAfter} (tolerance +${FD_TOL})`);
  }
  if (counts.cases < N) failures.push(`only ${counts.cases} of ${N} cases ran`);

  // ------------------------------------------------------------------ report
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  const out = [];
  out.push(
    `\nxks-proxy fuzz: ${counts.cases} cases (${counts.requestsSent} requests) in ${f(fuzzSecs)} s, seed ${SEED}, ${CONCURRENCY} in flight; ${os.availableParallelism()} CPUs, node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} (the machine may be shared)`,
  );
  out.push(`targets: ${targets.map((t) => `${t.name} (${t.tls ? "TLS" : "plain"}, ${t.fast ? "fast path + node" : "node only"})`).join(", ")}`);
  out.push(`\n${"verdict".padEnd(48)}${"count".padStart(10)}  must be`);
  const row = (name, v, must = "") => out.push(`${name.padEnd(48)}${String(v).padStart(10)}  ${must}`);
  row("crashes (proxy exit / worker restart)", crashes.length, "0");
  row("non-spec answers", nonSpec, "0");
  row("  invalid HTTP", F["invalid-http"] ?? 0);
  row("  status/errorName not allowed, no errorName, ...", F["non-spec"] ?? 0);
  row("  past authentication without a valid signature", F["auth-leak"] ?? 0);
  row("  control request (valid, signed) not served", F["control-failed"] ?? 0);
  row("unexpected 5xx", unexpected5xx, "0");
  row("503 DependencyTimeoutException", counts.cls["503"] ?? 0, args["allow-503"] ? "(allowed)" : "0");
  row("well-formed requests unanswered in time", F.unanswered ?? 0, "0");
  row("throttled: 429 answers", counts.cls.throttled ?? 0, "(expected under limits)");
  row("throttled: closed before answering", counts.throttledClose, "(expected under limits)");
  row("throttled: connection refused/failed", counts.connectErrors, "(expected under limits)");
  row("legitimate requests failed", legitFailures, "0");
  row("legitimate requests throttled (429)", legitThrottled);
  out.push(`\n${"answers".padEnd(48)}${"count".padStart(10)}`);
  for (const [k, v] of Object.entries(counts.cls).sort()) row(`  ${k}`, v);
  row("  well-formed, unanswered when the fuzzer's FIN closed them", counts.closedAfterFin);
  row("  malformed, FIN sent, not closed in time", counts.notClosedAfterFin);
  row("  abandoned by the fuzzer", counts.abandoned);
  row("  cases on a reused keep-alive connection", counts.reused);
  out.push(
    `\ncases per family: ${Object.entries(counts.families)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  out.push(
    `\n${"proxy".padEnd(12)}${"RSS MiB before".padStart(16)}${"after".padStart(8)}${"peak".padStart(8)}${"fds before".padStart(12)}${"after".padStart(7)}${"handed off".padStart(12)}${"log MiB".padStart(9)}${"log errors".padStart(12)}`,
  );
  for (const p of proxies) {
    const g = growth[p.target.name];
    const m = metrics[p.target.name];
    const l = logs[p.target.name];
    out.push(
      `${p.target.name.padEnd(12)}${f(g.rssBeforeKiB / 1024).padStart(16)}${f(g.rssAfterKiB / 1024).padStart(8)}${f(g.rssPeakKiB / 1024).padStart(8)}${String(g.fdsBefore).padStart(12)}${String(g.fdsAfter).padStart(7)}${String(m.xks_proxy_connections_handed_off_total ?? "-").padStart(12)}${f(l.bytes / 1048576).padStart(9)}${String(l.errors).padStart(12)}`,
    );
  }
  const errorKinds = {};
  for (const l of Object.values(logs)) for (const [k, v] of Object.entries(l.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  if (Object.keys(errorKinds).length)
    out.push(
      `error lines in the proxies' logs: ${Object.entries(errorKinds)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => `${v} x ${k}`)
        .join("; ")}`,
    );
  out.push(
    `(baseline after ${baselineAt} cases and ${SETTLE_SECS} s settle; end after ${SETTLE_SECS} s settle; tolerance +${RSS_TOL_KIB / 1024} MiB RSS, +${FD_TOL} fds)`,
  );
  out.push(
    `RSS MiB by tenth: ${proxies.map((p) => `${p.target.name} ${samples.map((s) => f(s.procs[p.target.name].rssKiB / 1024, 0)).join(" ")}`).join("; ")}`,
  );
  if (legitDuring) {
    out.push(
      `\nlegitimate client (${LEGIT_RATE} req/s from ${LEGIT_FROM || "the default address"}, SigV4 by @smithy/signature-v4, Encrypt/Decrypt over ${targets.map((t) => t.name).join(", ")}):`,
    );
    out.push(
      `${"".padEnd(20)}${"sent".padStart(8)}${"200".padStart(8)}${"errors".padStart(8)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"max ms".padStart(9)}`,
    );
    for (const [name, s] of [
      ["alone", legitAlone],
      ["during the fuzz", legitDuring],
    ])
      out.push(
        `${name.padEnd(20)}${String(s.sent).padStart(8)}${String(s.ok).padStart(8)}${String(s.errors).padStart(8)}${f(s.p50, 2).padStart(9)}${f(s.p99, 2).padStart(9)}${f(s.max, 1).padStart(9)}`,
      );
    if (Object.keys(legitDuring.codes).some((c) => c !== "200")) out.push(`  statuses: ${JSON.stringify(legitDuring.codes)}`);
  }
  for (const c of crashes) out.push(`CRASH ${c}`);
  for (const cc of crashCases) {
    out.push(`cases in flight to ${cc.target} when it exited (one of them, or their sum, is the cause; replay each with --case N --seed ${SEED}):`);
    for (const x of cc.suspects.slice(0, 8)) out.push(`  case ${x.case}, ${x.family}: ${x.note}; bytes (base64): ${x.bytesBase64}`);
  }
  for (const [type, list] of Object.entries(examples)) {
    out.push(`\nfinding ${type} (${F[type]} in all; first ${list.length}):`);
    for (const e of list) {
      out.push(`  case ${e.case} (--case ${e.case} --seed ${SEED}), ${e.target}, ${e.family}: ${e.note}`);
      out.push(`    ${e.detail}${e.answer ? `; answer: ${e.answer}` : ""}`);
      out.push(
        `    sent in ${e.writes} write(s)${e.fin ? " then FIN" : ""}${e.reusedConnection ? " on a reused keep-alive connection" : ""}; bytes (base64): ${e.bytesBase64}`,
      );
    }
  }
  out.push(
    `\nfuzz:xks ${failures.length ? `FAILED: ${failures.join("; ")}` : "passed"}: ${counts.cases} cases, crashes ${crashes.length}, non-spec ${nonSpec}, unexpected 5xx ${unexpected5xx}, throttled ${(counts.cls.throttled ?? 0) + counts.throttledClose + counts.connectErrors}${legitDuring ? `, legitimate p99 ${f(legitDuring.p99, 2)} ms` : ""}`,
  );
  console.log(out.join("\n"));
  if (args.json) {
    writeFileSync(
      resolve(process.env.INIT_CWD ?? process.cwd(), args.json),
      JSON.stringify(
        {
          seed: SEED,
          cases: counts.cases,
          requestsSent: counts.requestsSent,
          seconds: fuzzSecs,
          crashes,
          nonSpec,
          unexpected5xx,
          counts,
          growth,
          samples,
          metrics,
          logs,
          legit: { alone: legitAlone, during: legitDuring },
          examples,
          crashCases,
          failures,
          passed: failures.length === 0,
        },
        null,
        1,
      ),
    );
  }
  return failures.length ? 1 : 0;
}
