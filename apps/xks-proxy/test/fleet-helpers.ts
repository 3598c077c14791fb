/** Test support for [fleet]: a real redis-server (Debian's, installed by tools/setup.sh) on a free port in a temp dir. */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { Redis } from "ioredis";

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  start(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitUp(port: number): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const c = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on("error", () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === "PONG") {
        c.disconnect();
        return;
      }
    } catch {
      /* not yet */
    }
    c.disconnect();
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throw-away redis-server: no persistence, loopback only, its files in `dir`. */
export async function startRedis(dir: string): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"], {
      stdio: "ignore",
    });
    await waitUp(port);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

// ------------------------------------------------------------------ a Salesforce route on the test token
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { generateXksCredential, type XksCredential } from "@ciop/xks";
import { runSalesforceAdmin } from "../src/salesforce/admin.js";
import { hashPassword } from "../src/salesforce/password.js";
import { ciopToml, replaceOrThrow, storeToml } from "./proxy-helpers.js";

export const SF_PASSWORD = "the named credential's password";
export const SF_BASIC = `Basic ${Buffer.from(`salesforce:${SF_PASSWORD}`).toString("base64")}`;

export interface SfSetup {
  dir: string;
  /** Writes a config file (plain HTTP, Salesforce route at /sf, one XKS store "s" at /s) and returns its path. */
  config(name: string, extra?: { server?: string; tail?: string; store?: string }): string;
  cred: XksCredential;
  /** The scrypt hash of SF_PASSWORD the configs carry. */
  hash: string;
  admin(...argv: string[]): Promise<number>;
}

/** A temp dir with a 4096-bit BYOK certificate, a password hash and `kids` made in the test token. */
export async function sfSetup(tag: string, kids: string[]): Promise<SfSetup> {
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, `${tag}-`));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:4096",
      "-nodes",
      "-keyout",
      path.join(dir, "sf.key"),
      "-out",
      path.join(dir, "sf.crt"),
      "-days",
      "30",
      "-subj",
      "/CN=sf-fleet",
    ],
    { stdio: "ignore" },
  );
  const hash = await hashPassword(SF_PASSWORD, { logN: 14 });
  const cred = generateXksCredential();
  const config = (name: string, extra: { server?: string; tail?: string; store?: string } = {}): string => {
    const file = path.join(dir, name);
    let text = ciopToml({
      healthKey: `${tag}-health`,
      stores: storeToml("s", "/s", [], [cred], extra.store ?? ""),
      extra: [
        "[salesforce]",
        'path_prefix = "/sf"',
        'registry = "keys.json"',
        'audit_log = "off"',
        "[salesforce.auth]",
        'basic_username = "salesforce"',
        `basic_password_hash = "${hash}"`,
        extra.tail ?? "",
      ].join("\n"),
    });
    if (extra.server) text = replaceOrThrow(text, "port = 0\n", `port = 0\n${extra.server}\n`);
    writeFileSync(file, text);
    return file;
  };
  const first = config("admin.toml");
  const admin = (...argv: string[]) => runSalesforceAdmin(["--config", first, ...argv], { out: () => undefined, err: (s) => process.stderr.write(s) });
  for (const kid of kids) {
    if ((await admin("keys", "create", kid, "--cert", path.join(dir, "sf.crt"))) !== 0) throw new Error(`cannot create ${kid}`);
  }
  return { dir, config, cred, hash, admin };
}

/** GET a Salesforce callout on `base` (new connection each time). */
export function callout(
  base: string,
  urlPath: string,
  auth = SF_BASIC,
): Promise<{ status: number; json: Record<string, unknown> | undefined; retryAfter?: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: u.port, path: urlPath, method: "GET", agent: false, headers: { authorization: auth } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, ...(res.headers["retry-after"] ? { retryAfter: String(res.headers["retry-after"]) } : {}) });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
