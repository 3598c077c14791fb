/**
 * The Salesforce cache-only route group end to end, as Salesforce calls it: the real server
 * (startServer) over HTTPS with a client certificate, curl as the client, keys made with the admin
 * commands in the jest run's token under test, and every JWE decrypted by python3-jwcrypto with the
 * BYOK certificate's private key (made by openssl). Bearer JWTs are minted by jwcrypto.
 * Issue 16: runs on every token. Before, on NSS softokn every test failed (the config gave no
 * library parameters: C_Initialize CKR_ARGUMENTS_BAD); on p11-kit-rpc the proxy refused to start
 * without CKM_AES_GCM (now: the file is skipped, with the probe's reason printed).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { decryptCacheOnlyJwe, pythonAesGcm, type DecryptedJwe } from "@ciop/testkit";
import { loadConfig } from "../src/proxy-config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { runSalesforceAdmin } from "../src/salesforce/admin.js";
import { hashPassword } from "../src/salesforce/password.js";
import { makeCerts, skipFileWithoutGcm } from "./proxy-helpers.js";

skipFileWithoutGcm("the Salesforce cache-only HTTPS callout");

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const PASSWORD = "correct horse battery staple 42";
const USER = "salesforce";

const MINT = `
import sys, json
from jwcrypto import jwk, jwt
k = jwk.JWK.from_pem(open(sys.argv[1], 'rb').read())
t = jwt.JWT(header={'alg': 'RS256'}, claims=json.loads(sys.argv[2])); t.make_signed_token(k); print(t.serialize())
`;

let dir: string;
let cfgPath: string;
let server: RunningServer;
const logs: string[] = [];
const f = (n: string) => path.join(dir, n);
const K = `sf${process.pid}`;
let prefix: string;
const secrets: string[] = [PASSWORD];

function ossl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

function decrypt(bodies: string[]): Promise<DecryptedJwe[]> {
  return decryptCacheOnlyJwe(f("sf.key"), bodies);
}

async function mint(keyFile: string, claims: Record<string, unknown>): Promise<string> {
  const token = (await run(PYTHON, ["-c", MINT, keyFile, JSON.stringify(claims)])).stdout.trim();
  secrets.push(token);
  return token;
}

interface Resp {
  status: number;
  body: string;
  json: Record<string, unknown> | undefined;
  headers: string;
}

/** GET (or another method) with curl, as Salesforce's callout would: TLS, client certificate, credentials. */
async function call(urlPath: string, o: { basic?: string; bearer?: string; client?: "client" | "other"; method?: string } = {}): Promise<Resp> {
  const client = o.client ?? "client";
  const args = [
    "-sS",
    "--cacert",
    f("ca.pem"),
    "--cert",
    f(`${client}.pem`),
    "--key",
    f(`${client}.key`),
    "-D",
    "-",
    "-o",
    "-",
    "-w",
    "\n%{http_code}",
    "-A",
    "SFDC-Callout/60.0",
  ];
  if (o.method) args.push("-X", o.method);
  if (o.basic !== undefined) args.push("-u", o.basic);
  if (o.bearer !== undefined) args.push("-H", `Authorization: Bearer ${o.bearer}`);
  args.push(`${server.url}${urlPath}`);
  const { stdout } = await run("curl", args);
  const lines = stdout.split("\n");
  const status = Number(lines.pop());
  const text = lines.join("\n");
  const split = text.indexOf("\r\n\r\n");
  const headers = text.slice(0, split);
  const body = text.slice(split + 4);
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, body, json, headers };
}

