/**
 * Test harness: runs the BUILT citool (dist/cli.js) as a user would, against the throw-away SoftHSM
 * token made by jest's globalSetup, and checks results with tools citool did not write (openssl,
 * pkcs11-tool, /usr/bin/python3 + cryptography).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { testToken } from "@ciop/testkit";
import type { Io } from "../src/io.js";

export const execFileP = promisify(execFile);
export const CLI = resolve(__dirname, "../dist/cli.js");
export const VERIFY_PY = resolve(__dirname, "verify.py");

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx turbo run build --filter=@ciop/citool...)`);
}

/** A fresh directory under the test token's scratch dir. */
export function tempDir(prefix: string): string {
  const base = join(testToken().dir, "citool");
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Leave out --hsm-lib/--token (to test other ways of selecting the HSM). */
  noHsmArgs?: boolean;
  input?: string;
}

/** Environment every run gets: PIN in CIOP_PIN, private XDG dirs (audit log, config), no colours. */
export function baseEnv(cwd: string): Record<string, string | undefined> {
  const t = testToken();
  return {
    PATH: process.env.PATH,
    HOME: cwd,
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
    // A p11-kit-rpc token run: the client module finds the server here (tools/jest/global-setup.cjs).
    P11_KIT_SERVER_ADDRESS: process.env.P11_KIT_SERVER_ADDRESS,
    CIOP_PIN: t.pin,
    XDG_DATA_HOME: join(cwd, ".xdg-data"),
    XDG_CONFIG_HOME: join(cwd, ".xdg-config"),
    NO_COLOR: "1",
  };
}

/** --hsm-lib/--token of the token under test, plus --hsm-params when it needs library parameters (NSS softokn). */
export function hsmArgs(): string[] {
  const t = testToken();
  return ["--hsm-lib", t.lib, ...(t.params ? ["--hsm-params", t.params] : []), "--token", t.label];
}

const RUN_TIMEOUT_MS = 45_000;

