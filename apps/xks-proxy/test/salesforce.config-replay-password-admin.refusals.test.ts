/**
 * The Salesforce route group's edges: strict [salesforce] config validation, the replay nonce
 * cache (window and capacity, with an injected clock), scrypt password hashes, the admin command
 * line, and the group driven through a plain HTTP server on the real SoftHSM token for the
 * nonce-required, header-nonce and missing-certificate cases.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Hsm } from "@ciop/hsm";
import { CacheOnlyKeyService } from "@ciop/salesforce-cache-only";
import { Registry } from "prom-client";
import { createSalesforceRouteGroup } from "../src/salesforce/index.js";
import { parseSalesforceSection } from "../src/salesforce/config.js";
import { NonceCache } from "../src/salesforce/replay.js";
import { hashPassword, parsePasswordHash, verifyPassword } from "../src/salesforce/password.js";
import { runSalesforceAdmin } from "../src/salesforce/admin.js";
import { Authenticator, FREE_FAILURES, SCRYPT_PER_SOURCE_MAX } from "../src/salesforce/auth.js";
import type { RouteGroup } from "../src/route-group.js";

let dir: string;
let hash: string;
const f = (n: string) => path.join(dir, n);

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "sf-edges-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", f("sf.key"), "-out", f("sf.crt"), "-days", "30", "-subj", "/CN=sf-edges"],
    { stdio: "ignore" },
  );
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("small.key"), "-out", f("small.crt"), "-days", "30", "-subj", "/CN=small"],
    { stdio: "ignore" },
  );
  hash = await hashPassword("a long enough password", { logN: 14 });
});

describe("[salesforce] config", () => {
  const auth = () => ({ basic_username: "sf", basic_password_hash: hash });

  test("defaults: prefix, registry and audit log next to the config, replay via ?requestId=, 900 s window", () => {
    const c = parseSalesforceSection({ auth: auth() }, "/etc/ciop");
    expect(c).toMatchObject({
      pathPrefix: "/salesforce/keys",
      registryPath: "/etc/ciop/salesforce-keys.json",
      auditLog: "/etc/ciop/audit.log",
      replay: { windowMs: 900_000, queryParameter: "requestId", required: false, maxEntries: 100_000 },
    });
    expect(c.auth.basic?.username).toBe("sf");
    expect(parseSalesforceSection({ auth: auth(), audit_log: "off", path_prefix: "/a/b/" }, "/x")).toMatchObject({ auditLog: null, pathPrefix: "/a/b" });
  });

  test.each([
    ["no authentication at all", () => ({}), /at least one of/],
    ["unknown key", () => ({ auth: auth(), colour: "blue" }), /unknown key salesforce\.colour/],
    ["unknown auth key", () => ({ auth: { ...auth(), password: "x" } }), /unknown key salesforce\.auth\.password/],
    ["prefix without slash", () => ({ auth: auth(), path_prefix: "keys" }), /path_prefix must look like/],
    ["prefix on the XKS routes", () => ({ auth: auth(), path_prefix: "/kms/xks/v1" }), /collides/],
    ["prefix with a query", () => ({ auth: auth(), path_prefix: "/k?x=1" }), /path_prefix must look like/],
    ["username without hash", () => ({ auth: { basic_username: "sf" } }), /give both/],
    ["plain-text password as hash", () => ({ auth: { basic_username: "sf", basic_password_hash: "hunter2" } }), /not a password hash/],
    ["weak scrypt parameters", () => ({ auth: { basic_username: "sf", basic_password_hash: hash.replace(/^scrypt\$14\$/, "scrypt$10$") } }), /too weak/],
    ["jwt claims without jwt_key", () => ({ auth: { ...auth(), jwt_issuer: "x" } }), /needs salesforce\.auth\.jwt_key/],
    ["jwt_key that is missing", () => ({ auth: { jwt_key: "nope.pem", jwt_audience: "a" } }), /cannot read/],
    ["jwt_key that is a private key", () => ({ auth: { jwt_key: "sf.key", jwt_audience: "a" } }), /PEM certificate or PEM public key/],
    [
      "fingerprints without requiring client certificates",
      () => ({ auth: { ...auth(), client_certificate_required: false, client_certificate_sha256: ["ab".repeat(32)] } }),
      /needs client_certificate_required/,
    ],
    ["bad fingerprint", () => ({ auth: { client_certificate_required: true, client_certificate_sha256: ["abc"] } }), /SHA-256 fingerprints/],
    ["http public_url", () => ({ auth: auth(), public_url: "http://byok.example.com" }), /public_url must be an https/],
    ["bad kid in certificates", () => ({ auth: auth(), certificates: { "a/b": "x.crt" } }), /not a valid key identifier/],
    ["replay window of 0", () => ({ auth: auth(), replay: { window_seconds: 0 } }), /window_seconds must be an integer/],
    ["replay header with spaces", () => ({ auth: auth(), replay: { header: "X Request" } }), /header must be an HTTP header name/],
    ["section not a table", () => "yes", /must be a table/],
  ] as Array<[string, () => unknown, RegExp]>)("refused: %s", (_name, section, why) => {
    // The refusal must have the stated cause, not just any config error.
    expect(() => parseSalesforceSection(section(), dir)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(why) }));
  });

  test("mTLS alone is a valid authentication; fingerprints are normalised", () => {
    const c = parseSalesforceSection({ auth: { client_certificate_sha256: [`${"AB:".repeat(31)}AB`] } }, dir);
    expect(c.auth.clientCertificate).toEqual({ sha256: ["ab".repeat(32)] });
  });
});

describe("replay nonce cache", () => {
  test("a recorded nonce is refused within the window, accepted after it; a full cache refuses instead of forgetting", () => {
    let now = 1_000_000;
    const c = new NonceCache(() => now);
    const take = (n: string): string => {
      const r = c.reserveSync(n, 2);
      if (r.outcome === "reserved") c.commitSync(n, r.token, 60_000);
      return r.outcome;
    };
    expect(take("n1")).toBe("reserved");
    expect(take("n1")).toBe("replayed");
    expect(take("n2")).toBe("reserved");
    expect(take("n3")).toBe("full");
    now += 59_999;
    expect(take("n1")).toBe("replayed");
    now += 2;
    expect(take("n1")).toBe("reserved");
    expect(c.size).toBe(1);
  });
});

describe("password hashes", () => {
  test("scrypt hash verifies the right password only; malformed hashes are refused", async () => {
    const h = parsePasswordHash(hash, "test");
    expect(await verifyPassword(Buffer.from("a long enough password"), h)).toBe(true);
    expect(await verifyPassword(Buffer.from("a long enough passworD"), h)).toBe(false);
    const h2 = await hashPassword("a long enough password", { logN: 14 });
    expect(h2).not.toBe(hash); // fresh salt
    for (const bad of ["", "scrypt$14$8$1$$", "bcrypt$2b$10$abc", `${hash}x!`]) {
      expect(() => parsePasswordHash(bad, "test")).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
    }
  });
});

describe("Basic authentication under bursts", () => {
  const basic = (user: string, password: string) =>
    ({ headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` }, socket: {} }) as unknown as IncomingMessage;

  test("callouts arriving together with one uncached header share one scrypt run; a refused header is refused again without one", async () => {
    const auth = new Authenticator({ basic: { username: "sf", hash: parsePasswordHash(hash, "test") } });
    const right = await Promise.all(Array.from({ length: 12 }, () => auth.authenticate(basic("sf", "a long enough password"))));
    expect(right.every((o) => o.ok)).toBe(true);
    expect(auth.passwordChecks).toBe(1);
    expect((await auth.authenticate(basic("sf", "a long enough password"))).ok).toBe(true);
    expect(auth.passwordChecks).toBe(1); // cached

    const wrong = await Promise.all(Array.from({ length: 12 }, () => auth.authenticate(basic("sf", "a long enough passworD"))));
    expect(wrong.every((o) => !o.ok && o.status === 401)).toBe(true);
    expect(auth.passwordChecks).toBe(2);
    expect(await auth.authenticate(basic("sf", "a long enough passworD"))).toMatchObject({ ok: false, status: 401 });
    expect(auth.passwordChecks).toBe(2); // refused from the short negative cache
    // a wrong user name still costs the same scrypt run (no shortcut that times differently)
    expect(await auth.authenticate(basic("nobody", "a long enough password"))).toMatchObject({ ok: false, status: 401 });
    expect(auth.passwordChecks).toBe(3);
  });

  test("distinct uncached headers from distinct sources: 1 scrypt run at once and 32 waiting; beyond that 503 Busy at once, and the queue drains", async () => {
    const auth = new Authenticator({ basic: { username: "sf", hash: parsePasswordHash(hash, "test") } });
    const from = (i: number, password: string) => {
      const r = basic("sf", password);
      (r as unknown as { socket: { remoteAddress: string } }).socket = { remoteAddress: `10.0.0.${i}` };
      return r;
    };
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => auth.authenticate(from(i, `wrong password ${i}`))));
    expect(outcomes.filter((o) => !o.ok && o.status === 401)).toHaveLength(33);
    expect(outcomes.slice(33)).toEqual(
      Array.from({ length: 7 }, () => ({ ok: false, status: 503, error: "Busy", reason: "too many password checks waiting", retryAfterSeconds: 1 })),
    );
    expect(auth.passwordChecks).toBe(33);
    expect((await auth.authenticate(basic("sf", "a long enough password"))).ok).toBe(true);
  });
});

describe("xks-proxy salesforce (command line)", () => {
  const runAdmin = async (argv: string[], stdin?: string) => {
    let out = "";
    let err = "";
    const code = await runSalesforceAdmin(argv, {
      out: (s) => (out += s),
      err: (s) => (err += s),
      ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
    });
    return { code, out, err };
  };

  test("hash-password reads stdin and prints a hash that verifies; short passwords are refused", async () => {
    const r = await runAdmin(["hash-password"], "my callout password 1\n");
    expect(r.code).toBe(0);
    const h = parsePasswordHash(r.out.trim(), "out");
    expect(await verifyPassword(Buffer.from("my callout password 1"), h)).toBe(true);
    expect(r.out).not.toContain("my callout password");
    expect((await runAdmin(["hash-password"], "short\n")).code).toBe(2);
  });

  test("usage errors exit 2 and say why; --help exits 0", async () => {
    expect((await runAdmin(["--help"])).code).toBe(0);
    expect((await runAdmin([])).code).toBe(2);
    const cases: Array<[string[], RegExp]> = [
      [["keys", "explode", "k"], /unknown command/],
      [["keys", "create"], /missing <kid>/],
      [["keys", "create", "a", "b"], /unexpected argument/],
      [["keys", "list", "--new-kid", "x"], /does not apply/],
      [["keys", "create", "k", "--bogus"], /Unknown option/],
      [["hash-password", "extra"], /takes no arguments/],
    ];
    for (const [argv, msg] of cases) {
      const r = await runAdmin(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.err).toMatch(msg);
    }
  });
});

describe("route group on the real token (plain HTTP, handler level)", () => {
  let hsm: Hsm;
  let server: http.Server;
  let base: string;
  let group: RouteGroup;
  const logs: Array<Record<string, unknown>> = [];
  const kid = `edge${process.pid}`;
  const creds = `Basic ${Buffer.from("sf:a long enough password").toString("base64")}`;

  beforeAll(async () => {
    hsm = await Hsm.open({ library: process.env.CIOP_TEST_LIB!, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
    const svc = new CacheOnlyKeyService({ hsm, registryPath: f("reg.json") });
    await svc.createKey(kid, { certificate: execFileSync("cat", [f("sf.crt")]) });
    await svc.createKey(`${kid}-nocert`);
    const ctx = {
      hsm,
      withHsmTimeout: async <T>(_op: string, fn: () => Promise<T> | T) => fn(),
      log: (r: Record<string, unknown>) => void logs.push(r),
      metrics: new Registry(),
      configDir: dir,
    };
    await expect(
      createSalesforceRouteGroup({ registry: "reg.json", certificate: "small.crt", auth: { basic_username: "sf", basic_password_hash: hash } }, ctx),
    ).rejects.toMatchObject({ code: "ERR_WRAPPING_KEY_SIZE" });
    group = await createSalesforceRouteGroup(
      {
        registry: "reg.json",
        audit_log: "off",
        path_prefix: "/co",
        replay: { required: true, header: "X-Request-Id" },
        auth: { basic_username: "sf", basic_password_hash: hash },
      },
      ctx,
    );
    server = http.createServer((req, res) => {
      void group.handle(req, res, Buffer.alloc(0));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await group?.close();
    await new Promise((r) => server?.close(r));
    await hsm?.close();
  });

  const get = async (p: string, headers: Record<string, string> = {}) => {
    const r = await fetch(base + p, { headers: { authorization: creds, ...headers } });
    return { status: r.status, json: (await r.json()) as Record<string, string> };
  };

  test("replay.required: no nonce -> 400 NonceRequired; header nonce is echoed as jti and refused the second time", async () => {
    expect(await get(`/co/${kid}`)).toEqual({ status: 400, json: { error: "NonceRequired" } });
    const ok = await get(`/co/${kid}`, { "x-request-id": "hdr-nonce-1" });
    expect(ok.status).toBe(200);
    const header = JSON.parse(Buffer.from(ok.json.jwe!.split(".")[0]!, "base64url").toString()) as Record<string, string>;
    expect(header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid, jti: "hdr-nonce-1" });
    expect(await get(`/co/${kid}`, { "x-request-id": "hdr-nonce-1" })).toEqual({ status: 409, json: { error: "ReplayDetected" } });
    // The query parameter wins over the header.
    const q = await get(`/co/${kid}?requestId=q-nonce-1`, { "x-request-id": "hdr-nonce-2" });
    expect(JSON.parse(Buffer.from(q.json.jwe!.split(".")[0]!, "base64url").toString())).toMatchObject({ jti: "q-nonce-1" });
  });

  test("a key with no bound and no configured certificate gets 500 CertificateProblem", async () => {
    const r = await get(`/co/${kid}-nocert`, { "x-request-id": "n-nocert" });
    expect(r.status).toBe(500);
    expect(r.json.error).toBe("CertificateProblem");
  });

  test("a flood of distinct wrong passwords over HTTP from one address: two checks, the overflow answered 429 TooManyFailures with Retry-After at once", async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const r = await fetch(`${base}/co/${kid}`, { headers: { authorization: `Basic ${Buffer.from(`sf:wrong password ${i}`).toString("base64")}` } });
        return { status: r.status, retryAfter: r.headers.get("retry-after"), json: (await r.json()) as Record<string, string> };
      }),
    );
    const refused = answers.filter((a) => a.status === 429);
    // Two checks of one address at a time; when one ends before the last request arrives (a slow,
    // loaded machine) another may start, until FREE_FAILURES failures block the address: at most
    // 5 finished + 2 in flight get a scrypt check, never the 40.
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBeGreaterThanOrEqual(2);
    expect(checked).toBeLessThanOrEqual(FREE_FAILURES + SCRYPT_PER_SOURCE_MAX);
    expect(refused).toHaveLength(40 - checked);
    expect(refused.every((a) => a.retryAfter === "1" && a.json.error === "TooManyFailures")).toBe(true);
    // once the queue drained, the right password gets in again
    expect((await get(`/co/${kid}`, { "x-request-id": "after-flood" })).status).toBe(200);
  });

  test("reload applies a new section (new auth) without restarting", async () => {
    const other = await hashPassword("another long password", { logN: 14 });
    await group.reload!({ registry: "reg.json", audit_log: "off", path_prefix: "/co", auth: { basic_username: "sf", basic_password_hash: other } });
    expect((await get(`/co/${kid}`)).status).toBe(401);
    const r = await fetch(`${base}/co/${kid}`, { headers: { authorization: `Basic ${Buffer.from("sf:another long password").toString("base64")}` } });
    expect(r.status).toBe(200);
    expect(logs.every((l) => !JSON.stringify(l).includes("long password"))).toBe(true);
  });
});