const admin = async (...argv: string[]) => {
  let out = "";
  let err = "";
  const code = await runSalesforceAdmin(["--config", cfgPath, ...argv], { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "sf-route-"));
  // Salesforce BYOK certificate (4096-bit, as Salesforce makes them) and its private key.
  ossl(["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", f("sf.key"), "-out", f("sf.crt"), "-days", "30", "-subj", "/CN=sf-byok-test"]);
  // TLS: a CA, the server certificate, the callout's client certificate and a stranger's.
  makeCerts(dir);
  const fp = /=([0-9A-F:]+)/.exec(ossl(["x509", "-in", f("client.pem"), "-noout", "-fingerprint", "-sha256"]).toString())![1]!;
  // The key the named credential signs bearer JWTs with, and an unrelated one.
  for (const n of ["jwt", "jwt-other"])
    ossl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${n}.key`), "-out", f(`${n}.crt`), "-days", "2", "-subj", `/CN=${n}`]);
  writeFileSync(f("pin"), process.env.CIOP_TEST_PIN!, { mode: 0o600 });
  prefix = `/sf-${process.pid}/keys`;
  const akid = `AKIA${"SALESFORCETESTKEYS".padEnd(18, "A")}`;
  cfgPath = f("xks-proxy.toml");
  writeFileSync(
    cfgPath,
    `
[server]
ip = "127.0.0.1"
port = 0
[server.tls]
cert_file = "server.pem"
key_file = "server.key"
client_ca_file = "ca.pem"

[hsm]
library = "${process.env.CIOP_TEST_LIB}"
${process.env.CIOP_TEST_LIB_PARAMS ? `library_parameters = ${JSON.stringify(process.env.CIOP_TEST_LIB_PARAMS)}` : ""}
token = "${process.env.CIOP_TEST_TOKEN_LABEL}"
pin_file = "pin"
timeout_ms = 10000

[health]
key = "${K}-health"

[logging]
level = "debug"

[metrics]
port = 0

[[stores]]
keys = []
[[stores.credentials]]
access_key_id = "${akid}"
secret_access_key = "${randomBytes(33).toString("base64")}"

[salesforce]
path_prefix = "${prefix}"
registry = "salesforce-keys.json"
audit_log = "audit.log"
public_url = "https://byok.example.com:8443"
[salesforce.replay]
window_seconds = 600
[salesforce.auth]
basic_username = "${USER}"
basic_password_hash = "${await hashPassword(PASSWORD, { logN: 14 })}"
jwt_key = "jwt.crt"
jwt_audience = "ciop-test"
client_certificate_required = true
client_certificate_sha256 = ["${fp}"]
`,
  );
  for (const kid of [`${K}-a`, `${K}-rot`]) {
    const r = await admin("keys", "create", kid, "--cert", f("sf.crt"));
    expect(r).toMatchObject({ code: 0, err: "" });
  }
  server = await startServer(await loadConfig(cfgPath), { logSink: (l) => logs.push(l) });
});

afterAll(async () => {
  await server?.close();
});

const basic = `${USER}:${PASSWORD}`;

describe("Salesforce cache-only callout over HTTPS", () => {
  test("200 {kid, jwe}: jwcrypto decrypts to the 32-byte DEK; header exactly alg/enc/kid; kid = path = body; DEK known answer in the HSM", async () => {
    const kid = `${K}-a`;
    const r1 = await call(`${prefix}/${kid}`, { basic });
    const r2 = await call(`${prefix}/${kid}`, { basic });
    expect(r1.status).toBe(200);
    expect(r2.status).toBe(200);
    expect(r1.headers.toLowerCase()).toContain("content-type: application/json");
    expect(r1.headers.toLowerCase()).toContain("cache-control: no-store");
    secrets.push(r1.json!.jwe as string, r2.json!.jwe as string);
    const [a, b] = await decrypt([r1.body, r2.body]);
    for (const d of [a!, b!]) {
      expect(d.respKeys).toEqual(["jwe", "kid"]);
      expect(d.kid).toBe(kid);
      expect(d.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid });
      expect(d.dek).toHaveLength(64);
      expect(d.padded).toBe(false);
    }
    expect(a!.dek).toBe(b!.dek);
    expect(a!.cek).not.toBe(b!.cek);
    expect(a!.iv).not.toBe(b!.iv);
    secrets.push(a!.dek, Buffer.from(a!.dek, "hex").toString("base64"), Buffer.from(a!.dek, "hex").toString("base64url"), a!.cek, b!.cek);

    const iv = randomBytes(12);
    const block = randomBytes(16);
    const python = await pythonAesGcm(a!.dek, iv.toString("hex"), block.toString("hex"));
    const key = server.hsm.findKey(kid)!;
    expect(server.hsm.encryptAesGcm(key, iv, block).toString("hex")).toBe(python);
  });

  test("replay detection: the ?requestId= nonce is echoed as jti; the same nonce again gets 409 ReplayDetected", async () => {
    const kid = `${K}-a`;
    const nonce = randomBytes(16).toString("hex");
    const ok = await call(`${prefix}/${kid}?requestId=${nonce}`, { basic });
    expect(ok.status).toBe(200);
    const [d] = await decrypt([ok.body]);
    expect(d!.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid, jti: nonce });
    const again = await call(`${prefix}/${kid}?requestId=${nonce}`, { basic });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: "ReplayDetected" });
    const fresh = await call(`${prefix}/${kid}?requestId=${nonce}x`, { basic });
    expect(fresh.status).toBe(200);
    const bad = await call(`${prefix}/${kid}?requestId=${encodeURIComponent("has space")}`, { basic });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: "InvalidNonce" });
  });

  test("bearer JWT signed by the configured key passes; wrong key, wrong audience, expired or no credentials get 401", async () => {
    const kid = `${K}-a`;
    const now = Math.floor(Date.now() / 1000);
    const good = await mint(f("jwt.key"), { iss: "00Dxx0000001gEREAY", aud: "ciop-test", iat: now, exp: now + 120 });
    expect((await call(`${prefix}/${kid}`, { bearer: good })).status).toBe(200);
    for (const token of [
      await mint(f("jwt-other.key"), { aud: "ciop-test", iat: now, exp: now + 120 }),
      await mint(f("jwt.key"), { aud: "someone-else", iat: now, exp: now + 120 }),
      await mint(f("jwt.key"), { aud: "ciop-test", iat: now - 4000, exp: now - 3600 }),
      "not.a.jwt",
    ]) {
      const r = await call(`${prefix}/${kid}`, { bearer: token });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: "Unauthorized" });
    }
    const none = await call(`${prefix}/${kid}`);
    expect(none.status).toBe(401);
    expect(none.headers).toMatch(/www-authenticate: Basic realm=.*Bearer realm=/i);
    expect((await call(`${prefix}/${kid}`, { basic: `${USER}:wrong password here` })).status).toBe(401);
    expect((await call(`${prefix}/${kid}`, { basic: `intruder:${PASSWORD}` })).status).toBe(401);
    // Unauthenticated callers learn nothing about keys: an unknown kid is 401 too.
    expect((await call(`${prefix}/${K}-unknown`)).status).toBe(401);
  });

  test("a client certificate from the right CA but not on the allow-list gets 403", async () => {
    const r = await call(`${prefix}/${K}-a`, { basic, client: "other" });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ error: "Forbidden" });
  });

  test("unknown kid 404, malformed kid 400, non-GET 405", async () => {
    expect(await call(`${prefix}/${K}-unknown`, { basic })).toMatchObject({ status: 404, json: { error: "KeyNotFound" } });
    expect(await call(`${prefix}/bad%20kid`, { basic })).toMatchObject({ status: 400, json: { error: "InvalidKeyIdentifier" } });
    expect(await call(`${prefix}/a/b`, { basic })).toMatchObject({ status: 400, json: { error: "InvalidKeyIdentifier" } });
    const post = await call(`${prefix}/${K}-a`, { basic, method: "POST" });
    expect(post).toMatchObject({ status: 405, json: { error: "MethodNotAllowed" } });
  });

  test("admin disable -> 423 KeyDisabled at once; enable -> 200; rotate keeps the old kid servable until it is disabled", async () => {
    const kid = `${K}-rot`;
    expect((await call(`${prefix}/${kid}`, { basic })).status).toBe(200);
    expect(await admin("keys", "disable", kid)).toMatchObject({ code: 0 });
    expect(await call(`${prefix}/${kid}`, { basic })).toMatchObject({ status: 423, json: { error: "KeyDisabled" } });
    expect(await admin("keys", "enable", kid)).toMatchObject({ code: 0 });
    expect((await call(`${prefix}/${kid}`, { basic })).status).toBe(200);

    const rot = await admin("keys", "rotate", kid);
    expect(rot.code).toBe(0);
    expect(rot.out).toContain(`'${kid}' -> '${kid}.v2'`);
    const [o, n] = await Promise.all([call(`${prefix}/${kid}`, { basic }), call(`${prefix}/${kid}.v2`, { basic })]);
    expect([o.status, n.status]).toEqual([200, 200]);
    const [dOld, dNew] = await decrypt([o.body, n.body]);
    expect(dOld!.kid).toBe(kid);
    expect(dNew!.kid).toBe(`${kid}.v2`);
    expect(dOld!.dek).not.toBe(dNew!.dek);
    secrets.push(dOld!.dek, dNew!.dek);
    expect(await admin("keys", "disable", kid)).toMatchObject({ code: 0 });
    expect((await call(`${prefix}/${kid}`, { basic })).status).toBe(423);
    expect((await call(`${prefix}/${kid}.v2`, { basic })).status).toBe(200);

    const text = await admin("keys", "list");
    expect(text.out).toMatch(new RegExp(`^${kid}\\s+disabled\\s+yes \\(disabled\\)\\s+no\\s+CN=sf-byok-test`, "m"));
    const list = await admin("keys", "list", "--json");
    const keys = (JSON.parse(list.out) as { keys: Array<{ kid: string; state: string; servable: boolean; rotatedTo?: string }> }).keys;
    expect(keys.find((k) => k.kid === kid)).toMatchObject({ state: "disabled", servable: false, rotatedTo: `${kid}.v2` });
    expect(keys.find((k) => k.kid === `${kid}.v2`)).toMatchObject({ state: "enabled", servable: true });
  });

  test("show-setup prints the named credential URL and the key identifier", async () => {
    const r = await admin("show-setup", `${K}-a`);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`https://byok.example.com:8443${prefix}`);
    expect(r.out).toContain(`Unique Key Identifier  ${K}-a`);
    expect(r.out).toContain(`GET https://byok.example.com:8443${prefix}/${K}-a`);
    const j = JSON.parse((await admin("show-setup", `${K}-a`, "--json")).out) as Record<string, unknown>;
    expect(j).toMatchObject({ namedCredentialUrl: `https://byok.example.com:8443${prefix}`, keyIdentifier: `${K}-a` });
    expect(await admin("show-setup", `${K}-absent`)).toMatchObject({ code: 1 });
  });

  test("the cache-only metrics count responses by status", async () => {
    const text = await server.metrics.metrics();
    expect(text).toMatch(/ciop_salesforce_cache_only_responses_total\{status="200"\} [1-9]/);
    expect(text).toMatch(/ciop_salesforce_cache_only_responses_total\{status="409"\} [1-9]/);
  });

  test("after an HSM context reset the route group keeps serving on the server's new Hsm", async () => {
    const before = server.hsm;
    await server.resetHsm();
    expect(server.hsm).not.toBe(before);
    const r = await call(`${prefix}/${K}-a`, { basic });
    expect(r.status).toBe(200);
    const [d] = await decrypt([r.body]);
    expect(d!.kid).toBe(`${K}-a`);
  });

  test("reload to client-certificate-only authentication: the allowed certificate alone is enough, others still get 403", async () => {
    const cfg = readFileSync(cfgPath, "utf8").replace(/^basic_username = .*\n^basic_password_hash = .*\n^jwt_key = .*\n^jwt_audience = .*\n/m, "");
    expect(cfg).not.toContain("basic_username");
    writeFileSync(cfgPath, cfg);
    await server.reload();
    expect((await call(`${prefix}/${K}-a`)).status).toBe(200);
    expect((await call(`${prefix}/${K}-a`, { client: "other" })).status).toBe(403);
  });

  test("nothing secret reaches the server log or the audit log", async () => {
    const logText = logs.join("\n");
    expect(logText).toContain("salesforce");
    const audit = readFileSync(f("audit.log"), "utf8");
    expect(audit).toContain("cache-only-create");
    const basicHeader = Buffer.from(basic).toString("base64");
    for (const s of [...secrets, basicHeader]) {
      expect(logText).not.toContain(s);
      expect(audit).not.toContain(s);
    }
    // No credential-looking values at all (the failure reasons name schemes, never values).
    expect(logText).not.toMatch(/Bearer ey|scrypt\$|c2FsZXNmb3Jj/);
  });
});
