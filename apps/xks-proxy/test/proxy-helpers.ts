/** Shared helpers of the proxy's own tests (real SoftHSM token, real TLS, real SigV4 signers). */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { FaultControl, faultEnv, faultModule } from "../../../tools/pkcs11-fault/fault.cjs";
import { openTestHsm } from "@ciop/testkit";
import type { DecryptResponse, EncryptResponse, GetHealthStatusResponse, GetKeyMetadataResponse, XksCredential, XksErrorName } from "@ciop/xks";

export const run = promisify(execFile);
export const SUPPORT = path.join(__dirname, "support");

export function testDir(name: string): string {
  const base = process.env.CIOP_TEST_DIR;
  if (!base) throw new Error("no CIOP_TEST_DIR: the jest global setup did not run");
  const d = mkdtempSync(path.join(base, `${name}-`));
  return d;
}

export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCert: string;
  otherKey: string;
}

/** A test CA, a server certificate for localhost and two client certificates, made by openssl. */
export function makeCerts(dir: string): Certs {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ossl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  ossl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=ciop test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const leaf = (name: string, cn: string, ext: string) => {
    ossl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      f(`${name}.key`),
      "-out",
      f(`${name}.csr`),
      "-subj",
      `/CN=${cn}`,
    ]);
    writeFileSync(f(`${name}.ext`), ext);
    ossl([
      "x509",
      "-req",
      "-in",
      f(`${name}.csr`),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-out",
      f(`${name}.pem`),
      "-days",
      "2",
      "-extfile",
      f(`${name}.ext`),
    ]);
  };
  leaf("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("client", "cks.kms.eu-west-1.amazonaws.com", "subjectAltName=DNS:cks.kms.eu-west-1.amazonaws.com\nextendedKeyUsage=clientAuth\n");
  leaf("other", "intruder.example.com", "subjectAltName=DNS:intruder.example.com\nextendedKeyUsage=clientAuth\n");
  return {
    dir,
    ca: f("ca.pem"),
    serverCert: f("server.pem"),
    serverKey: f("server.key"),
    clientCert: f("client.pem"),
    clientKey: f("client.key"),
    otherCert: f("other.pem"),
    otherKey: f("other.key"),
  };
}

export function md(op = "Encrypt", extra: Record<string, string> = {}): Record<string, string> {
  return {
    awsPrincipalArn: "arn:aws:iam::123456789012:user/Alice",
    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    kmsOperation: op,
    kmsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    ...extra,
  };
}

export const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString("base64");

/**
 * The proxy's JSON answers as one type: an XKS error, the four XKS API answers, and the salesforce
 * route group's `{ error }`. An answer carries only its own members; they are declared together so
 * that a test reads the ones it expects without narrowing first (a member the answer lacks reads
 * as undefined, and the test's expectation fails).
 */
export type XksAnswer = { errorName: XksErrorName; errorMessage?: string; error?: string } & EncryptResponse &
  DecryptResponse &
  GetKeyMetadataResponse &
  GetHealthStatusResponse;

export interface Resp {
  status: number;
  body: string;
  /**
   * The body parsed. Undefined at run time when the body is empty or not JSON: the type leaves that
   * out so that tests read the answer they expect without a guard (`?.` where it may be absent).
   */
  json: XksAnswer;
  headers: http.IncomingHttpHeaders;
}

