/**
 * Bad input, as a user would type it, against the built citool: each case asserts the exit status
 * (2 = bad command line or input, 1 = failure while working), a one-line message naming the bad
 * value and its error code, no stack trace, and no file in the working directory. At the end, the
 * token is listed twice (citool keys list --all and OpenSC's pkcs11-tool) to prove that none of
 * these runs created a key.
 */
import { testToken } from "@ciop/testkit";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, listFiles, makeWrappingKeys, runCli, tempDir, tokenLabels, type RunOptions, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;
let work: string;
const KID = "https://citool-bad.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";
const usedNames = new Set<string>();

beforeAll(async () => {
  assertBuilt();
  work = tempDir("bad");
  keys = await makeWrappingKeys(join(work, "wrapping-keys"));
  // a key of that name that ciop did not create
  const t = testToken();
  execFileSync(
    "pkcs11-tool",
    ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, "--keygen", "--key-type", "aes:32", "--label", "bad-notciop"],
    { stdio: "ignore" },
  );
}, 120_000);

interface BadCase {
  title: string;
  args: (k: WrappingKeys, cwd: string) => string[];
  code: 1 | 2;
  /** error code shown in brackets at the end of the line */
  err?: string;
  message: RegExp;
  opts?: Partial<RunOptions>;
  /** runs before, in the same cwd (e.g. create the file that must not be overwritten) */
  setup?: (cwd: string) => void;
  /** files that must be there afterwards (the ones setup made) */
  keep?: string[];
}

const key = (n: number) => {
  const name = `bad-${n}`;
  usedNames.add(name);
  return name;
};

