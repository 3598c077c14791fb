/**
 * runExport's ordering guarantee on a real SoftHSM2 token treated as a hardware token: every
 * refusal (unreadable wrapping key, provider plan) happens before a key is created, and an export
 * that fails after creating the key (the token refuses a host-side step) discards that key again.
 */
import { CiopError } from "@ciop/core";
import { Hsm } from "@ciop/hsm";
import {
  checkWrappingStrength,
  hsmKeySource,
  runExport,
  softwareKeySource,
  type ExportPlan,
  type ExportRequest,
  type KeySource,
  type ProviderModule,
} from "../src/index.js";
import { makeWrappingKeyPair, rsaOaepDecrypt, sha256Openssl, type WrappingKeyPair } from "./support/openssl.js";
import { codeOf } from "./support/code-of.js";

/** A minimal provider: AES-256 under RSA-OAEP, SHA-1 or SHA-256. */
const demo: ProviderModule = {
  names: ["demo"],
  algorithms: ["OAEP_SHA1", "OAEP_SHA256"],
  keyTypes: ["AES-256"],
  defaultKeyType: "AES-256",
  wrappingKeyBits: [2048, 3072],
  plan(request: ExportRequest): ExportPlan {
    if (request.algorithm !== "OAEP_SHA1" && request.algorithm !== "OAEP_SHA256") {
      throw new CiopError("ERR_ALGORITHM_UNSUPPORTED", `demo does not take ${String(request.algorithm)}`);
    }
    if ((request.keyType ?? "AES-256") !== "AES-256") throw new CiopError("ERR_KEY_TYPE_UNSUPPORTED", "demo imports AES-256 only");
    const warnings = checkWrappingStrength({ wrappingKey: request.wrappingKey, targetType: "AES-256", providerMaxBits: 3072 });
    return {
      provider: "demo",
      keyName: request.keyName,
      keyType: "AES-256",
      algorithm: request.algorithm,
      wrappingKey: request.wrappingKey,
      warnings,
      extra: {},
    };
  },
  outputFiles: (plan) => [`${plan.keyName}-wrapped`],
  async export(plan, engine, target) {
    const out = await engine.rsaOaep(plan.wrappingKey, target, plan.algorithm === "OAEP_SHA1" ? "sha1" : "sha256");
    return {
      plan,
      artefacts: [{ fileName: `${plan.keyName}-wrapped`, bytes: out.bytes, encoding: "binary", usage: "test" }],
      hostFallback: out.hostFallback,
      steps: out.steps,
    };
  },
};

let hsm: Hsm;
let hardware: KeySource;
let kp: WrappingKeyPair;
const name = (s: string) => `runexp-${process.pid}-${s}`;

beforeAll(async () => {
  kp = makeWrappingKeyPair(2048);
  hsm = await Hsm.open({
    library: process.env.CIOP_TEST_LIB!,
    token: process.env.CIOP_TEST_TOKEN_LABEL!,
    pin: { value: process.env.CIOP_TEST_PIN! },
    assumeHardwareToken: true,
  });
  hardware = hsmKeySource(hsm);
});
afterAll(async () => {
  await hsm?.close();
});

test("a refused plan or an unreadable wrapping key creates no key", async () => {
  const cases: Array<[string, Parameters<typeof runExport>[1], string]> = [
    ["bad-alg", { provider: "demo", keyName: name("bad-alg"), wrappingKey: kp.spkiDer, algorithm: "PKCS1" }, "ERR_ALGORITHM_UNSUPPORTED"],
    [
      "bad-type",
      { provider: "demo", keyName: name("bad-type"), wrappingKey: kp.spkiDer, algorithm: "OAEP_SHA1", keyType: "RSA-2048" },
      "ERR_KEY_TYPE_UNSUPPORTED",
    ],
    ["garbage", { provider: "demo", keyName: name("garbage"), wrappingKey: new Uint8Array([1, 2, 3, 4]), algorithm: "OAEP_SHA1" }, "ERR_WRAPPING_KEY_INVALID"],
    [
      "pem-text",
      { provider: "demo", keyName: name("pem-text"), wrappingKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", algorithm: "OAEP_SHA1" },
      "ERR_WRAPPING_KEY_INVALID",
    ],
  ];
  for (const [label, request, code] of cases) {
    expect({ label, code: await codeOf(runExport(demo, request, hardware)), exists: hsm.findKey(request.keyName) !== undefined }).toEqual({
      label,
      code,
      exists: false,
    });
  }
});

test("an export the hardware token refuses (OAEP SHA-256 needs the key on the host) discards the key it created", async () => {
  const keyName = name("refused-fallback");
  const code = await codeOf(runExport(demo, { provider: "demo", keyName, wrappingKey: kp.publicPem, algorithm: "OAEP_SHA256" }, hardware));
  expect(code).toBe("ERR_HOST_FALLBACK_REFUSED");
  expect(hsm.findKey(keyName)).toBeUndefined();
  expect(hsm.listKeys().some((k) => k.name === keyName)).toBe(false);
});

test("an export the token can do inside creates the key once, reuses it, and never discards an existing key", async () => {
  const keyName = name("in-token");
  const first = await runExport(demo, { provider: "demo", keyName, wrappingKey: kp.certPem, algorithm: "OAEP_SHA1" }, hardware);
  expect({ created: first.created, hostFallback: first.hostFallback }).toEqual({ created: true, hostFallback: false });
  const again = await runExport(demo, { provider: "demo", keyName, wrappingKey: kp.spkiDer, algorithm: "OAEP_SHA1" }, hardware);
  expect(again.created).toBe(false);
  const a = rsaOaepDecrypt(first.artefacts[0]!.bytes, kp.privatePemPath, "sha1");
  const b = rsaOaepDecrypt(again.artefacts[0]!.bytes, kp.privatePemPath, "sha1");
  expect(a.equals(b)).toBe(true);
  expect(sha256Openssl(a).equals(Buffer.from(hsm.digestKey(hsm.findKey(keyName)!, "sha256")))).toBe(true);
  // The existing key is kept when a later export of it fails.
  expect(await codeOf(runExport(demo, { provider: "demo", keyName, wrappingKey: kp.spkiDer, algorithm: "OAEP_SHA256" }, hardware))).toBe(
    "ERR_HOST_FALLBACK_REFUSED",
  );
  expect(hsm.findKey(keyName)).toBeDefined();
});

test("the software key source follows the same order", async () => {
  const source = softwareKeySource();
  expect(await codeOf(runExport(demo, { provider: "demo", keyName: "sw-1", wrappingKey: kp.spkiDer, algorithm: "X" }, source))).toBe(
    "ERR_ALGORITHM_UNSUPPORTED",
  );
  expect(source.keys.size).toBe(0);
  const r = await runExport(demo, { provider: "demo", keyName: "sw-1", wrappingKey: kp.spkiDer, algorithm: "OAEP_SHA256" }, source);
  expect({ created: r.created, hostFallback: r.hostFallback, keys: source.keys.size }).toEqual({ created: true, hostFallback: false, keys: 1 });
  expect(await codeOf(source.getOrCreate("sw-1", "AES-128"))).toBe("ERR_KEY_TYPE_MISMATCH");
});
