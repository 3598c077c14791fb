/**
 * Issue 18 (IBM Key Protect import tokens): the engine step aesGcmUnderTarget encrypts a plaintext
 * (the import token's nonce) with AES-GCM under the target AES key itself. On both engines,
 * python3-cryptography must decrypt the result with the target key (learned independently: raw
 * bytes for the software engine, an RSA-OAEP wrap undone by python for the HSM engine), the IV and
 * the AAD to exactly the plaintext. On SoftHSM the step runs in the token (C_EncryptInit with the
 * target's handle, no host-fallback event); on a token without AES-GCM (the fault module fails
 * every C_EncryptInit, so the probe finds no GCM) it goes through the host-fallback path: done on
 * a software token and recorded, refused on a hardware token unless host fallbacks are allowed.
 * Before this step existed the engines had no way to encrypt under the target key
 * (`engine.aesGcmUnderTarget is not a function`).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Hsm, type KeyType } from "@ciop/hsm";
import {
  createHsmEngine,
  createSoftwareEngine,
  hsmKey,
  parseWrappingKey,
  softwareKey,
  type TargetKey,
  type WrapEngine,
  type WrappingKey,
} from "../src/index.js";
import { FaultControl, faultEnv, faultModuleCopy } from "../../../tools/pkcs11-fault/fault.cjs";
import { codeOf } from "./support/code-of.js";

const PY = `
import json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
out = []
for c in json.load(sys.stdin):
    if "wrapped" in c:
        priv = serialization.load_pem_private_key(open(c["priv"], "rb").read(), None)
        key = priv.decrypt(bytes.fromhex(c["wrapped"]), padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    else:
        key = bytes.fromhex(c["key"])
    try:
        aad = bytes.fromhex(c["aad"]) if c["aad"] else None
        out.append(AESGCM(key).decrypt(bytes.fromhex(c["iv"]), bytes.fromhex(c["ct"]), aad).hex())
    except Exception as e:
        out.append("error:" + type(e).__name__)
json.dump(out, sys.stdout)
`;

interface Case {
  key?: string;
  wrapped?: string;
  priv?: string;
  iv: string;
  ct: string;
  aad: string;
}

function pythonOpen(cases: Case[]): string[] {
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", PY], { input: JSON.stringify(cases), encoding: "utf8" })) as string[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const AES: KeyType[] = ["AES-128", "AES-192", "AES-256"];
const NONCE = Uint8Array.from(Buffer.from("8zJE9pKVdXVe/nLb", "base64")); // the 12-byte nonce of IBM's example
const AAD = Uint8Array.from(Buffer.from("ciop aad"));

let dir: string;
let privPath: string;
let wrapping: WrappingKey;

beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "gcm-under-target-"));
  privPath = path.join(dir, "rsa.pem");
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privPath], { stdio: "ignore" });
  wrapping = parseWrappingKey(new Uint8Array(execFileSync("openssl", ["pkey", "-in", privPath, "-pubout", "-outform", "DER"])));
});

/** Checks the shape of a result and returns the python cases for it (with and without the AAD). */
function shapeAndCases(
  r: Awaited<ReturnType<WrapEngine["aesGcmUnderTarget"]>>,
  plaintext: Uint8Array,
  keyOf: Omit<Case, "iv" | "ct" | "aad">,
  aad: Uint8Array | undefined,
): Case[] {
  expect({ iv: r.iv.length, tag: r.tag.length, ct: r.ciphertext.length }).toEqual({ iv: 12, tag: 16, ct: plaintext.length });
  expect(hex(r.bytes)).toBe(hex(r.ciphertext) + hex(r.tag));
  const c: Case = { ...keyOf, iv: hex(r.iv), ct: hex(r.bytes), aad: aad ? hex(aad) : "" };
  // With an AAD, opening without it must fail (the AAD was really bound); without one, opening with one must fail.
  return [c, { ...c, aad: aad ? "" : hex(AAD) }];
}

