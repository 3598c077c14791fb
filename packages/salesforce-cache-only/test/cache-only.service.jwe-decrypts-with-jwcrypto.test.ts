/**
 * The package-level cache-only key service against the jest run's token under test, checked by tools
 * nobody here wrote: certificates from the openssl CLI, JWE decryption with python3-jwcrypto, the CEK
 * with python3-cryptography, and a known-answer AES-GCM block comparing the recovered DEK with the HSM.
 * Issue 16: runs on every token (SoftHSM2; NSS softokn and SoftHSM2 through p11-kit's RPC in the
 * token runs). Before, on NSS softokn every test failed (the token was opened without its library
 * parameters); on p11-kit-rpc the tests that make a JWE failed with C_WrapKey CKR_MECHANISM_INVALID
 * (that RPC carries no AES key wrap, so the DEK cannot reach the JWE): now skipped there, with the
 * probe's reason printed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Hsm } from "@ciop/hsm";
import { cacheOnlySetup, checkCacheOnlyCertificate, nextRotationKid } from "@ciop/providers-salesforce";
import { CacheOnlyKeyService, readRegistry } from "@ciop/salesforce-cache-only";
import { decryptCacheOnlyJwe, noHostHandOff, openTestHsm, pythonAesGcm } from "@ciop/testkit";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tokenCapabilities } = require("../../../tools/jest/token-probe.cjs") as { tokenCapabilities(): Parameters<typeof noHostHandOff>[0] };

/**
 * `test` for a test that makes a JWE (the DEK leaves the HSM wrapped, for the host's JWE step), or
 * `test.skip` with the reason printed once when the probe finds no AES key wrap on the token.
 */
const noHandOff = noHostHandOff(tokenCapabilities());
if (noHandOff) process.stderr.write(`skipped: cache-only tests that make a JWE on ${process.env.CIOP_TEST_TOKEN_KIND}: ${noHandOff}\n`);
const testJwe = noHandOff ? test.skip : test;

