/**
 * Issue 16, "SoftHSM2 out of process, through p11-kit's RPC": the jest SoftHSM token served by
 * `p11-kit server` on a private socket and reached through p11-kit-client.so, as a network HSM's
 * client library would be. Proves what works through the RPC (open, login, token lookup, key
 * generation in the same token, RSA-OAEP SHA-1 wrap opened by python3-cryptography, the capability
 * probe) and records, with the CKR each gives, which mechanisms the RPC does not carry.
 * Debian 12's p11-kit 0.24.1 drops every mechanism whose parameters its RPC cannot serialise from the
 * client's mechanism list (AES-GCM, AES-CBC, AES key wrap among them) and answers
 * CKR_MECHANISM_INVALID for them; a later p11-kit that carries AES-GCM gets the round trip checked
 * instead. Skipped, with the reason printed, when p11-kit is not installed.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";
import pkcs11js from "pkcs11js";
import { type Hsm, HsmError, type HsmKey, oaepMechanism } from "../src/index.js";
import { hex, openTestHsm, python, uniqueName } from "./helpers.js";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpcTool = require("../../../tools/p11-kit-rpc/start.cjs") as {
  findP11Kit(): string | null;
  p11KitVersion(): string | undefined;
  startP11KitServer(o: { module: string; token: string; dir: string; env?: Record<string, string> }): Promise<{
    address: string;
    clientLibrary: string;
    stop(): Promise<void>;
  }>;
};

const P = pkcs11js;
const missing = rpcTool.findP11Kit();
if (missing) console.warn(`skipped: SoftHSM through p11-kit's RPC: ${missing}`);
const d = missing ? describe.skip : describe;

const PY_OAEP_THEN_GCM = `import sys, json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
a = json.load(sys.stdin)
priv = serialization.load_pem_private_key(a["pem"].encode(), None)
k = priv.decrypt(bytes.fromhex(a["wrapped"]), padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
print(json.dumps({"len": len(k), "pt": AESGCM(k).decrypt(bytes.fromhex(a["iv"]), bytes.fromhex(a["sealed"]), None).hex()}))`;

let server: Awaited<ReturnType<typeof rpcTool.startP11KitServer>>;
let rpc: Hsm; // through p11-kit-client.so
let local: Hsm; // the same token, SoftHSM in this process
let key: HsmKey;

d("SoftHSM2 through p11-kit's RPC", () => {
  beforeAll(async () => {
    server = await rpcTool.startP11KitServer({
      module: process.env.CIOP_TEST_LIB!,
      token: process.env.CIOP_TEST_TOKEN_LABEL!,
      dir: mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "p11kit-")),
      env: { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! },
    });
    // p11-kit-client.so reads P11_KIT_SERVER_ADDRESS with getenv(). Jest gives a test a copy of
    // process.env, so set it on the real process object (the main context's).
    (vm.runInThisContext("process") as NodeJS.Process).env.P11_KIT_SERVER_ADDRESS = server.address;
    rpc = await openTestHsm({ library: server.clientLibrary, sessionPoolSize: 4 });
    local = await openTestHsm();
    key = await rpc.generateKey(uniqueName("rpc-aes"), "AES-256");
  });
  afterAll(async () => {
    await rpc?.close();
    await local?.close();
    await server?.stop();
  });

  test("open and login go through the client module and find the test token", () => {
    expect(rpc.token.libraryPath).toBe(server.clientLibrary);
    expect(rpc.token.libraryDescription).toMatch(/p11-kit|kit proxy/i);
    expect(rpc.token.label).toBe(process.env.CIOP_TEST_TOKEN_LABEL);
    expect(rpc.token.serial).toBe(local.token.serial);
    // The token still says "SoftHSM project" through the RPC, so it is classified as a software
    // token and host fallbacks stay automatic (what the issue wants changed for hardware profiles).
    expect(rpc.token.manufacturer).toBe("SoftHSM project");
    expect(rpc.token.isSoftware).toBe(true);
  });

  test("a key generated through the RPC is a token key of the same SoftHSM token", async () => {
    expect(rpc.keyInfo(key)).toMatchObject({ type: "AES-256", createdByCiop: true, sensitive: true, extractable: true });
    const seen = await local.findKey(key.name);
    expect(seen?.type).toBe("AES-256");
  });

  test("RSA-OAEP SHA-1 wrap through the RPC: python3-cryptography unwraps the key the token encrypts with", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pub = rpc.importPublicKey(publicKey.export({ type: "spki", format: "der" }));
    const wrapped = rpc.wrapRsaOaep(pub, key, "sha1");
    rpc.releasePublicKey(pub);
    expect(wrapped.hostFallback).toBe(false);
    expect(wrapped.bytes).toHaveLength(256);
    // Seal with the same key in this process's SoftHSM (AES-GCM does not cross the RPC on 0.24).
    const localKey = (await local.findKey(key.name))!;
    const iv = randomBytes(12);
    const pt = randomBytes(24);
    const sealed = local.encryptAesGcm(localKey, iv, pt);
    const out = python<{ len: number; pt: string }>(PY_OAEP_THEN_GCM, {
      pem: privateKey.export({ type: "pkcs8", format: "pem" }),
      wrapped: hex(wrapped.bytes),
      iv: hex(iv),
      sealed: hex(sealed),
    });
    expect(out).toEqual({ len: 32, pt: hex(pt) });
  });

  test("AES-GCM sync and async: a round trip when the RPC lists CKM_AES_GCM, else CKR_MECHANISM_INVALID from both", async () => {
    const iv = randomBytes(12);
    const pt = randomBytes(32);
    const aad = randomBytes(16);
    if (rpc.capabilities().aesGcm) {
      const sealed = rpc.encryptAesGcm(key, iv, pt, aad);
      expect(Buffer.from(await rpc.decryptAesGcmAsync(key, iv, sealed, aad))).toEqual(pt);
      const sealed2 = await rpc.encryptAesGcmAsync(key, iv, pt, aad);
      expect(Buffer.from(rpc.decryptAesGcm(key, iv, sealed2, aad))).toEqual(pt);
      return;
    }
    expect(rpc.capabilities().mechanisms).not.toContain(P.CKM_AES_GCM);
    const syncErr = (() => {
      try {
        rpc.encryptAesGcm(key, iv, pt, aad);
      } catch (err) {
        return err;
      }
    })();
    expect(syncErr).toBeInstanceOf(HsmError);
    expect((syncErr as HsmError).ckr).toBe("CKR_MECHANISM_INVALID");
    const asyncErr = await rpc.encryptAesGcmAsync(key, iv, pt, aad).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(asyncErr).toBeInstanceOf(HsmError);
    expect((asyncErr as HsmError).ckr).toBe("CKR_MECHANISM_INVALID");
  });

  test("capability probe through the RPC: what the token does out of process, against in process", () => {
    const r = rpc.capabilities();
    const l = local.capabilities();
    const dropped = l.mechanisms.filter((m) => !r.mechanisms.includes(m));
    const rows = (Object.keys(l) as (keyof typeof l)[])
      .filter((k) => k !== "mechanisms")
      .map((k) => `  ${k}: in process ${JSON.stringify(l[k])}, through RPC ${JSON.stringify(r[k])}`);
    console.log(
      `p11-kit ${rpcTool.p11KitVersion() ?? "?"}: ${r.mechanisms.length} of ${l.mechanisms.length} mechanisms listed through the RPC; ` +
        `dropped: ${dropped.map((m) => `0x${m.toString(16)}`).join(" ")}\n${rows.join("\n")}`,
    );
    // What crosses the RPC on any p11-kit: parameterless and OAEP mechanisms.
    expect(r.rsaPkcs1).toBe(true);
    expect(r.rsaOaepHashes).toEqual(l.rsaOaepHashes);
    expect(r.digestKey).toEqual(l.digestKey);
    expect(r.hmacHashes).toEqual(l.hmacHashes);
    expect(r.asyncCalls).toBe(true);
    // The probe reports what the RPC carries, never what the token behind it lists.
    expect(r.aesGcm).toBe(r.mechanisms.includes(P.CKM_AES_GCM));
    expect(r.aesKeyWrapPadMechanism === null).toBe(!r.mechanisms.includes(0x210a) && !r.mechanisms.includes(0x210b));
    expect(r.mechanisms.every((m) => l.mechanisms.includes(m))).toBe(true);
  });

  test("each mechanism the probe knows, tried on a raw client session: it works or fails with the CKR recorded here", () => {
    const p = new P.PKCS11();
    p.load(server.clientLibrary);
    try {
      p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
    } catch {
      /* already initialised by the Hsm in this process: never finalised here, the Hsm owns it */
    }
    let s: Buffer | undefined;
    try {
      const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === process.env.CIOP_TEST_TOKEN_LABEL)!;
      const listed = p.C_GetMechanismList(slot);
      const session = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      s = session;
      const kv = randomBytes(32);
      const secret = (usage: pkcs11js.Template) =>
        p.C_CreateObject(session, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: false },
          { type: P.CKA_SENSITIVE, value: false },
          { type: P.CKA_EXTRACTABLE, value: true },
          { type: P.CKA_VALUE, value: kv },
          ...usage,
        ]);
      const kek = secret([
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_ENCRYPT, value: true },
      ]);
      const target = secret([]);
      const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }) as { n: string; e: string };
      const pub = p.C_CreateObject(session, [
        { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_MODULUS, value: Buffer.from(jwk.n, "base64url") },
        { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e, "base64url") },
        { type: P.CKA_WRAP, value: true },
      ]);
      const iv = randomBytes(12);
      const gcm = { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_AES_GCM, iv, tagBits: 128 } };
      const gcm240 = { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_AES_GCM_v240, iv, ivBits: 96, tagBits: 128 } };
      const enc = (m: pkcs11js.Mechanism, n: number) => () => {
        p.C_EncryptInit(session, m, kek);
        return p.C_Encrypt(session, Buffer.alloc(16), Buffer.alloc(n));
      };
      const wrap = (m: pkcs11js.Mechanism, w: Buffer, n: number) => () => p.C_WrapKey(session, m, w, target, Buffer.alloc(n));
      const tries: Array<[string, number, () => unknown]> = [
        ["AES-GCM encrypt, CK_GCM_PARAMS", P.CKM_AES_GCM, enc(gcm, 32)],
        ["AES-GCM encrypt, v2.40 params with ivBits", P.CKM_AES_GCM, enc(gcm240, 32)],
        ["AES-GCM C_WrapKey", P.CKM_AES_GCM, wrap(gcm, kek, 64)],
        ["AES-CBC-PAD encrypt (IV parameter)", P.CKM_AES_CBC_PAD, enc({ mechanism: P.CKM_AES_CBC_PAD, parameter: randomBytes(16) }, 48)],
        ["AES-ECB encrypt", P.CKM_AES_ECB, enc({ mechanism: P.CKM_AES_ECB }, 16)],
        ["AES key wrap RFC 3394 (0x2109)", 0x2109, wrap({ mechanism: 0x2109 }, kek, 64)],
        ["AES key wrap pad (0x210A, RFC 5649 in SoftHSM)", 0x210a, wrap({ mechanism: 0x210a }, kek, 64)],
        ["AES key wrap KWP (0x210B)", 0x210b, wrap({ mechanism: 0x210b }, kek, 64)],
        ["RSA PKCS#1 v1.5 wrap", P.CKM_RSA_PKCS, wrap({ mechanism: P.CKM_RSA_PKCS }, pub, 256)],
        ["RSA-OAEP SHA-1 wrap", P.CKM_RSA_PKCS_OAEP, wrap(oaepMechanism("sha1"), pub, 256)],
        ["RSA-AES key wrap (0x1054)", 0x1054, wrap({ mechanism: 0x1054 }, pub, 512)],
      ];
      const results = tries.map(([name, mech, f]) => {
        try {
          f();
          return { name, mech, listed: listed.includes(mech), result: "ok" };
        } catch (err) {
          return { name, mech, listed: listed.includes(mech), result: /CKR_\w+/.exec(String((err as Error).message))?.[0] ?? String(err) };
        }
      });
      console.log(
        `mechanisms through p11-kit ${rpcTool.p11KitVersion() ?? "?"} RPC:\n${results.map((x) => `  ${x.result === "ok" ? "works  " : "refused"} ${x.name}${x.result === "ok" ? "" : `: ${x.result}`}${x.listed ? "" : " (not listed)"}`).join("\n")}`,
      );
      const byName = Object.fromEntries(results.map((x) => [x.name, x]));
      expect(byName["RSA-OAEP SHA-1 wrap"]!.result).toBe("ok");
      expect(byName["RSA PKCS#1 v1.5 wrap"]!.result).toBe("ok");
      expect(byName["AES-ECB encrypt"]!.result).toBe("ok");
      // A mechanism the client does not list is refused as an invalid mechanism, never run wrongly.
      for (const x of results.filter((r) => !r.listed)) expect(x.result).toBe("CKR_MECHANISM_INVALID");
      kv.fill(0);
    } finally {
      if (s) p.C_CloseSession(s); // destroys its session objects
    }
  });

  test("a hardware-flagged open through the RPC refuses a host fallback and names why", async () => {
    const hw = await openTestHsm({ library: server.clientLibrary, assumeHardwareToken: true });
    try {
      expect(hw.token.isSoftware).toBe(false);
      const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const pub = hw.importPublicKey(publicKey.export({ type: "spki", format: "der" }));
      const hwKey = (await hw.findKey(key.name))!;
      let err: unknown;
      try {
        hw.wrapRsaAes(pub, hwKey, "sha1");
      } catch (e) {
        err = e;
      }
      console.log(`wrapRsaAes through the RPC, hardware-flagged: ${(err as Error)?.message}`);
      if (hw.capabilities().aesKeyWrapPadMechanism === null) {
        expect((err as { code?: string }).code).toBe("ERR_HOST_FALLBACK_REFUSED");
        expect(hw.hostFallbackCount).toBe(0);
      }
      hw.releasePublicKey(pub);
    } finally {
      await hw.close();
    }
  });
});
