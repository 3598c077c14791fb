/**
 * Transport and operations: requests signed by `curl --aws-sigv4` over HTTP and TLS (incl. the
 * empty prefix's `//kms/xks/v1` path), the TLS versions and cipher suites offered (checked with
 * openssl s_client), mTLS with an expected subject, and reload without restart: credential
 * rotation (reload() and file watch) and certificate replacement.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateXksCredential } from "@ciop/xks";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { b64, ciopToml, makeCerts, md, post, replaceOrThrow, run, send, sleep, storeToml, testDir, type Certs } from "./proxy-helpers.js";

const C1 = generateXksCredential();
const C2 = generateXksCredential();
let dir: string;
let certs: Certs;
let httpSrv: RunningServer;
let tlsSrv: RunningServer;
let nodeOnlySrv: RunningServer;
let mtlsSrv: RunningServer;
let reloadSrv: RunningServer;
let reloadFile: string;

beforeAll(async () => {
  dir = testDir("transport");
  certs = makeCerts(path.join(dir, "pki"));
  const stores = `${storeToml("default", "", ["tr-key"], [C1])}\n${storeToml("t", "/tenant/xks", ["tr-key"], [C1, C2])}`;
  httpSrv = await startServer(await loadConfigText(ciopToml({ stores, healthKey: "tr-health" }), "http.toml"));
  tlsSrv = await startServer(await loadConfigText(ciopToml({ stores, tls: certs, healthKey: "tr-health" }), "tls.toml"));
  nodeOnlySrv = await startServer(await loadConfigText(ciopToml({ stores, tls: certs, healthKey: "tr-health", fastPath: false }), "node-only.toml"));
  mtlsSrv = await startServer(
    await loadConfigText(
      ciopToml({ stores, tls: { ...certs, mtlsSubject: "cks.kms.eu-west-1.amazonaws.com" }, pingPort: true, healthKey: "tr-health" }),
      "mtls.toml",
    ),
  );
  await httpSrv.hsm.getOrCreateKey("tr-key", "AES-256", { extractable: false });
  reloadFile = path.join(dir, "reload.toml");
  writeFileSync(reloadFile, ciopToml({ stores: storeToml("r", "/r/xks", ["tr-key"], [C1]), tls: certs, healthKey: "tr-health" }));
  reloadSrv = await startServer(await loadConfig(reloadFile), { watchConfig: true, watchIntervalMs: 100, logSink: () => undefined });
});

afterAll(async () => {
  await Promise.all([httpSrv?.close(), tlsSrv?.close(), nodeOnlySrv?.close(), mtlsSrv?.close(), reloadSrv?.close()]);
});

async function loadConfigText(text: string, name: string) {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  const c = await loadConfig(f);
  c.logging.file = path.join(dir, `${name}.log`);
  return c;
}

/** openssl s_client in a child process (never sync: the server under test runs in this process). */
function sClientRaw(port: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", ...args], { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => c.kill(), 10_000);
    c.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, stdout: out });
    });
    c.stdin.end();
  });
}

async function curl(url: string, body: unknown, user: string, extra: string[] = []): Promise<{ status: number; json: Record<string, string> }> {
  const { stdout } = await run("curl", [
    "-sS",
    "--aws-sigv4",
    "aws:amz:eu-west-1:kms-xks-proxy",
    "--user",
    user,
    "-H",
    "content-type: application/json",
    "--data-binary",
    JSON.stringify(body),
    "-w",
    "\n%{http_code}",
    ...extra,
    url,
  ]);
  const lines = stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  return { status, json: lines.length ? JSON.parse(lines.join("\n")) : {} };
}

