/**
 * citool inspect: facts about a wrapping key checked against openssl's own view, and the list of
 * providers/algorithms/key types derived from each provider's checks.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertBuilt, makeWrappingKeys, runCli, tempDir, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;
let cwd: string;

beforeAll(async () => {
  assertBuilt();
  cwd = tempDir("inspect");
  keys = await makeWrappingKeys(join(cwd, "wk"), [2048, 4096]);
}, 120_000);

interface Doc {
  wrappingKey: {
    type: string;
    bits: number;
    sha256: string;
    strength: number;
    certificate?: { subject: string; issuer: string; validNow: boolean; notAfter: string };
  };
  providers: Array<{ provider: string; serves: Array<{ algorithm: string | null; keyTypes: string[] }>; refused?: string }>;
}

async function inspect(file: string, ...extra: string[]): Promise<Doc> {
  const r = await runCli(["inspect", file, "--json", ...extra], { cwd, noHsmArgs: true });
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Doc;
}

test("an RSA-4096 certificate: size, strength, fingerprint = openssl's SPKI sha256, subject and validity", async () => {
  const d = await inspect(keys.cert[4096]!);
  const spki = execFileSync("openssl", ["x509", "-in", keys.cert[4096]!, "-noout", "-pubkey"]);
  const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: spki });
  expect(d.wrappingKey).toMatchObject({ type: "RSA", bits: 4096, strength: 152, sha256: createHash("sha256").update(der).digest("hex") });
  expect(d.wrappingKey.certificate?.subject).toContain("citool test 4096");
  expect(d.wrappingKey.certificate?.validNow).toBe(true);
  const names = d.providers.map((p) => p.provider);
  expect(names).toEqual(expect.arrayContaining(["aws", "google-compute-engine", "google-cloud-key-management", "microsoft-azure", "salesforce"]));
  const azure = d.providers.find((p) => p.provider === "microsoft-azure")!;
  expect(azure.serves[0]!.keyTypes).toEqual(expect.arrayContaining(["RSA-2048", "RSA-4096", "EC-NISTP521", "EC-SECP256K1"]));
  // Compute Engine only takes Google's RSA-2048 certificate
  expect(d.providers.find((p) => p.provider === "google-compute-engine")!.serves).toEqual([]);
});

test("an RSA-2048 key cannot protect strong targets: P-384 is not offered for Azure unless weak keys are allowed", async () => {
  const d = await inspect(keys.pubPem[2048]!);
  expect(d.wrappingKey).toMatchObject({ type: "RSA", bits: 2048, strength: 112 });
  const azure = d.providers.find((p) => p.provider === "microsoft-azure")!;
  const types = azure.serves.flatMap((s) => s.keyTypes);
  expect(types).toContain("RSA-2048");
  expect(types).not.toContain("EC-NISTP384");
  const gce = d.providers.find((p) => p.provider === "google-compute-engine")!;
  expect(gce.serves.map((s) => s.algorithm)).toContain("RSAES_OAEP_SHA_1");
  const d2 = await inspect(keys.pubPem[2048]!, "--allow-weak-wrapping-key");
  expect(d2.providers.find((p) => p.provider === "microsoft-azure")!.serves.flatMap((s) => s.keyTypes)).toContain("EC-NISTP384");
});

test("an expired certificate is described, flagged, and serves nothing without --allow-invalid-certificate", async () => {
  const d = await inspect(keys.expiredCert);
  expect(d.wrappingKey.certificate?.validNow).toBe(false);
  expect(d.providers.every((p) => p.serves.length === 0)).toBe(true);
  const text = await runCli(["inspect", keys.expiredCert], { cwd, noHsmArgs: true });
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/NOT valid now/);
  expect(text.stderr).toMatch(/allow-invalid-certificate/);
});

test("inspect of a garbage file: exit 2, one line", async () => {
  const r = await runCli(["inspect", keys.garbage], { cwd, noHsmArgs: true });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain("[ERR_WRAPPING_KEY_INVALID]");
  expect(readFileSync(keys.garbage).length).toBeGreaterThan(0);
});