describe("software engine", () => {
  const engine = createSoftwareEngine();

  test("AES-128/192/256: python opens ciphertext ‖ tag with the raw key and the IV, with and without AAD", async () => {
    const cases: Case[] = [];
    const want: string[] = [];
    for (const type of AES) {
      const raw = randomBytes(Number(type.slice(4)) / 8);
      const target = softwareKey(`sw-${type}`, type, raw);
      for (const aad of [undefined, AAD]) {
        const r = await engine.aesGcmUnderTarget(target, NONCE, aad);
        expect({ hostFallback: r.hostFallback, steps: r.steps }).toEqual({ hostFallback: false, steps: ["AES-GCM"] });
        cases.push(...shapeAndCases(r, NONCE, { key: raw.toString("hex") }, aad));
        want.push(hex(NONCE), "error:InvalidTag");
      }
    }
    expect(pythonOpen(cases)).toEqual(want);
  });

  test("two encryptions of the same plaintext use different IVs", async () => {
    const target = softwareKey("sw-iv", "AES-256", randomBytes(32));
    const a = await engine.aesGcmUnderTarget(target, NONCE);
    const b = await engine.aesGcmUnderTarget(target, NONCE);
    expect(hex(a.iv)).not.toBe(hex(b.iv));
  });

  test("refuses a non-AES target (ERR_KEY_TYPE_UNSUPPORTED), an empty plaintext (ERR_USAGE) and another engine's key (ERR_USAGE)", async () => {
    const hmac = softwareKey("sw-hmac", "HMAC-256", randomBytes(32));
    const aes = softwareKey("sw-aes", "AES-256", randomBytes(32));
    expect(await codeOf(engine.aesGcmUnderTarget(hmac, NONCE))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    expect(await codeOf(engine.aesGcmUnderTarget(aes, new Uint8Array(0)))).toBe("ERR_USAGE");
    const foreign: TargetKey = { engine: "hsm", type: "AES-256", kind: "secret", name: "not-mine" };
    expect(await codeOf(engine.aesGcmUnderTarget(foreign, NONCE))).toBe("ERR_USAGE");
  });
});

describe("HSM engine on SoftHSM2", () => {
  let hsm: Hsm;
  let engine: WrapEngine;
  const made: string[] = [];
  const key = async (type: KeyType): Promise<TargetKey> => {
    const name = `gcm-under-${process.pid}-${type}-${made.length}`;
    made.push(name);
    return hsmKey(await hsm.generateKey(name, type));
  };
  beforeAll(async () => {
    hsm = await Hsm.open({ library: process.env.CIOP_TEST_LIB!, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! } });
    engine = createHsmEngine(hsm);
  });
  afterAll(async () => {
    for (const name of made) hsm.deleteKey(name);
    await hsm.close();
  });

  test("AES-128/192/256 in the token (C_EncryptInit with the target, no host-fallback event); python opens it with the key it unwraps", async () => {
    expect(hsm.capabilities().aesGcm).toBe(true);
    const cases: Case[] = [];
    const want: string[] = [];
    for (const type of AES) {
      const target = await key(type);
      // The key as python learns it: RSA-OAEP SHA-1 C_WrapKey in the token, undone with the test's private key.
      const wrapped = await engine.rsaOaep(wrapping, target, "sha1");
      expect(wrapped.hostFallback).toBe(false);
      for (const aad of [undefined, AAD]) {
        const before = hsm.hostFallbackCount;
        const r = await engine.aesGcmUnderTarget(target, NONCE, aad);
        expect({ hostFallback: r.hostFallback, steps: r.steps, events: hsm.hostFallbackCount - before }).toEqual({
          hostFallback: false,
          steps: ["CKM_AES_GCM"],
          events: 0,
        });
        cases.push(...shapeAndCases(r, NONCE, { wrapped: hex(wrapped.bytes), priv: privPath }, aad));
        want.push(hex(NONCE), "error:InvalidTag");
      }
    }
    expect(pythonOpen(cases)).toEqual(want);
  });

  test("refuses a non-AES target, an empty plaintext and a software key, without a host step", async () => {
    const hmac = await key("HMAC-256");
    const aes = await key("AES-256");
    const before = hsm.hostFallbackCount;
    expect(await codeOf(engine.aesGcmUnderTarget(hmac, NONCE))).toBe("ERR_KEY_TYPE_UNSUPPORTED");
    expect(await codeOf(engine.aesGcmUnderTarget(aes, new Uint8Array(0)))).toBe("ERR_USAGE");
    expect(await codeOf(engine.aesGcmUnderTarget(softwareKey("sw", "AES-256", randomBytes(32)), NONCE))).toBe("ERR_USAGE");
    expect(hsm.hostFallbackCount).toBe(before);
  });
});

