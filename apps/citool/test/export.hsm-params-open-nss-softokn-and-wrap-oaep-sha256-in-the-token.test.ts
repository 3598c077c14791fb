/**
 * Issue 16, "Three tokens in CI" (NSS softokn): citool's `--hsm-params` reaches C_Initialize, so an
 * export runs on NSS softokn's persistent token, and AWS's RSAES_OAEP_SHA_256 (a host fallback on
 * SoftHSM 2.6) wraps inside the token: the audit record says hostFallback false, and
 * python3-cryptography opens the artefact with the test's private key. Before --hsm-params the
 * option was refused as unknown and NSS failed C_Initialize with CKR_ARGUMENTS_BAD.
 * Skipped, with the reason printed, when the jest set-up found no NSS softokn.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../src/run.js";
import { makeWrappingKeys, memIo, pyVerify, tempDir, type WrappingKeys } from "./helpers.js";

const lib = process.env.CIOP_TEST_NSS_LIB;
if (!lib) console.log(`NSS softokn tests skipped: ${process.env.CIOP_TEST_NSS_SKIP ?? "CIOP_TEST_NSS_LIB is not set"}`);
const d = lib ? describe : describe.skip;

d("citool on NSS softokn", () => {
  let keys: WrappingKeys;
  let cwd: string;
  beforeAll(async () => {
    cwd = tempDir("nss-export");
    keys = await makeWrappingKeys(join(cwd, "wk"), [2048]);
    process.env.CIOP_PIN = process.env.CIOP_TEST_NSS_PIN; // the HSM library reads the named PIN variable from the process
  }, 120_000);
  afterAll(() => {
    delete process.env.CIOP_PIN;
  });

  test("aws RSAES_OAEP_SHA_256 with --hsm-params: wrapped in the token, opened by python", async () => {
    const log = join(cwd, "audit.log");
    const name = `nss-${process.pid}`;
    const mem = memIo(cwd);
    const io = { ...mem, env: { ...mem.env, CIOP_PIN: process.env.CIOP_TEST_NSS_PIN } };
    const argv = [
      "--hsm-lib",
      lib!,
      "--hsm-params",
      process.env.CIOP_TEST_NSS_PARAMS!,
      "--token",
      process.env.CIOP_TEST_NSS_TOKEN!,
      "aws",
      name,
      keys.spkiDer[2048]!,
      "RSAES_OAEP_SHA_256",
      "--out-dir",
      cwd,
      "--audit-log",
      log,
    ];
    expect(await run(argv, io)).toBe(0);
    const records = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const exp = records.find((r) => r.operation === "export");
    expect(exp).toMatchObject({ outcome: "ok", hostFallback: false });
    const v = await pyVerify({ file: join(cwd, `${name}-wrapped`), decode: "binary", scheme: "oaep-sha256", priv: keys.priv[2048]! });
    expect(v).toMatchObject({ len: 32, pkcs8: false }); // OAEP-SHA-256 padding checked by python: a 32-byte AES key
  });
});