describe("curl --aws-sigv4", () => {
  const servers = (): Record<string, RunningServer> => ({ HTTP: httpSrv, TLS: tlsSrv, "TLS with fast_path = false": nodeOnlySrv });
  const KINDS = ["HTTP", "TLS", "TLS with fast_path = false"];
  test.each(KINDS)("over %s: health, encrypt and decrypt on the empty prefix (raw `//` path) and on a prefix with either credential", async (kind) => {
    const srv = servers()[kind]!;
    const extra = kind !== "HTTP" ? ["--cacert", certs.ca] : [];
    const user1 = `${C1.accessKeyId}:${C1.secretAccessKey}`;
    const h = await curl(`${srv.url}//kms/xks/v1/health`, { requestMetadata: { kmsRequestId: "c-1", kmsOperation: "KmsHealthCheck" } }, user1, extra);
    expect(h.status).toBe(200);
    expect(h.json.xksProxyVendor).toBe("ciop");
    for (const [base, user] of [
      [`${srv.url}/`, user1],
      [`${srv.url}/tenant/xks`, `${C2.accessKeyId}:${C2.secretAccessKey}`],
    ] as const) {
      const enc = await curl(
        `${base}/kms/xks/v1/keys/tr-key/encrypt`,
        { requestMetadata: md("Encrypt"), plaintext: b64("curl says hi"), encryptionAlgorithm: "AES_GCM", additionalAuthenticatedData: b64("ctx") },
        user,
        extra,
      );
      expect(enc.status).toBe(200);
      const dec = await curl(
        `${base}/kms/xks/v1/keys/tr-key/decrypt`,
        {
          requestMetadata: md("Decrypt"),
          encryptionAlgorithm: "AES_GCM",
          ciphertext: enc.json.ciphertext,
          initializationVector: enc.json.initializationVector,
          authenticationTag: enc.json.authenticationTag,
          ciphertextMetadata: enc.json.ciphertextMetadata,
          additionalAuthenticatedData: b64("ctx"),
        },
        user,
        extra,
      );
      expect(dec.status).toBe(200);
      expect(Buffer.from(dec.json.plaintext!, "base64").toString()).toBe("curl says hi");
    }
    const wrong = await curl(
      `${srv.url}/tenant/xks/kms/xks/v1/health`,
      { requestMetadata: md("KmsHealthCheck") },
      `${C1.accessKeyId}:${C2.secretAccessKey}`,
      extra,
    );
    expect([wrong.status, wrong.json.errorName]).toEqual([401, "AuthenticationFailedException"]);
  });

  test.each(KINDS)("over %s: error names and statuses for curl-signed requests", async (kind) => {
    const srv = servers()[kind]!;
    const extra = kind !== "HTTP" ? ["--cacert", certs.ca] : [];
    const user = `${C1.accessKeyId}:${C1.secretAccessKey}`;
    const api = `${srv.url}/tenant/xks/kms/xks/v1`;
    const cases: Array<[string, unknown, number, string]> = [
      [`${srv.url}/tenant/xks/more/kms/xks/v1/health`, { requestMetadata: md("KmsHealthCheck") }, 404, "InvalidUriPathException"],
      [`${api}/health`, {}, 400, "ValidationException"],
      [`${api}/keys/unknown-key/encrypt`, { requestMetadata: md("Encrypt"), plaintext: b64("x"), encryptionAlgorithm: "AES_GCM" }, 404, "KeyNotFoundException"],
      [
        `${api}/keys/tr-key/encrypt`,
        { requestMetadata: md("Encrypt"), plaintext: b64(Buffer.alloc(5000)), encryptionAlgorithm: "AES_GCM" },
        501,
        "UnsupportedOperationException",
      ],
      [
        `${api}/keys/tr-key/decrypt`,
        {
          requestMetadata: md("Decrypt"),
          encryptionAlgorithm: "AES_GCM",
          ciphertext: b64("abcdef"),
          initializationVector: b64(Buffer.alloc(12)),
          authenticationTag: b64(Buffer.alloc(16)),
          ciphertextMetadata: b64(Uint8Array.of(0xc1, 1)),
        },
        400,
        "InvalidCiphertextException",
      ],
    ];
    for (const [url, body, status, name] of cases) {
      const r = await curl(url, body, user, extra);
      expect([url, r.status, r.json.errorName]).toEqual([url, status, name]);
    }
  });
});

describe("XKS fast path", () => {
  const handedOff = async (srv: RunningServer): Promise<number> =>
    (await srv.metrics.getSingleMetric("xks_proxy_connections_handed_off_total")!.get()).values[0]?.value ?? 0;

  test("signed XKS requests stay on the fast path; /ping and a GET on the API are handed to node's server, which answers them", async () => {
    const ca = readFileSync(certs.ca);
    const before = await handedOff(tlsSrv);
    const health = await post(tlsSrv.url, "/tenant/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C1, ca });
    expect(health.status).toBe(200);
    expect(await handedOff(tlsSrv)).toBe(before);
    expect((await send(tlsSrv.url, "/ping", "GET", {}, "", { ca })).body).toBe("pong\n");
    expect(await handedOff(tlsSrv)).toBe(before + 1);
    const get = await post(tlsSrv.url, "/tenant/xks/kms/xks/v1/health", "", { ca, method: "GET", unsigned: true });
    expect([get.status, get.headers.allow]).toEqual([405, "POST"]);
    expect(await handedOff(tlsSrv)).toBe(before + 2);
  });

  test("fast_path takes true or false only", async () => {
    const text = replaceOrThrow(ciopToml({ stores: storeToml("x", "", ["tr-key"], [C1]) }), "port = 0", 'port = 0\nfast_path = "yes"');
    await expect(loadConfigText(text, "bad-fast-path.toml")).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringContaining("server.fast_path"),
    });
  });

  test("with fast_path = false node's server answers everything and the hand-off counter does not exist", async () => {
    expect(nodeOnlySrv.metrics.getSingleMetric("xks_proxy_connections_handed_off_total")).toBeUndefined();
    const r = await post(nodeOnlySrv.url, "/tenant/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred: C1, ca: readFileSync(certs.ca) });
    expect(r.status).toBe(200);
  });
});