describe("HSM engine on a token without AES-GCM (fault module: every C_EncryptInit fails)", () => {
  let faultDir: string;
  let library: string;
  const opened: Hsm[] = [];
  const open = async (over: { assumeHardwareToken?: boolean; allowHostFallback?: boolean }): Promise<Hsm> => {
    const hsm = await Hsm.open({ library, token: process.env.CIOP_TEST_TOKEN_LABEL!, pin: { value: process.env.CIOP_TEST_PIN! }, ...over });
    opened.push(hsm);
    return hsm;
  };
  beforeAll(() => {
    faultDir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "gcm-under-target-fault-"));
    const control = new FaultControl(path.join(faultDir, "faults"));
    control.clear();
    library = faultModuleCopy(faultDir, faultEnv({ realModule: process.env.CIOP_TEST_LIB!, rules: "C_EncryptInit fail CKR_MECHANISM_INVALID" }));
  });
  afterAll(async () => {
    for (const h of opened) await h.close();
  });

  test("software token: done on the host, reported and recorded as a host fallback naming AES-GCM; python opens it", async () => {
    const hsm = await open({});
    expect(hsm.capabilities().aesGcm).toBe(false);
    const engine = createHsmEngine(hsm);
    const name = `gcm-under-fault-${process.pid}`;
    const target = hsmKey(await hsm.generateKey(name, "AES-256"));
    try {
      const wrapped = await engine.rsaOaep(wrapping, target, "sha1");
      const before = hsm.hostFallbackCount;
      const r = await engine.aesGcmUnderTarget(target, NONCE, AAD);
      expect({ hostFallback: r.hostFallback, steps: r.steps, events: hsm.hostFallbackCount - before }).toEqual({
        hostFallback: true,
        steps: ["exportKeyToHost", "host:AES-GCM"],
        events: 1,
      });
      expect(hsm.hostFallbacks.at(-1)).toMatchObject({ key: name, material: "target-key" });
      expect(hsm.hostFallbacks.at(-1)!.reason).toMatch(/AES-GCM/);
      expect(pythonOpen(shapeAndCases(r, NONCE, { wrapped: hex(wrapped.bytes), priv: privPath }, AAD))).toEqual([hex(NONCE), "error:InvalidTag"]);
    } finally {
      hsm.deleteKey(name);
    }
  });

  test("hardware token: refused (ERR_HOST_FALLBACK_REFUSED) with nothing recorded; allowed when host fallbacks are allowed", async () => {
    const hard = await open({ assumeHardwareToken: true });
    const name = `gcm-under-hard-${process.pid}`;
    const target = hsmKey(await hard.generateKey(name, "AES-256"));
    try {
      expect(await codeOf(createHsmEngine(hard).aesGcmUnderTarget(target, NONCE))).toBe("ERR_HOST_FALLBACK_REFUSED");
      expect(hard.hostFallbackCount).toBe(0);
      const allowed = await open({ assumeHardwareToken: true, allowHostFallback: true });
      const again = hsmKey(allowed.findKey(name)!);
      const r = await createHsmEngine(allowed).aesGcmUnderTarget(again, NONCE);
      expect({ hostFallback: r.hostFallback, events: allowed.hostFallbackCount }).toEqual({ hostFallback: true, events: 1 });
    } finally {
      hard.deleteKey(name);
    }
  });
});
