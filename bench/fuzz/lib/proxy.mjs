// The proxies under fuzz: a SoftHSM token (the jest global setup's when SOFTHSM2_CONF and
// CIOP_TEST_* are set, else a throw-away one), TLS files from openssl, store credentials and keys
// made with the proxy's own admin commands, one config per target, and the running processes
// with their RSS and open file descriptors from /proc.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { selfSignedCertificate } from "../../xks/common.mjs";

const LIBS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"];

/** The token to use: { conf, lib, label, pin, shared }. */
export function token(dir) {
  const lib = process.env.CIOP_TEST_LIB ?? LIBS.find((p) => existsSync(p));
  if (!lib) throw new Error("SoftHSM2 is not installed (pnpm run setup)");
  if (process.env.SOFTHSM2_CONF && process.env.CIOP_TEST_TOKEN_LABEL && process.env.CIOP_TEST_PIN) {
    return { conf: process.env.SOFTHSM2_CONF, lib, label: process.env.CIOP_TEST_TOKEN_LABEL, pin: process.env.CIOP_TEST_PIN, shared: true };
  }
  mkdirSync(join(dir, "tokens"), { mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = randomBytes(8).toString("hex");
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "xks-fuzz", "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: "ignore",
  });
  return { conf, lib, label: "xks-fuzz", pin, shared: false };
}

/** The TLS certificate the fuzzed proxies serve. */
export const certificate = selfSignedCertificate;

const tomlValue = (v) => (typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(tomlValue).join(", ")}]` : String(v));

/**
 * TOML text: `tables` is [[name, {key: value}]...]; `stores` [{...keys, credentials: [...]}];
 * `sets` extra "table.key=raw TOML value" settings (`stores.key` goes to every store).
 */
export function renderToml(tables, stores, sets = []) {
  const t = tables.map(([name, kv]) => [name, Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, tomlValue(v)]))]);
  const s = stores.map((st) => ({
    ...st,
    kv: Object.fromEntries(
      Object.entries(st)
        .filter(([k]) => k !== "credentials")
        .map(([k, v]) => [k, tomlValue(v)]),
    ),
  }));
  for (const set of sets) {
    const m = /^([A-Za-z0-9_.]+)\.([A-Za-z0-9_]+)=(.*)$/s.exec(set);
    if (!m) throw new Error(`--set ${set}: expected table.key=value`);
    if (m[1] === "stores") {
      for (const st of s) st.kv[m[2]] = m[3];
      continue;
    }
    let entry = t.find(([name]) => name === m[1]);
    if (!entry) {
      entry = [m[1], {}];
      t.push(entry);
    }
    entry[1][m[2]] = m[3];
  }
  const out = [];
  for (const [name, kv] of t) out.push(`[${name}]`, ...Object.entries(kv).map(([k, v]) => `${k} = ${v}`), "");
  for (const st of s) {
    out.push("[[stores]]", ...Object.entries(st.kv).map(([k, v]) => `${k} = ${v}`), "");
    for (const c of st.credentials) out.push("[[stores.credentials]]", ...Object.entries(c).map(([k, v]) => `${k} = ${tomlValue(v)}`), "");
  }
  return out.join("\n");
}

/** Runs an admin command of the proxy; returns stdout. */
export function admin(entry, args, env) {
  return execFileSync(process.execPath, [entry, ...args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function get(url) {
  return new Promise((resolve, reject) => {
    const r = http.get(url, { agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    r.on("error", reject);
    r.setTimeout(3000, () => r.destroy(new Error("timeout")));
  });
}

/** A running proxy for one target. */
export class ProxyProcess {
  constructor(target, entry, configFile, logFile, env) {
    Object.assign(this, { target, entry, configFile, logFile, env });
    this.exits = [];
    this.stderr = "";
    this.stopping = false;
  }

  async start(timeoutMs = 60_000) {
    // (a restart appends to the same log: only lines after this point count)
    const skip = this.logLines().length;
    this.exited = undefined;
    this.stderr = "";
    this.child = spawn(process.execPath, [this.entry, "serve", "--config", this.configFile], { env: this.env, stdio: ["ignore", "ignore", "pipe"] });
    this.pid = this.child.pid;
    this.child.stderr.on("data", (d) => {
      if (this.stderr.length < 20_000) this.stderr += d;
    });
    // "close": after its stderr is drained, so the crash's stack trace is complete
    this.child.on("close", (code, signal) => {
      this.exited = { code, signal };
      if (!this.stopping) {
        this.exits.push({ code, signal, at: new Date().toISOString(), stderr: this.stderr.slice(0, 4000) });
        this.onExit?.();
      }
    });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.exited) throw new Error(`the ${this.target.name} proxy exited at start (${JSON.stringify(this.exited)}): ${this.stderr.slice(0, 2000)}`);
      const lines = this.logLines().slice(skip);
      const line = lines.find((l) => l.msg === "listening");
      if (line) {
        this.url = line.url;
        this.target.port = Number(new URL(line.url).port);
        this.metricsUrl = line.metricsUrl ?? lines.find((l) => l.msg === "metrics-listening")?.metricsUrl;
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the ${this.target.name} proxy did not log "listening" within ${timeoutMs} ms: ${this.stderr.slice(0, 2000)}`);
  }

  /** Parsed JSON lines of its log so far (unparseable lines as { unparsed }). */
  logLines() {
    let text;
    try {
      text = readFileSync(this.logFile, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return { unparsed: l.slice(0, 200) };
        }
      });
  }

  /** The processes serving (the child and, with [server] processes > 1, its workers). */
  pids() {
    try {
      const kids = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      return [this.pid, ...kids];
    } catch {
      return [this.pid];
    }
  }

  /** { rssKiB, fds } summed over its processes (undefined fields when /proc cannot be read). */
  stats() {
    let rssKiB = 0;
    let fds = 0;
    for (const p of this.pids()) {
      try {
        rssKiB += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? NaN);
        fds += readdirSync(`/proc/${p}/fd`).length;
      } catch {
        return { rssKiB: NaN, fds: NaN };
      }
    }
    return { rssKiB, fds };
  }

  /** Selected series of its /metrics (summed over labels). */
  async metrics() {
    if (!this.metricsUrl) return {};
    const r = await get(this.metricsUrl).catch(() => undefined);
    if (r?.status !== 200) return {};
    const sums = {};
    for (const line of r.body.split("\n")) {
      const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (m) sums[m[1]] = (sums[m[1]] ?? 0) + Number(m[2]);
    }
    return sums;
  }

  /** SIGTERM; resolves with how it ended. */
  stop(graceMs = 10_000) {
    this.stopping = true;
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((resolve) => {
      const t = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      this.child.once("exit", (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal });
      });
      this.child.kill("SIGTERM");
    });
  }
}