function opensslCert(dir: string, name: string, bits: number): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", `rsa:${bits}`, "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/CN=${name}`], {
    stdio: "ignore",
  });
  return { cert, key };
}

let dir: string;
let sf: { cert: string; key: string };
let small: { cert: string; key: string };
let hsm: Hsm;
let svc: CacheOnlyKeyService;
let registryPath: string;
let auditPath: string;
const p = `co${process.pid}`;

beforeAll(async () => {
  dir = mkdtempSync(join(process.env.CIOP_TEST_DIR ?? tmpdir(), "sf-cache-only-"));
  sf = opensslCert(dir, "sf-byok", 4096);
  small = opensslCert(dir, "small", 2048);
  // the token under test, with its library parameters when it needs them (NSS softokn, issue 16)
  hsm = await openTestHsm();
  registryPath = join(dir, "salesforce-keys.json");
  auditPath = join(dir, "audit.log");
  svc = new CacheOnlyKeyService({ hsm, registryPath, auditLog: auditPath, tool: "test" });
});

afterAll(async () => {
  await hsm?.close();
});

describe("cache-only key service", () => {
  testJwe("JWE decrypts with jwcrypto to the 32-byte DEK; exact header; fresh CEK and IV; DEK known-answer in the HSM", async () => {
    const kid = `${p}-main`;
    await svc.createKey(kid, { certificate: readFileSync(sf.cert) });
    const key = hsm.findKey(kid)!;
    const info = hsm.keyInfo(key);
    expect(info).toMatchObject({ type: "AES-256", sensitive: true, enabled: true });

    const a = await svc.produce(kid);
    const b = await svc.produce(kid, { jti: "e5ab58fd2ced013f2a46d5c8144dd439" });
    const [da, db] = await decryptCacheOnlyJwe(sf.key, [a.body, b.body]);
    for (const d of [da!, db!]) {
      expect(d.respKeys).toEqual(["jwe", "kid"]);
      expect(d.kid).toBe(kid);
      expect(d.segments).toBe(5);
      expect(d.padded).toBe(false);
      expect(d.dek).toHaveLength(64);
      expect(d.cek).toHaveLength(64);
      expect(d.iv).toHaveLength(24);
    }
    expect(Object.keys(da!.header).sort()).toEqual(["alg", "enc", "kid"]);
    expect(da!.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid });
    expect(db!.header).toEqual({ alg: "RSA-OAEP", enc: "A256GCM", kid, jti: "e5ab58fd2ced013f2a46d5c8144dd439" });
    expect(da!.dek).toBe(db!.dek);
    expect(da!.cek).not.toBe(db!.cek);
    expect(da!.iv).not.toBe(db!.iv);

    // Known answer: the recovered DEK (python AES-GCM) and the HSM key encrypt a block identically.
    const iv = randomBytes(12);
    const block = randomBytes(32);
    const python = await pythonAesGcm(da!.dek, iv.toString("hex"), block.toString("hex"));
    expect(hsm.encryptAesGcm(key, iv, block).toString("hex")).toBe(python);
  });

  testJwe("the registry binds kid, HSM key id and certificate; the audit log has the operations but no secret", async () => {
    const kid = `${p}-audit`;
    const created = await svc.createKey(kid, { certificate: readFileSync(sf.cert, "utf8") });
    const res = await svc.produce(kid);
    const [d] = await decryptCacheOnlyJwe(sf.key, [res.body]);
    const reg = readRegistry(registryPath);
    expect(reg.keys[kid]).toMatchObject({ kid, hsmLabel: kid, hsmId: hsm.findKey(kid)!.id, state: "enabled" });
    expect(reg.keys[kid]!.certificate!.sha256).toBe(checkCacheOnlyCertificate(readFileSync(sf.cert)).facts.sha256);
    expect(reg.keys[kid]!.certificate!.pem).toContain("BEGIN CERTIFICATE");
    expect(created.certificate!.subject).toContain("sf-byok");
    const log = readFileSync(auditPath, "utf8");
    const records = log
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.some((r) => r.operation === "cache-only-create" && r.key === kid && r.outcome === "ok")).toBe(true);
    // SoftHSM cannot C_WrapKey with AES-GCM: the JWE is made through the host fallback, which is recorded.
    expect(hsm.capabilities().aesGcmKeyWrap || res.hostFallback).toBe(true);
    if (res.hostFallback) {
      expect(records.some((r) => r.operation === "cache-only-jwe" && r.key === kid && r.hostFallback === true)).toBe(true);
    }
    const dek = Buffer.from(d!.dek, "hex");
    const text = readFileSync(auditPath, "utf8") + readFileSync(registryPath, "utf8");
    for (const form of [dek.toString("hex"), dek.toString("base64"), dek.toString("base64url"), d!.cek]) {
      expect(text.toLowerCase()).not.toContain(form.toLowerCase());
    }
  });

  testJwe("disabled key is refused (ERR_KEY_DISABLED) in the registry and in the HSM; enabling serves it again", async () => {
    const kid = `${p}-dis`;
    await svc.createKey(kid, { certificate: readFileSync(sf.cert) });
    await svc.setEnabled(kid, false);
    expect(hsm.keyInfo(hsm.findKey(kid)!).enabled).toBe(false);
    await expect(svc.produce(kid)).rejects.toMatchObject({ code: "ERR_KEY_DISABLED" });
    expect(svc.listKeys().find((k) => k.kid === kid)).toMatchObject({ state: "disabled", servable: false, hsmEnabled: false });
    await svc.setEnabled(kid, true);
    expect(hsm.keyInfo(hsm.findKey(kid)!).enabled).toBe(true);
    await expect(svc.produce(kid)).resolves.toMatchObject({ kid });
    expect(svc.listKeys().find((k) => k.kid === kid)).toMatchObject({ state: "enabled", servable: true, inHsm: true });
  });

  test("unknown and malformed key identifiers are refused", async () => {
    await expect(svc.produce(`${p}-nope`)).rejects.toMatchObject({ code: "ERR_KEY_NOT_FOUND" });
    for (const bad of ["", "a/b", "a b", "ü", "..", "x".repeat(256), "a%2Fb", "__proto__"]) {
      await expect(svc.produce(bad)).rejects.toMatchObject({ code: "ERR_KID_INVALID" });
      await expect(svc.createKey(bad, { certificate: readFileSync(sf.cert) })).rejects.toMatchObject({ code: "ERR_KID_INVALID" });
    }
    await expect(svc.setEnabled(`${p}-nope`, false)).rejects.toMatchObject({ code: "ERR_KEY_NOT_FOUND" });
  });

  testJwe("certificate checks happen before any key is made: 2048-bit, bare public key, expired", async () => {
    const kid = `${p}-badcert`;
    await expect(svc.createKey(kid, { certificate: readFileSync(small.cert) })).rejects.toMatchObject({ code: "ERR_WRAPPING_KEY_SIZE" });
    const pub = execFileSync("openssl", ["pkey", "-in", sf.key, "-pubout"]);
    await expect(svc.createKey(kid, { certificate: pub })).rejects.toMatchObject({ code: "ERR_WRAPPING_KEY_INVALID" });
    await expect(svc.createKey(kid, { certificate: readFileSync(sf.key) })).rejects.toMatchObject({ code: "ERR_WRAPPING_KEY_INVALID" });
    const later = new CacheOnlyKeyService({ hsm, registryPath, now: () => new Date(Date.now() + 90 * 86400_000) });
    await expect(later.createKey(kid, { certificate: readFileSync(sf.cert) })).rejects.toMatchObject({ code: "ERR_CERTIFICATE_NOT_VALID" });
    expect(hsm.findKey(kid)).toBeUndefined();
    expect(readRegistry(registryPath).keys[kid]).toBeUndefined();
    // A served key whose certificate has expired meanwhile is refused too.
    await svc.createKey(kid, { certificate: readFileSync(sf.cert) });
    await expect(later.produce(kid)).rejects.toMatchObject({ code: "ERR_CERTIFICATE_NOT_VALID" });
    // Creating the same kid twice is refused, and the first key stays.
    await expect(svc.createKey(kid, { certificate: readFileSync(sf.cert) })).rejects.toMatchObject({ code: "ERR_KEY_EXISTS" });
    await expect(svc.produce(kid)).resolves.toMatchObject({ kid });
  });

  testJwe("rotate makes a new kid and DEK; the old one stays servable until disabled", async () => {
    const kid = `${p}-rot`;
    await svc.createKey(kid, { certificate: readFileSync(sf.cert) });
    const next = await svc.rotateKey(kid);
    expect(next.kid).toBe(`${kid}.v2`);
    expect(nextRotationKid(next.kid)).toBe(`${kid}.v3`);
    expect(next.rotatedFrom).toBe(kid);
    expect(readRegistry(registryPath).keys[kid]!.rotatedTo).toBe(next.kid);
    const [o, n] = await decryptCacheOnlyJwe(sf.key, [(await svc.produce(kid)).body, (await svc.produce(next.kid)).body]);
    expect(o!.kid).toBe(kid);
    expect(n!.kid).toBe(next.kid);
    expect(o!.dek).not.toBe(n!.dek);
    await svc.setEnabled(kid, false);
    await expect(svc.produce(kid)).rejects.toMatchObject({ code: "ERR_KEY_DISABLED" });
    await expect(svc.produce(next.kid)).resolves.toMatchObject({ kid: next.kid });
    await expect(svc.rotateKey(`${p}-absent`)).rejects.toMatchObject({ code: "ERR_KEY_NOT_FOUND" });
  });

  testJwe("a configured default certificate serves keys created without a bound one", async () => {
    const kid = `${p}-dflt`;
    const withDefault = new CacheOnlyKeyService({ hsm, registryPath, defaultCertificate: sf.cert });
    await withDefault.createKey(kid);
    await expect(svc.produce(kid)).rejects.toMatchObject({ code: "ERR_WRAPPING_KEY_INVALID" });
    const [d] = await decryptCacheOnlyJwe(sf.key, [(await withDefault.produce(kid)).body]);
    expect(d!.kid).toBe(kid);
    expect(withDefault.listKeys().find((k) => k.kid === kid)!.certificate).toMatchObject({ source: "configured" });
    expect(() => new CacheOnlyKeyService({ hsm, registryPath, defaultCertificate: small.cert })).toThrow(
      expect.objectContaining({ code: "ERR_WRAPPING_KEY_SIZE" }),
    );
  });

  test("on a hardware token without allow_host_fallback the JWE is refused rather than made in host memory", async () => {
    const kid = `${p}-hw`;
    await svc.createKey(kid, { certificate: readFileSync(sf.cert) });
    const hw = await Hsm.open({
      library: process.env.CIOP_TEST_LIB!,
      ...(process.env.CIOP_TEST_LIB_PARAMS ? { libraryParameters: process.env.CIOP_TEST_LIB_PARAMS } : {}),
      token: process.env.CIOP_TEST_TOKEN_LABEL!,
      pin: { value: process.env.CIOP_TEST_PIN! },
      assumeHardwareToken: true,
    });
    try {
      const strict = new CacheOnlyKeyService({ hsm: hw, registryPath });
      if (hw.capabilities().aesGcmKeyWrap) {
        await expect(strict.produce(kid)).resolves.toMatchObject({ hostFallback: false });
      } else {
        await expect(strict.produce(kid)).rejects.toMatchObject({ code: "ERR_HOST_FALLBACK_REFUSED" });
      }
    } finally {
      await hw.close();
    }
  });

  test("setup values: named credential URL, key identifier, callout URL", () => {
    expect(cacheOnlySetup("https://byok.example.com:8443/", "/salesforce/keys", "k-1")).toEqual({
      namedCredentialUrl: "https://byok.example.com:8443/salesforce/keys",
      keyIdentifier: "k-1",
      calloutUrl: "https://byok.example.com:8443/salesforce/keys/k-1",
    });
    expect(() => cacheOnlySetup("http://byok.example.com", "/k", "k-1")).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
  });
});