const cases: BadCase[] = [
  {
    title: "garbage wrapping-key file",
    args: (k) => ["aws", key(1), k.garbage, "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_WRAPPING_KEY_INVALID",
    message: /wrapping key file .*garbage\.bin/,
  },
  {
    title: "empty wrapping-key file",
    args: (k) => ["aws", key(2), k.empty, "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_WRAPPING_KEY_INVALID",
    message: /empty\.pem is empty/,
  },
  {
    title: "wrapping-key file does not exist",
    args: () => ["aws", key(3), "no-such-file.bin", "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_USAGE",
    message: /no-such-file\.bin does not exist/,
  },
  { title: "wrapping key is a directory", args: (k) => ["aws", key(4), k.dir, "RSAES_OAEP_SHA_256"], code: 2, err: "ERR_USAGE", message: /is a directory/ },
  {
    title: "a private key given as the wrapping key",
    args: (k) => ["aws", key(5), k.privatePem, "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_WRAPPING_KEY_INVALID",
    message: /private key/i,
  },
  {
    title: "wrong provider name",
    args: (k) => ["amazon", key(6), k.spkiDer[4096]!, "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_PROVIDER_UNKNOWN",
    message: /unknown provider 'amazon'.*aws.*microsoft-azure/,
  },
  {
    title: "algorithm unknown to the provider",
    args: (k) => ["aws", key(7), k.spkiDer[4096]!, "RSAES_OAEP_SHA_512"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /RSAES_OAEP_SHA_512/,
  },
  {
    title: "algorithm of another provider (PKCS#1 for Google Cloud KMS)",
    args: (k) => ["google-cloud-key-management", key(8), k.pubPem[4096]!, "RSAES_PKCS1_V1_5"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /RSAES_PKCS1_V1_5/,
  },
  {
    title: "key type the provider does not take (AES for Azure Key Vault)",
    args: (k) => ["microsoft-azure", key(9), k.pubPem[4096]!, "-a", KID, "-k", "AES-256"],
    code: 2,
    err: "ERR_KEY_TYPE_UNSUPPORTED",
    message: /AES-256/,
  },
  {
    title: "key type the provider does not take (P-521 for Google Cloud KMS)",
    args: (k) => ["google-cloud-key-management", key(10), k.pubPem[4096]!, "RSAES_OAEP_SHA_256", "-k", "EC-NISTP521"],
    code: 2,
    err: "ERR_KEY_TYPE_UNSUPPORTED",
    message: /EC-NISTP521/,
  },
  {
    title: "unknown key type",
    args: (k) => ["microsoft-azure", key(11), k.pubPem[4096]!, "-a", KID, "-k", "AES-512"],
    code: 2,
    err: "ERR_KEY_TYPE_UNSUPPORTED",
    message: /AES-512/,
  },
  {
    title: "wrapping key weaker than the target (RSA-2048 KEK for P-384)",
    args: (k) => ["microsoft-azure", key(12), k.pubPem[2048]!, "-a", KID, "-k", "EC-NISTP384"],
    code: 2,
    err: "ERR_WRAPPING_KEY_TOO_WEAK",
    message: /2048|112/,
  },
  { title: "RSA-1024 wrapping key", args: (k) => ["aws", key(13), k.rsa1024, "RSAES_OAEP_SHA_256"], code: 2, message: /1024/ },
  { title: "EC public key as the wrapping key", args: (k) => ["aws", key(14), k.ecPub, "RSAES_OAEP_SHA_256"], code: 2, message: /RSA|EC/ },
  {
    title: "expired certificate",
    args: (k) => ["salesforce", key(15), k.expiredCert, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_CERTIFICATE_NOT_VALID",
    message: /expired|not valid|valid/i,
  },
  {
    title: "certificate not valid yet",
    args: (k) => ["salesforce", key(16), k.notYetValidCert, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_CERTIFICATE_NOT_VALID",
    message: /valid/i,
  },
  {
    title: "malformed Azure kid",
    args: (k) => ["microsoft-azure", key(17), k.pubPem[4096]!, "-a", "not-a-url"],
    code: 2,
    err: "ERR_KID_INVALID",
    message: /not-a-url/,
  },
  {
    title: "Azure kid over http",
    args: (k) => ["microsoft-azure", key(18), k.pubPem[4096]!, "-a", "http://myvault.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef"],
    code: 2,
    err: "ERR_KID_INVALID",
    message: /http:/,
  },
  {
    title: "Azure kid on a host that is not a vault or managed HSM",
    args: (k) => ["microsoft-azure", key(19), k.pubPem[4096]!, "-a", "https://evil.example.com/keys/kek/0123456789abcdef0123456789abcdef"],
    code: 2,
    err: "ERR_KID_INVALID",
    message: /evil\.example\.com/,
  },
  { title: "Azure without -a", args: (k) => ["microsoft-azure", key(20), k.pubPem[4096]!], code: 2, err: "ERR_KID_INVALID", message: /--azure-kek/ },
  { title: "missing wrapAlg for aws", args: (k) => ["aws", key(21), k.spkiDer[4096]!], code: 2, message: /RSAES_OAEP_SHA_256/ },
  { title: "missing wrapAlg for salesforce", args: (k) => ["salesforce", key(22), k.cert[4096]!], code: 2, message: /RSAES_OAEP_SHA_1/ },
  {
    title: "unknown module",
    args: (k) => ["--hsm-lib", testToken().lib, "-m", "nosuchtoken", "aws", key(23), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 1,
    err: "ERR_TOKEN_NOT_FOUND",
    message: /nosuchtoken/,
    opts: { noHsmArgs: true },
  },
  {
    title: "wrong PIN",
    args: (k) => ["aws", key(24), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 1,
    err: "ERR_PIN_INCORRECT",
    message: /PIN/i,
    opts: { env: { CIOP_PIN: "000000" } },
  },
  {
    title: "a key of that name exists and ciop did not create it",
    args: (k) => ["aws", "bad-notciop", k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_KEY_NOT_CIOP",
    message: /bad-notciop/,
  },
  {
    title: "an output file exists",
    args: (k) => ["aws", key(26), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_OUTPUT_EXISTS",
    message: /bad-26-wrapped already exists.*--force/,
    setup: (cwd) => writeFileSync(join(cwd, "bad-26-wrapped"), "precious"),
    keep: ["bad-26-wrapped"],
  },
  {
    title: "unknown option",
    args: (k) => ["aws", key(27), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--frobnicate"],
    code: 2,
    err: "ERR_USAGE",
    message: /unknown option --frobnicate/,
  },
  { title: "missing positional arguments", args: () => ["aws"], code: 2, err: "ERR_USAGE", message: /missing arguments: keyName, wrapKey/ },
  {
    title: "too many positional arguments",
    args: (k) => ["aws", key(29), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "extra"],
    code: 2,
    err: "ERR_USAGE",
    message: /too many arguments: extra/,
  },
  {
    title: "-O and -S together",
    args: (k) => ["-O", "cards", "-S", "soft", "aws", key(30), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_USAGE",
    message: /-O\/--ocs.*-S\/--softcard/,
  },
  {
    title: "-a with a provider other than Azure",
    args: (k) => ["aws", key(31), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "-a", KID],
    code: 2,
    err: "ERR_USAGE",
    message: /--azure-kek applies only to microsoft-azure/,
  },
  // issue 18: the providers added in citool
  {
    title: "IBM Key Protect without --ibm-nonce",
    args: (k) => ["ibm-key-protect", key(70), k.pubPem[4096]!],
    code: 2,
    err: "ERR_USAGE",
    message: /ibm-key-protect needs --ibm-nonce/,
  },
  {
    title: "--ibm-nonce with a provider other than IBM Key Protect",
    args: (k) => ["aws", key(71), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--ibm-nonce", "DyWG4k0DdJpzNfTr"],
    code: 2,
    err: "ERR_USAGE",
    message: /--ibm-nonce applies only to ibm-key-protect/,
  },
  {
    title: "IBM Key Protect with a nonce that is not base64",
    args: (k) => ["ibm-key-protect", key(72), k.pubPem[4096]!, "--ibm-nonce", "not base64!"],
    code: 2,
    message: /nonce/,
  },
  {
    title: "OCI with an EC key (OCI imports AES and RSA keys only)",
    args: (k) => ["oci", key(73), k.pubPem[4096]!, "RSA_OAEP_AES_SHA256", "-k", "EC-NISTP256"],
    code: 2,
    err: "ERR_KEY_TYPE_UNSUPPORTED",
    message: /EC-NISTP256/,
  },
  {
    title: "Vault transit with SHA224 (transit takes it, ciop's engines do not)",
    args: (k) => ["vault-transit", key(74), k.pubPem[4096]!, "SHA224"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /SHA224/,
  },
  {
    title: "Vault transit under an RSA-2048 wrapping key (transit's is RSA-4096)",
    args: (k) => ["vault-transit", key(75), k.pubPem[2048]!],
    code: 2,
    err: "ERR_WRAPPING_KEY_SIZE",
    message: /4096/,
  },
  {
    title: "legacy PKCS#1 v1.5 for AWS without --allow-legacy",
    args: (k) => ["aws", key(32), k.spkiDer[4096]!, "RSAES_PKCS1_V1_5"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /RSAES_PKCS1_V1_5/,
  },
  {
    title: "output directory does not exist",
    args: (k) => ["aws", key(33), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--out-dir", "nope/deeper"],
    code: 2,
    err: "ERR_USAGE",
    message: /nope\/deeper does not exist/,
  },
  {
    title: "PKCS#11 library that does not exist",
    args: (k) => ["--hsm-lib", "/nonexistent/libpkcs11.so", "aws", key(34), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 1,
    err: "ERR_HSM_LIBRARY",
    message: /\/nonexistent\/libpkcs11\.so/,
    opts: { noHsmArgs: true },
  },
  {
    title: "key name with a path separator",
    args: (k) => ["aws", "../escape", k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_KEY_NAME_INVALID",
    message: /\.\.\/escape/,
  },
  {
    title: "option without its value",
    args: (k) => ["microsoft-azure", key(36), k.pubPem[4096]!, "-a", KID, "-k"],
    code: 2,
    err: "ERR_USAGE",
    message: /-k, --key-type.* needs a value/,
  },
  {
    title: "config file that is not TOML",
    args: (k, cwd) => ["--config", join(cwd, "bad.toml"), "aws", key(37), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_CONFIG_INVALID",
    message: /bad\.toml is not valid TOML/,
    setup: (cwd) => writeFileSync(join(cwd, "bad.toml"), "[hsm\nlibrary = "),
    keep: ["bad.toml"],
  },
  {
    title: "config file with an unknown key",
    args: (k, cwd) => ["--config", join(cwd, "c.toml"), "aws", key(38), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_CONFIG_INVALID",
    message: /unknown key hsm\.libary.*library/,
    setup: (cwd) => writeFileSync(join(cwd, "c.toml"), '[hsm]\nlibary = "/x.so"\n'),
    keep: ["c.toml"],
  },
  {
    title: "P-521 does not fit one OAEP block of RSA-2048 (AWS)",
    args: (k) => ["aws", key(39), k.spkiDer[2048]!, "RSAES_OAEP_SHA_256", "-k", "EC-NISTP521"],
    code: 2,
    message: /EC-NISTP521|2048/,
  },
  {
    title: "Compute Engine with a wrapping key of the wrong size",
    args: (k) => ["google-compute-engine", key(40), k.cert[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_WRAPPING_KEY_SIZE",
    message: /4096/,
  },
  {
    title: "-k names no type at all",
    args: (k) => ["google-cloud-key-management", key(41), k.pubPem[4096]!, "RSAES_OAEP_SHA_256", "-k", "rsa2048"],
    code: 2,
    err: "ERR_KEY_TYPE_UNSUPPORTED",
    message: /rsa2048/,
  },
  {
    title: "--audit-log in a place that cannot be written",
    args: (k) => ["aws", key(42), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--audit-log", "/proc/citool/audit.log"],
    code: 2,
    err: "ERR_CONFIG_INVALID",
    message: /audit log \/proc\/citool\/audit\.log/,
  },
  {
    title: "missing wrapAlg for google-cloud-key-management (required since 2.2.2)",
    args: (k) => ["google-cloud-key-management", key(46), k.pubPem[4096]!, "-k", "AES-256"],
    code: 2,
    err: "ERR_USAGE",
    message: /wrapping algorithm.*RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1/,
  },
  {
    title: "a wrapAlg given to microsoft-azure",
    args: (k) => ["microsoft-azure", key(47), k.pubPem[4096]!, "RSAES_OAEP_SHA_256", "-a", KID],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /RSAES_OAEP_SHA_256/,
  },
  {
    title: "wrapAlg in lower case",
    args: (k) => ["aws", key(48), k.spkiDer[4096]!, "rsaes_oaep_sha_256"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /"rsaes_oaep_sha_256".*Accepted: RSAES_OAEP_SHA_256/,
  },
  {
    title: "alibaba with a wrapping key that is not RSA-2048",
    args: (k) => ["alibaba", key(49), k.pubPem[3072]!, "RSAES_OAEP_SHA_256"],
    code: 2,
    err: "ERR_WRAPPING_KEY_SIZE",
    message: /3072/,
  },
  {
    title: "alibaba key-pair algorithm with an AES key",
    args: (k) => ["alibaba", key(50), k.pubPem[2048]!, "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", "-k", "AES-256"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /AES-256/,
  },
  {
    title: "aws: an RSA key cannot travel in one OAEP block",
    args: (k) => ["aws", key(51), k.spkiDer[4096]!, "RSAES_OAEP_SHA_256", "-k", "RSA-2048"],
    code: 2,
    err: "ERR_ALGORITHM_UNSUPPORTED",
    message: /RSA_AES_KEY_WRAP_SHA_256/,
  },
  {
    title: "Azure kid without its version",
    args: (k) => ["microsoft-azure", key(52), k.pubPem[4096]!, "-a", "https://citool-bad.vault.azure.net/keys/kek"],
    code: 2,
    err: "ERR_KID_INVALID",
    message: /keys\/kek"/,
  },
  {
    title: "--force over a directory of the output file's name",
    args: (k) => ["aws", key(53), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--force"],
    code: 2,
    err: "ERR_OUTPUT_EXISTS",
    message: /bad-53-wrapped exists and is not a regular file/,
    setup: (cwd) => mkdirSync(join(cwd, "bad-53-wrapped")),
    keep: ["bad-53-wrapped"],
  },
  {
    title: "salesforce: only the second file (-hash) exists",
    args: (k) => ["salesforce", key(54), k.cert[4096]!, "RSAES_OAEP_SHA_1"],
    code: 2,
    err: "ERR_OUTPUT_EXISTS",
    message: /bad-54-hash already exists/,
    setup: (cwd) => writeFileSync(join(cwd, "bad-54-hash"), "old hash"),
    keep: ["bad-54-hash"],
  },
  {
    title: "--audit-log names a directory",
    args: (k, cwd) => ["aws", key(55), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--audit-log", cwd],
    code: 2,
    err: "ERR_CONFIG_INVALID",
    message: /EISDIR/,
  },
  {
    title: "--pin-file that does not exist",
    args: (k) => ["aws", key(56), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--pin-file", "no-pin.txt"],
    code: 2,
    err: "ERR_USAGE",
    message: /PIN file .*no-pin\.txt cannot be read \(ENOENT\)/,
    opts: { env: { CIOP_PIN: undefined } },
  },
  {
    title: "no PIN at all and no terminal to ask on",
    args: (k) => ["aws", key(57), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1"],
    code: 1,
    err: "ERR_PIN_MISSING",
    message: /set CIOP_PIN, pass --pin-file/,
    opts: { env: { CIOP_PIN: undefined } },
  },
  {
    title: "--out-dir is a file",
    args: (k) => ["aws", key(58), k.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--out-dir", "afile"],
    code: 2,
    err: "ERR_USAGE",
    message: /afile is not a directory/,
    setup: (cwd) => writeFileSync(join(cwd, "afile"), "x"),
    keep: ["afile"],
  },
  {
    title: "an export option given to inspect",
    args: (k) => ["inspect", k.pubPem[4096]!, "--force"],
    code: 2,
    err: "ERR_USAGE",
    message: /option --force does not apply to citool inspect/,
    opts: { noHsmArgs: true },
  },
  {
    title: "a value option given twice",
    args: (k) => ["microsoft-azure", key(60), k.pubPem[4096]!, "-a", KID, "-k", "RSA-2048", "-k", "RSA-3072"],
    code: 2,
    err: "ERR_USAGE",
    message: /-k\/--key-type was given more than once/,
  },
  {
    title: "keys enable of a key that does not exist",
    args: () => ["keys", "enable", "bad-missing"],
    code: 1,
    err: "ERR_KEY_NOT_FOUND",
    message: /bad-missing/,
  },
  {
    title: "keys disable of a key ciop did not create",
    args: () => ["keys", "disable", "bad-notciop"],
    code: 2,
    err: "ERR_KEY_NOT_CIOP",
    message: /bad-notciop/,
  },
  {
    title: "Google import method for RSA-4096 with an RSA-3072 key",
    args: (k) => ["google-cloud-key-management", key(61), k.pubPem[3072]!, "RSA_OAEP_4096_SHA1_AES_256", "-k", "EC-NISTP256"],
    code: 2,
    err: "ERR_WRAPPING_KEY_SIZE",
    message: /RSA_OAEP_4096_SHA1_AES_256.*RSA-3072/,
  },
  { title: "keys delete without --yes and no terminal", args: () => ["keys", "delete", "bad-notciop"], code: 2, err: "ERR_USAGE", message: /--yes/ },
  {
    title: "keys delete of a key ciop did not create",
    args: () => ["keys", "delete", "bad-notciop", "--yes"],
    code: 2,
    err: "ERR_KEY_NOT_CIOP",
    message: /bad-notciop/,
  },
  { title: "keys show of a missing key", args: () => ["keys", "show", "bad-missing"], code: 1, err: "ERR_KEY_NOT_FOUND", message: /bad-missing/ },
  { title: "keys with an unknown subcommand", args: () => ["keys", "rotate", "x"], code: 2, err: "ERR_USAGE", message: /unknown subcommand 'keys rotate'/ },
];

// Concurrent (jest maxConcurrency): each case is one short citool process.
test.concurrent.each(cases.map((c, i) => [`${String(i + 1).padStart(2, "0")} ${c.title}`, c] as const))(
  "%s: refused with the right status and a one-line message; nothing written",
  async (_t, c) => {
    const cwd = tempDir("case");
    c.setup?.(cwd);
    const before = new Map((c.keep ?? []).filter((f) => statSync(join(cwd, f)).isFile()).map((f) => [f, readFileSync(join(cwd, f))]));
    const r = await runCli(c.args(keys, cwd), { cwd, ...(c.opts ?? {}) });
    const lines = r.stderr.trimEnd().split("\n");
    const last = lines[lines.length - 1]!;
    try {
      expect(r.code).toBe(c.code);
      expect(last).toMatch(/^citool: error: /);
      expect(last).toMatch(c.message);
      if (c.err) expect(last).toContain(`[${c.err}]`);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace without --debug
      expect(r.stdout).toBe("");
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout}`);
    }
    expect(listFiles(cwd)).toEqual([...(c.keep ?? [])].sort());
    for (const [f, bytes] of before) {
      if (statSync(join(cwd, f)).isFile()) expect(readFileSync(join(cwd, f))).toEqual(bytes);
    }
  },
);

test("--json turns an error into one JSON document on stdout as well", async () => {
  const cwd = tempDir("case-json");
  const r = await runCli(["amazon", "bad-json", keys.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--json"], { cwd });
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stdout)).toEqual({ error: { code: "ERR_PROVIDER_UNKNOWN", message: expect.stringContaining("amazon"), exitCode: 2 } });
});

test("--debug adds the stack trace", async () => {
  const cwd = tempDir("case-debug");
  const r = await runCli(["aws", "bad-debug", keys.garbage, "RSAES_OAEP_SHA_1", "--debug"], { cwd });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^\s+at /m);
});

test("an existing ciop key of another type is not reused, and not replaced", async () => {
  const cwd = tempDir("case-type");
  const ok = await runCli(["aws", "bad-typed", keys.spkiDer[4096]!, "RSAES_OAEP_SHA_1", "--json"], { cwd });
  expect(ok.code).toBe(0);
  const cwd2 = tempDir("case-type2");
  mkdirSync(cwd2, { recursive: true });
  const r = await runCli(["microsoft-azure", "bad-typed", keys.pubPem[4096]!, "-a", KID, "-k", "RSA-2048"], { cwd: cwd2 });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("[ERR_KEY_TYPE_MISMATCH]");
  expect(r.stderr).toMatch(/bad-typed/);
  expect(listFiles(cwd2)).toEqual([]);
  expect((await tokenLabels()).filter((l) => l === "bad-typed")).toHaveLength(1);
});

test("none of the refused runs created a key (citool keys list --all, and pkcs11-tool)", async () => {
  const cwd = tempDir("case-list");
  const r = await runCli(["keys", "list", "--all", "--json"], { cwd });
  expect(r.code).toBe(0);
  const names = (JSON.parse(r.stdout) as { keys: Array<{ name: string }> }).keys.map((k) => k.name);
  const labels = await tokenLabels();
  for (const n of usedNames) {
    expect(names).not.toContain(n);
    expect(labels).not.toContain(n);
  }
  expect(labels.filter((l) => l === "bad-notciop")).toHaveLength(1);
  expect(names).toContain("bad-notciop");
});