describe("TLS", () => {
  async function sClient(port: string, args: string[]): Promise<string> {
    const r = await sClientRaw(port, ["-CAfile", certs.ca, ...args]);
    return r.code === 0 ? r.stdout : `${r.stdout}FAILED`;
  }

  test("offers TLS 1.3 and TLS 1.2 with the spec's AES-256-GCM suites only; refuses TLS 1.1 and weaker suites", async () => {
    const port = new URL(tlsSrv.url).port;
    expect(await sClient(port, ["-tls1_3"])).toMatch(/Cipher is TLS_AES_256_GCM_SHA384|Cipher is TLS_CHACHA20_POLY1305_SHA256/);
    expect(await sClient(port, ["-tls1_2"])).toMatch(/Cipher is ECDHE-ECDSA-AES256-GCM-SHA384/);
    expect(await sClient(port, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])).toMatch(/FAILED|Cipher is \(NONE\)/);
    expect(await sClient(port, ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"])).toMatch(/FAILED|Cipher is \(NONE\)/);
    expect(await sClient(port, ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"])).toMatch(/FAILED|Cipher is \(NONE\)/);
  });

  test("mTLS: the expected subject from the configured CA is served; another subject or no certificate is refused; /ping stays open on its own port", async () => {
    const ca = readFileSync(certs.ca);
    const ok = await send(mtlsSrv.url, "/ping", "GET", {}, "", { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    expect(ok.status).toBe(200);
    const signed = await post(
      mtlsSrv.url,
      "/tenant/xks/kms/xks/v1/health",
      { requestMetadata: md("KmsHealthCheck") },
      { cred: C1, ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
    );
    expect(signed.status).toBe(200);
    await expect(send(mtlsSrv.url, "/ping", "GET", {}, "", { ca, cert: readFileSync(certs.otherCert), key: readFileSync(certs.otherKey) })).rejects.toThrow();
    await expect(send(mtlsSrv.url, "/ping", "GET", {}, "", { ca })).rejects.toThrow();
    const ping = await send(mtlsSrv.pingUrl!.replace(/\/ping$/, ""), "/ping", "GET", {}, "");
    expect(ping.status).toBe(200);
  });
});

describe("reload without restart", () => {
  const health = (cred: typeof C1) =>
    post(reloadSrv.url, "/r/xks/kms/xks/v1/health", { requestMetadata: md("KmsHealthCheck") }, { cred, ca: readFileSync(certs.ca) });

  async function until(what: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await what()) return;
      await sleep(100);
    }
    throw new Error("condition not reached within 10 s");
  }

  test("credential rotation: add a second credential (reload), then drop the first (file watch)", async () => {
    expect((await health(C1)).status).toBe(200);
    expect((await health(C2)).status).toBe(401);
    writeFileSync(reloadFile, ciopToml({ stores: storeToml("r", "/r/xks", ["tr-key"], [C1, C2]), tls: certs, healthKey: "tr-health" }));
    await reloadSrv.reload();
    expect((await health(C1)).status).toBe(200);
    expect((await health(C2)).status).toBe(200);
    writeFileSync(reloadFile, `${ciopToml({ stores: storeToml("r", "/r/xks", ["tr-key"], [C2]), tls: certs, healthKey: "tr-health" })}\n# rotated\n`);
    await until(async () => (await health(C1)).status === 401);
    expect((await health(C2)).status).toBe(200);
  });

  test("a replaced certificate is served to new connections after reload", async () => {
    const fingerprint = async (): Promise<string> => {
      const out = (await sClientRaw(new URL(reloadSrv.url).port, [])).stdout;
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)![0];
      return execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], { input: pem }).toString().trim();
    };
    const before = await fingerprint();
    expect(before).toBe(execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certs.serverCert]).toString().trim());
    const fresh = makeCerts(path.join(dir, "pki2"));
    writeFileSync(certs.serverCert, readFileSync(fresh.serverCert));
    writeFileSync(certs.serverKey, readFileSync(fresh.serverKey));
    await reloadSrv.reload();
    const after = await fingerprint();
    expect(after).not.toBe(before);
    expect(after).toBe(execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", fresh.serverCert]).toString().trim());
  });
});
