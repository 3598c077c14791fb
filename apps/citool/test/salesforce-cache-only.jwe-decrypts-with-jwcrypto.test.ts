/**
 * `citool salesforce-cache-only <kid> <cert>` run as a user would (the built CLI, the jest run's
 * SoftHSM token), its output decrypted by python3-jwcrypto with the certificate's private key
 * (made by openssl), and key presence checked with pkcs11-tool.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { decryptCacheOnlyJwe, type DecryptedJwe } from "@ciop/testkit";

const run = promisify(execFile);
const CLI = resolve(__dirname, "../dist/cli.js");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
const f = (n: string) => join(dir, n);
const K = `sfco-cli-${process.pid}`;

function cli(args: string[]): Promise<Result> {
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: dir,
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!,
    CIOP_PIN: process.env.CIOP_TEST_PIN!,
    XDG_DATA_HOME: join(dir, ".xdg-data"),
    XDG_CONFIG_HOME: join(dir, ".xdg-config"),
    NO_COLOR: "1",
  };
  const full = [CLI, "--hsm-lib", process.env.CIOP_TEST_LIB!, "--token", process.env.CIOP_TEST_TOKEN_LABEL!, ...args];
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, full, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", rej);
    child.on("close", (code) => res({ code, stdout, stderr }));
  });
}

function decrypt(bodies: string[]): Promise<DecryptedJwe[]> {
  return decryptCacheOnlyJwe(f("sf.key"), bodies);
}

async function labelsOnToken(): Promise<string> {
  const { stdout } = await run(
    "pkcs11-tool",
    [
      "--module",
      process.env.CIOP_TEST_LIB!,
      "--token-label",
      process.env.CIOP_TEST_TOKEN_LABEL!,
      "--login",
      "--pin",
      process.env.CIOP_TEST_PIN!,
      "--list-objects",
      "--type",
      "secrkey",
    ],
    { env: { ...process.env } },
  );
  return stdout;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build citool first`);
  const base = join(process.env.CIOP_TEST_DIR!, "citool");
  mkdirSync(base, { recursive: true });
  dir = mkdtempSync(join(base, "sfco-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", f("sf.key"), "-out", f("sf.crt"), "-days", "30", "-subj", "/CN=sf-byok-cli"],
    { stdio: "ignore" },
  );
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("small.key"), "-out", f("small.crt"), "-days", "30", "-subj", "/CN=small"],
    { stdio: "ignore" },
  );
});

describe("citool salesforce-cache-only", () => {
  test("prints {kid, jwe}; jwcrypto decrypts it to the same 32-byte DEK each run, with a fresh CEK and IV; --jti lands in the header", async () => {
    const kid = `${K}-a`;
    const r1 = await cli(["salesforce-cache-only", kid, "sf.crt"]);
    expect(r1).toMatchObject({ code: 0, stderr: "" });
    const r2 = await cli(["salesforce-cache-only", kid, "sf.crt", "--jti", "e5ab58fd2ced013f2a46d5c8144dd439"]);
    expect(r2.code).toBe(0);
    const [a, b] = await decrypt([r1.stdout.trim(), r2.stdout.trim()]);
    expect(a!.respKeys).toEqual(["jwe", "kid"]);
    expect(a!.kid).toBe(kid);
    expect(a!.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid });
    expect(b!.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid, jti: "e5ab58fd2ced013f2a46d5c8144dd439" });
    expect(a!.dek).toHaveLength(64);
    expect(a!.dek).toBe(b!.dek);
    expect(a!.cek).not.toBe(b!.cek);
    expect(a!.iv).not.toBe(b!.iv);
    expect(await labelsOnToken()).toContain(kid);
    // The audit log has the runs, and no form of the DEK.
    const audit = readFileSync(join(dir, ".xdg-data", "ciop", "audit.log"), "utf8");
    expect(audit).toContain('"operation":"salesforce-cache-only"');
    const dek = Buffer.from(a!.dek, "hex");
    for (const s of [a!.dek, dek.toString("base64"), dek.toString("base64url"), a!.cek]) {
      expect(audit.toLowerCase()).not.toContain(s.toLowerCase());
      expect(r1.stderr + r2.stderr).not.toContain(s);
    }
  });

  test("--out writes the response atomically, refuses to overwrite without --force; --json reports the run", async () => {
    const kid = `${K}-out`;
    const w = await cli(["salesforce-cache-only", kid, "sf.crt", "--out", "resp.json"]);
    expect(w.code).toBe(0);
    expect(w.stdout).toBe("");
    const [d] = await decrypt([readFileSync(f("resp.json"), "utf8").trim()]);
    expect(d!.kid).toBe(kid);
    const again = await cli(["salesforce-cache-only", kid, "sf.crt", "--out", "resp.json"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("ERR_OUTPUT_EXISTS");
    expect((await cli(["salesforce-cache-only", kid, "sf.crt", "--out", "resp.json", "--force"])).code).toBe(0);
    const j = await cli(["salesforce-cache-only", kid, "sf.crt", "--json"]);
    const doc = JSON.parse(j.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ command: "salesforce-cache-only", kid, keyCreated: false });
    const [dj] = await decrypt([JSON.stringify({ kid, jwe: doc.jwe })]);
    expect(dj!.dek).toBe(d!.dek);
  });

  test("bad input is refused before any key is made", async () => {
    const kid = `${K}-refused`;
    const cases: Array<[string[], string]> = [
      [["salesforce-cache-only", kid, "small.crt"], "ERR_WRAPPING_KEY_SIZE"],
      [["salesforce-cache-only", kid, "sf.key"], "ERR_WRAPPING_KEY_INVALID"],
      [["salesforce-cache-only", kid, "missing.crt"], "ERR_USAGE"],
      [["salesforce-cache-only", "bad/kid", "sf.crt"], "ERR_KID_INVALID"],
      [["salesforce-cache-only", kid, "sf.crt", "--jti", "has space"], "ERR_USAGE"],
      [["salesforce-cache-only", kid], "ERR_USAGE"],
      [["salesforce-cache-only", kid, "sf.crt", "extra"], "ERR_USAGE"],
      [["salesforce-cache-only", kid, "sf.crt", "--force"], "ERR_USAGE"],
      [["salesforce-cache-only", kid, "sf.crt", "--out-dir", "x"], "ERR_USAGE"],
    ];
    for (const [args, code] of cases) {
      const r = await cli(args);
      expect({ args, code: r.code, err: r.stderr.includes(code) }).toEqual({ args, code: 2, err: true });
    }
    writeFileSync(f("garbage.crt"), "not a certificate");
    expect((await cli(["salesforce-cache-only", kid, "garbage.crt"])).code).toBe(2);
    expect(await labelsOnToken()).not.toContain(kid);
  });

  test("a disabled key is not served (exit 1, ERR_KEY_DISABLED)", async () => {
    const kid = `${K}-dis`;
    expect((await cli(["salesforce-cache-only", kid, "sf.crt"])).code).toBe(0);
    expect((await cli(["keys", "disable", kid])).code).toBe(0);
    const r = await cli(["salesforce-cache-only", kid, "sf.crt"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ERR_KEY_DISABLED");
    expect(r.stdout).toBe("");
  });

  test("help: its own --help, and the main usage lists it", async () => {
    const h = await cli(["salesforce-cache-only", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: citool salesforce-cache-only <kid> <cert>/);
    const m = await cli(["--help"]);
    expect(m.stdout).toContain("citool salesforce-cache-only <kid> <cert>");
  });
});