export function runCli(args: string[], opts: RunOptions): Promise<RunResult> {
  const env = { ...baseEnv(opts.cwd), ...(opts.env ?? {}) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const full = [CLI, ...(opts.noHsmArgs ? [] : hsmArgs()), ...args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, full, { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    // a hung citool is a failure of its own, not a child left running after the test (open handle)
    const timer = setTimeout(() => {
      stderr += `\n[test harness] citool did not finish within ${RUN_TIMEOUT_MS} ms; killed\n`;
      child.kill("SIGKILL");
    }, RUN_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Files in a directory, ignoring the private XDG dirs the harness makes. */
export function listFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith(".xdg-"))
    .sort();
}

export interface WrappingKeys {
  dir: string;
  /** private key PEM by size */
  priv: Record<number, string>;
  /** SubjectPublicKeyInfo DER by size */
  spkiDer: Record<number, string>;
  /** PEM public key by size */
  pubPem: Record<number, string>;
  /** self-signed certificate PEM by size */
  cert: Record<number, string>;
  expiredCert: string;
  notYetValidCert: string;
  rsa1024: string;
  ecPub: string;
  garbage: string;
  empty: string;
  privatePem: string;
}

/**
 * Builds `final` once per jest run: `make` fills a private temporary directory, which is then renamed
 * into place (atomic). A test file that finds `final` already there (made by an earlier file, or by a
 * parallel worker that won the rename) uses it as is. The files are never modified by tests.
 */
async function cachedDir(final: string, make: (dir: string) => Promise<void>): Promise<string> {
  if (existsSync(final)) return final;
  mkdirSync(dirname(final), { recursive: true });
  const tmp = mkdtempSync(`${final}.tmp-`);
  await make(tmp);
  try {
    renameSync(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(tmp, { recursive: true, force: true });
  }
  return final;
}

/**
 * Wrapping key pairs made with openssl (and two odd certificates with python cryptography), cached
 * for the whole jest run under the test token's directory (RSA key generation is the slow part).
 * `dir` is created and stands for "a directory" in tests; the key files live in the cache.
 */
export async function makeWrappingKeys(dir: string, sizes: number[] = [2048, 3072, 4096]): Promise<WrappingKeys> {
  mkdirSync(dir, { recursive: true });
  const cache = join(testToken().dir, "citool-wrapping-keys");
  const k: WrappingKeys = {
    dir,
    priv: {},
    spkiDer: {},
    pubPem: {},
    cert: {},
    expiredCert: "",
    notYetValidCert: "",
    rsa1024: "",
    ecPub: "",
    garbage: "",
    empty: "",
    privatePem: "",
  };
  await Promise.all(
    sizes.map(async (bits) => {
      const d = await cachedDir(join(cache, `rsa${bits}`), async (tmp) => {
        const priv = join(tmp, `rsa${bits}.key`);
        await execFileP("openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`, "-out", priv]);
        await execFileP("openssl", ["pkey", "-in", priv, "-pubout", "-outform", "DER", "-out", join(tmp, `rsa${bits}.spki.der`)]);
        await execFileP("openssl", ["pkey", "-in", priv, "-pubout", "-out", join(tmp, `rsa${bits}.pub.pem`)]);
        await execFileP("openssl", [
          "req",
          "-x509",
          "-new",
          "-key",
          priv,
          "-subj",
          `/CN=citool test ${bits}`,
          "-days",
          "30",
          "-out",
          join(tmp, `rsa${bits}.crt`),
        ]);
      });
      k.priv[bits] = join(d, `rsa${bits}.key`);
      k.spkiDer[bits] = join(d, `rsa${bits}.spki.der`);
      k.pubPem[bits] = join(d, `rsa${bits}.pub.pem`);
      k.cert[bits] = join(d, `rsa${bits}.crt`);
    }),
  );
  k.privatePem = k.priv[sizes[0]!]!;
  const big = sizes.includes(4096) ? 4096 : sizes[sizes.length - 1]!;
  const extras = await cachedDir(join(cache, `extras-${big}`), async (tmp) => {
    const p1024 = join(tmp, "rsa1024.key");
    await execFileP("openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", p1024]);
    await execFileP("openssl", ["pkey", "-in", p1024, "-pubout", "-out", join(tmp, "rsa1024.pub.pem")]);
    const ec = join(tmp, "ec.key");
    await execFileP("openssl", ["genpkey", "-quiet", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec]);
    await execFileP("openssl", ["pkey", "-in", ec, "-pubout", "-out", join(tmp, "ec.pub.pem")]);
    writeFileSync(join(tmp, "garbage.bin"), "this is not a key at all\n\u0000\u0001\u0002garbage");
    writeFileSync(join(tmp, "empty.pem"), "");
    await execFileP("/usr/bin/python3", [
      "-c",
      `
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
key = serialization.load_pem_private_key(open(sys.argv[1],'rb').read(), None)
def cert(nb, na, path, cn):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na).sign(key, hashes.SHA256()))
    open(path,'wb').write(c.public_bytes(serialization.Encoding.PEM))
now = datetime.datetime.utcnow()
cert(now - datetime.timedelta(days=400), now - datetime.timedelta(days=35), sys.argv[2], 'citool expired')
cert(now + datetime.timedelta(days=10), now + datetime.timedelta(days=400), sys.argv[3], 'citool future')
`,
      k.priv[big]!,
      join(tmp, "expired.crt"),
      join(tmp, "future.crt"),
    ]);
  });
  k.expiredCert = join(extras, "expired.crt");
  k.notYetValidCert = join(extras, "future.crt");
  k.rsa1024 = join(extras, "rsa1024.pub.pem");
  k.ecPub = join(extras, "ec.pub.pem");
  k.garbage = join(extras, "garbage.bin");
  k.empty = join(extras, "empty.pem");
  return k;
}

/** Runs test/verify.py (python3-cryptography) and returns its JSON answer. */
export async function pyVerify(args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await execFileP("/usr/bin/python3", [VERIFY_PY, JSON.stringify(args)]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * The public key of an HSM key pair as SPKI DER hex, from what OpenSC's pkcs11-tool reads off the
 * token. RSA: `--read-object --type pubkey` (re-encoded by openssl). EC: the CKA_EC_POINT and
 * CKA_EC_PARAMS that `--list-objects` prints, turned into an SPKI by python3-cryptography
 * (`EllipticCurvePublicKey.from_encoded_point`); OpenSC 0.23 cannot build an EVP_PKEY for P-384, so
 * `--read-object` is not used for EC keys.
 */
export async function hsmPublicKeyHex(label: string, dir: string): Promise<string> {
  const t = testToken();
  const objs = (await tokenObjects()).filter((o) => o.label === label && /^Public Key/.test(o.kind));
  if (objs.length !== 1) throw new Error(`expected one public key labelled ${label}, found ${objs.length}`);
  const o = objs[0]!;
  if (/\bEC\b/.test(o.kind)) {
    if (!o.ecPoint || !o.ecParams) throw new Error(`pkcs11-tool listed no EC_POINT/EC_PARAMS for ${label}`);
    const { stdout } = await execFileP("/usr/bin/python3", ["-c", EC_SPKI_PY, o.ecParams, o.ecPoint]);
    return stdout.trim();
  }
  if (t.params) return (await p11Raw(["rsa-pub", o.id])).trim();
  const out = join(dir, `${label}.p11pub.der`);
  await execFileP("pkcs11-tool", [
    "--module",
    t.lib,
    "--token-label",
    t.label,
    "--login",
    "--pin",
    t.pin,
    "--read-object",
    "--type",
    "pubkey",
    "--id",
    o.id,
    "-o",
    out,
  ]);
  const { stdout } = await execFileP("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", out, "-pubout", "-outform", "DER"], {
    encoding: "buffer" as BufferEncoding,
  });
  return Buffer.from(stdout as unknown as Buffer).toString("hex");
}

/** argv: EC_PARAMS (DER OID, hex), EC_POINT (DER OCTET STRING around the X9.62 point, hex) -> SPKI hex. */
const EC_SPKI_PY = `
import sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ObjectIdentifier
def der_value(b, tag):
    assert b[0] == tag, "unexpected DER tag %x" % b[0]
    n = b[1]; i = 2
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[2:2+k], "big"); i = 2 + k
    assert len(b) == i + n, "trailing bytes"
    return b[i:i+n]
def oid_text(v):
    parts = [v[0] // 40, v[0] % 40]; acc = 0
    for c in v[1:]:
        acc = (acc << 7) | (c & 0x7f)
        if not c & 0x80: parts.append(acc); acc = 0
    return ".".join(map(str, parts))
oid = oid_text(der_value(bytes.fromhex(sys.argv[1]), 0x06))
curve = ec.get_curve_for_oid(ObjectIdentifier(oid))()
point = der_value(bytes.fromhex(sys.argv[2]), 0x04)
pub = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
print(pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex())
`;

const P11_RAW = resolve(__dirname, "support/p11-raw.cjs");

/**
 * support/p11-raw.cjs on the token under test: for a token whose module needs C_Initialize library
 * parameters (NSS softokn), which OpenSC's pkcs11-tool cannot pass, the same reads with plain pkcs11js.
 */
async function p11Raw(args: string[]): Promise<string> {
  const t = testToken();
  const env = { ...process.env, P11RAW_LIB: t.lib, P11RAW_PARAMS: t.params, P11RAW_LABEL: t.label, P11RAW_PIN: t.pin };
  const { stdout } = await execFileP(process.execPath, [P11_RAW, ...args], { env });
  return stdout;
}

/** The objects on the token as pkcs11-tool lists them: kind line, label, ID (hex), EC point/params (hex). */
export async function tokenObjects(): Promise<Array<{ kind: string; label: string; id: string; ecPoint?: string; ecParams?: string }>> {
  const t = testToken();
  if (t.params) return JSON.parse(await p11Raw(["list"]));
  const { stdout } = await execFileP("pkcs11-tool", ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, "--list-objects"]);
  const out: Array<{ kind: string; label: string; id: string; ecPoint?: string; ecParams?: string }> = [];
  for (const block of stdout.split(/\n(?=\S)/)) {
    const kind = block.split("\n")[0]!.trim();
    const label = /^\s*label:\s*(.*)$/m.exec(block)?.[1]?.trim() ?? "";
    const id = /^\s*ID:\s*([0-9a-f]+)/m.exec(block)?.[1] ?? "";
    const ecPoint = /^\s*EC_POINT:\s*([0-9a-f]+)/m.exec(block)?.[1];
    const ecParams = /^\s*EC_PARAMS:\s*([0-9a-f]+)/m.exec(block)?.[1];
    out.push({ kind, label, id, ...(ecPoint ? { ecPoint } : {}), ...(ecParams ? { ecParams } : {}) });
  }
  return out;
}

/** AES-ECB of 16 zero bytes under an HSM secret key (found by label, used by ID), done by pkcs11-tool inside the token. */
export async function hsmAesKcvHex(label: string, dir: string): Promise<string> {
  const t = testToken();
  const objs = (await tokenObjects()).filter((o) => o.label === label && /^Secret Key/.test(o.kind));
  if (objs.length !== 1) throw new Error(`expected one secret key labelled ${label}, found ${objs.length}`);
  if (t.params) return (await p11Raw(["kcv", objs[0]!.id])).trim();
  const zero = join(dir, "zero16.bin");
  writeFileSync(zero, Buffer.alloc(16));
  const out = join(dir, `${label}.kcv`);
  await execFileP("pkcs11-tool", [
    "--module",
    t.lib,
    "--token-label",
    t.label,
    "--login",
    "--pin",
    t.pin,
    "--encrypt",
    "--mechanism",
    "AES-ECB",
    "--id",
    objs[0]!.id,
    "-i",
    zero,
    "-o",
    out,
  ]);
  return (await import("node:fs")).readFileSync(out).toString("hex");
}

/** Every object label on the token, read by pkcs11-tool. */
export async function tokenLabels(): Promise<string[]> {
  const t = testToken();
  if (t.params) return (await tokenObjects()).map((o) => o.label);
  const { stdout } = await execFileP("pkcs11-tool", ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, "--list-objects"]);
  return [...stdout.matchAll(/^\s*label:\s*(.*)$/gm)].map((m) => m[1]!.trim());
}

export const PTY_RUN = resolve(__dirname, "pty-run.py");

/** Runs the built citool on a pseudo-terminal (python's pty module); `answers` are typed when their prompt shows. */
export async function runOnTty(args: string[], opts: RunOptions & { answers?: Array<[string, string]> }): Promise<{ code: number; output: string }> {
  const env = { ...baseEnv(opts.cwd), ...(opts.env ?? {}) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const argv = [process.execPath, CLI, ...(opts.noHsmArgs ? [] : hsmArgs()), ...args];
  const { stdout } = await execFileP("/usr/bin/python3", [PTY_RUN, JSON.stringify({ argv, env, cwd: opts.cwd, answers: opts.answers ?? [], timeout: 40 })], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as { code: number; output: string };
}

/**
 * An Io for running citool in-process (`run(argv, io)`) in `dir`: stdout is dropped, stderr kept
 * (`stderr()`), the test token's PIN in the environment, private XDG dirs, no terminal.
 */
export function memIo(dir: string): Io & { stderr: () => string } {
  let err = "";
  return {
    out: () => undefined,
    err: (t) => {
      err += t;
    },
    env: {
      CIOP_PIN: testToken().pin,
      HOME: dir,
      XDG_DATA_HOME: join(dir, ".xdg-data"),
      XDG_CONFIG_HOME: join(dir, ".xdg-config"),
      NO_COLOR: "1",
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
    },
    cwd: dir,
    stdinIsTTY: false,
    stderrIsTTY: false,
    prompt: async () => {
      throw new Error("no prompt in this test");
    },
    stderr: () => err,
  };
}