export interface PostOptions {
  cred?: XksCredential;
  region?: string;
  ca?: string | Buffer;
  method?: string;
  /** Sign with this path instead of the one sent. */
  signPath?: string;
  /** Client certificate for mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  unsigned?: boolean;
}

/** Sends a request signed with @smithy/signature-v4 (as KMS would sign it). */
export async function post(base: string, urlPath: string, body: unknown, o: PostOptions = {}): Promise<Resp> {
  const u = new URL(base);
  const text = typeof body === "string" ? body : JSON.stringify(body);
  let headers: Record<string, string> = { host: u.host, "content-type": "application/json" };
  if (!o.unsigned && o.cred) {
    const signer = new SignatureV4({
      credentials: o.cred,
      region: o.region ?? "us-east-1",
      service: "kms-xks-proxy",
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const req = {
      method: o.method ?? "POST",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: o.signPath ?? urlPath,
      query: {},
      headers,
      body: text,
    };
    const signed = (await signer.sign(req)) as unknown as { headers: Record<string, string> };
    headers = signed.headers;
  }
  return send(base, urlPath, o.method ?? "POST", headers, text, o);
}

export function send(base: string, urlPath: string, method: string, headers: Record<string, string>, body: string, o: PostOptions = {}): Promise<Resp> {
  const u = new URL(base);
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        // no DNS lookup (it would queue on the libuv threadpool): connect to loopback, keep Host/SNI
        host: u.hostname === "localhost" ? "127.0.0.1" : u.hostname,
        port: u.port,
        setHost: false,
        method,
        path: urlPath,
        headers: { host: u.host, ...headers, "content-length": String(Buffer.byteLength(body)) },
        agent: false,
        ...(u.protocol === "https:" ? { ca: o.ca, cert: o.cert, key: o.key, servername: u.hostname } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: XksAnswer | undefined;
          try {
            json = text ? (JSON.parse(text) as XksAnswer) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: text, json: json as XksAnswer, headers: res.headers });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** ciop TOML for the test token; `stores` and `extra` are appended as TOML text. */
export function ciopToml(opts: {
  tls?: Certs & { mtlsSubject?: string };
  stores: string;
  extra?: string;
  pingPort?: boolean;
  metricsPort?: boolean;
  healthKey?: string;
  fastPath?: boolean;
}): string {
  return [
    "[server]",
    'ip = "127.0.0.1"',
    "port = 0",
    ...(opts.fastPath === false ? ["fast_path = false"] : []),
    ...(opts.pingPort ? ["[server.ping]", "port = 0"] : []),
    ...(opts.tls
      ? [
          "[server.tls]",
          `cert_file = "${opts.tls.serverCert}"`,
          `key_file = "${opts.tls.serverKey}"`,
          ...(opts.tls.mtlsSubject ? [`client_ca_file = "${opts.tls.ca}"`, `client_subject = "${opts.tls.mtlsSubject}"`] : []),
        ]
      : []),
    "[hsm]",
    `library = "${process.env.CIOP_TEST_LIB}"`,
    // The token under test may need C_Initialize parameters (NSS softokn; tools/jest/global-setup.cjs).
    ...(process.env.CIOP_TEST_LIB_PARAMS ? [`library_parameters = ${JSON.stringify(process.env.CIOP_TEST_LIB_PARAMS)}`] : []),
    `token = "${process.env.CIOP_TEST_TOKEN_LABEL}"`,
    'pin_env = "CIOP_TEST_PIN"',
    "timeout_ms = 10000", // CI machines run many suites at once; the 503 test lowers it explicitly
    "[health]",
    `key = "${opts.healthKey ?? "xks-health"}"`,
    "fleet_size = 3",
    // /metrics always has a listener of its own (default 127.0.0.1:9464): tests run many proxies at once
    "[metrics]",
    "port = 0",
    opts.extra ?? "",
    opts.stores,
  ].join("\n");
}

export function storeToml(name: string, prefix: string, keys: string[], creds: XksCredential[], extra = ""): string {
  return [
    "[[stores]]",
    `name = "${name}"`,
    `uri_prefix = "${prefix}"`,
    `keys = ${JSON.stringify(keys)}`,
    extra,
    ...creds.flatMap((c) => ["[[stores.credentials]]", `access_key_id = "${c.accessKeyId}"`, `secret_access_key = "${c.secretAccessKey}"`]),
  ].join("\n");
}

/** Creates an AES-256 token key with raw PKCS#11 in another process (not through @ciop/hsm). */
export function createRawAesKey(label: string, hex: string, usage: { encrypt: boolean; decrypt: boolean }): void {
  execFileSync(process.execPath, [path.join(SUPPORT, "create-aes-key.cjs"), label, hex, usage.encrypt ? "1" : "0", usage.decrypt ? "1" : "0"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The token under test as it reports itself (C_GetTokenInfo through plain pkcs11js in another
 * process, support/p11-raw.cjs: no ciop code), and the label of the token in the module's first slot.
 */
export function tokenInfo(): { label: string; manufacturer: string; model: string; serial: string; firstSlotToken: string } {
  return JSON.parse(execFileSync(process.execPath, [path.join(SUPPORT, "p11-raw.cjs"), "token-info"], { env: process.env, encoding: "utf8" })) as ReturnType<
    typeof tokenInfo
  >;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tokenProbe = require("../../../tools/jest/token-probe.cjs") as { tokenCapabilities(): { aesGcm: boolean } };

/**
 * Why the jest run's token under test cannot run the XKS API (it has no usable CKM_AES_GCM), or
 * undefined when it can. Decided by @ciop/hsm's probe (Hsm.capabilities().aesGcm, asked while jest
 * collects the tests: tools/jest/token-probe.cjs), never by the token's name: SoftHSM2 through
 * Debian 12's p11-kit 0.24.1 RPC lacks it, as that RPC does not carry the mechanism.
 */
export function tokenLacksGcm(): string | undefined {
  if (tokenProbe.tokenCapabilities().aesGcm) return undefined;
  const kind = process.env.CIOP_TEST_TOKEN_KIND ?? "the token under test";
  return `${kind}: the probe found no usable CKM_AES_GCM on this token${kind === "p11-kit-rpc" ? " (p11-kit RPC does not carry CKM_AES_GCM)" : ""}`;
}

/**
 * For a test file whose every test needs AES-GCM on the token under test: when the probe finds none
 * (tokenLacksGcm), prints the reason once and turns the file's describe/test/it into their .skip
 * forms (as tools/jest/token-skip.cjs does for a token that could not be set up), so the file is
 * counted as skipped, with its reason, instead of failing at start-up or passing having checked
 * nothing. jest runs no beforeAll/afterAll of a file whose tests are all skipped. Call it before the
 * file's first describe/test.
 */
export function skipFileWithoutGcm(suite: string): void {
  const why = tokenLacksGcm();
  if (why === undefined) return;
  // straight to stderr, as token-skip.cjs does: jest drops a skipped file's console output
  process.stderr.write(`skipped: ${suite}: ${why}\n`);
  const g = globalThis as unknown as Record<string, jest.Describe | jest.It>;
  for (const name of ["describe", "test", "it"]) {
    const original = g[name]!;
    g[name] = Object.assign((...args: unknown[]) => (original.skip as (...a: unknown[]) => void)(...args), original, {
      only: original.skip,
      each: original.skip.each,
    }) as jest.Describe;
  }
}

/** `text` with `from` replaced by `to`; throws when `from` is absent, so a test's config change is never silently dropped. */
export function replaceOrThrow(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`test config: "${from}" not found, so "${to}" would be silently ignored`);
  return text.replace(from, to);
}

export interface FaultProxy {
  child: ChildProcess;
  url: string;
  control: FaultControl;
  /** The proxy's JSON log lines, as they arrive. */
  lines: Array<Record<string, unknown>>;
  /** Clears the faults and stops the proxy (SIGTERM), waiting for it to exit; then deletes the keys it made and the health key. */
  stop(): Promise<void>;
}

/** A request's answer and how long it took (ms, monotonic clock). */
export async function timed<T>(p: Promise<T>): Promise<{ r: T; ms: number }> {
  const t0 = process.hrtime.bigint();
  const r = await p;
  return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/**
 * Starts the proxy (its own process, support/run-proxy.cjs) with the fault-injecting PKCS#11 module
 * (tools/pkcs11-fault) in front of the test token, faults cleared. `hsm` replaces the
 * `timeout_ms = 10000` line of ciopToml's [hsm], `healthInterval` sets [health] interval_secs.
 */
export async function startFaultProxy(opts: {
  name: string;
  stores: string;
  healthKey: string;
  hsm: string;
  healthInterval: number;
  /** AES-256 token keys (not extractable) to make before the start and delete after stop(). */
  keys?: readonly string[];
}): Promise<FaultProxy> {
  if (opts.keys?.length) {
    const h = await openTestHsm();
    try {
      for (const k of opts.keys) await h.getOrCreateKey(k, "AES-256", { extractable: false });
    } finally {
      await h.close();
    }
  }
  const dir = testDir(opts.name);
  const control = new FaultControl(path.join(dir, "faults"));
  control.clear();
  let toml = ciopToml({ stores: opts.stores, healthKey: opts.healthKey });
  toml = replaceOrThrow(toml, `library = "${process.env.CIOP_TEST_LIB}"`, `library = "${faultModule()}"`);
  toml = replaceOrThrow(toml, "timeout_ms = 10000", opts.hsm);
  toml = replaceOrThrow(toml, "fleet_size = 3", `fleet_size = 3\ninterval_secs = ${opts.healthInterval}`);
  const file = path.join(dir, "proxy.toml");
  writeFileSync(file, toml);
  const child = spawn(process.execPath, [path.join(SUPPORT, "run-proxy.cjs"), "serve", "--config", file], {
    env: { ...process.env, ...faultEnv({ realModule: process.env.CIOP_TEST_LIB!, control: control.file }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  });
  let url = "";
  for (let i = 0; i < 600 && !url && child.exitCode === null; i++) {
    url = (lines.find((r) => r.msg === "listening")?.url as string | undefined) ?? "";
    if (!url) await sleep(50);
  }
  const stop = async (): Promise<void> => {
    control.clear();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    const h = await openTestHsm();
    try {
      for (const k of [...(opts.keys ?? []), opts.healthKey]) if (h.findKey(k)) h.deleteKey(k);
    } finally {
      await h.close();
    }
  };
  if (!url) {
    await stop();
    throw new Error(`the proxy over the fault module did not report listening (exit code ${child.exitCode})`);
  }
  return { child, url, control, lines, stop };
}
