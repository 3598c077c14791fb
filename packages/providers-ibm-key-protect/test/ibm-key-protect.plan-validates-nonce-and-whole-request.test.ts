/**
 * Issue 18 (IBM Key Protect import tokens): plan() validates the whole request before any key
 * exists: the import token's nonce (provider option `nonce`: required, canonical standard base64,
 * 8-64 bytes, bounded work on any input), no other provider option, Key Protect's one algorithm
 * (RSAES_OAEP_SHA_1 refused with a pointer to Hyper Protect Crypto Services), AES-128/192/256 root
 * keys only, the import token's RSA-4096 public key, and Key Protect's 2-90 character key names.
 * Before this package there was no `ibm-key-protect` provider to plan with.
 */
import type { ExportRequest, WrappingKey } from "@ciop/wrap";
import { ibmKeyProtect, IBM_KP_KEY_TYPES, parseIbmNonce, type IbmKeyProtectExportOptions } from "@ciop/providers-ibm-key-protect";
import { certificatePair, ecWrappingKey, opensslRsa, planFailure, rsaWrappingKeys, scratchDir } from "@ciop/testkit";

const NONCE = "8zJE9pKVdXVe/nLb";
let wk: Record<number, WrappingKey>;
let ecKey: WrappingKey;
let expiredCert: WrappingKey;

beforeAll(() => {
  const dir = scratchDir("ibm-plan");
  wk = rsaWrappingKeys(dir, [2048, 3072, 4096]);
  ecKey = ecWrappingKey(dir);
  expiredCert = certificatePair(opensslRsa(dir, 4096)).expired;
});

/** A request; `over` may hold anything a caller could pass (bad options included), as plan() must cope with it. */
function req(over: Partial<ExportRequest>): ExportRequest<IbmKeyProtectExportOptions> {
  return {
    provider: "ibm-key-protect",
    keyName: "plan-k",
    wrappingKey: wk[4096]!,
    providerOptions: { nonce: NONCE },
    ...over,
  } as ExportRequest<IbmKeyProtectExportOptions>;
}

describe("ibmKeyProtect.plan accepts", () => {
  test("the defaults: RSAES_OAEP_SHA_256 and AES-256, the nonce kept as given", () => {
    const plan = ibmKeyProtect.plan(req({}));
    expect(plan).toMatchObject({ provider: "ibm-key-protect", keyName: "plan-k", keyType: "AES-256", algorithm: "RSAES_OAEP_SHA_256", warnings: [] });
    expect(plan.extra).toEqual({ nonce: NONCE });
    expect(ibmKeyProtect.names).toEqual(["ibm-key-protect"]);
    expect(ibmKeyProtect.algorithms).toEqual(["RSAES_OAEP_SHA_256"]);
    expect(ibmKeyProtect.wrappingKeyBits).toEqual([4096]);
    expect(ibmKeyProtect.outputFiles(plan)).toEqual(["plan-k-payload", "plan-k-encryptedNonce", "plan-k-iv", "plan-k-create-key.json"]);
  });

  test("AES-128, AES-192 and AES-256 with the algorithm named; nonces of 8 and 64 bytes", () => {
    for (const keyType of IBM_KP_KEY_TYPES) expect(ibmKeyProtect.plan(req({ keyType, algorithm: "RSAES_OAEP_SHA_256" })).keyType).toBe(keyType);
    for (const n of [8, 64]) {
      const nonce = Buffer.alloc(n, 7).toString("base64");
      expect(ibmKeyProtect.plan(req({ providerOptions: { nonce } })).extra.nonce).toBe(nonce);
    }
  });

  test("an expired certificate only with allowInvalidCertificate, with a warning", () => {
    expect(planFailure(() => ibmKeyProtect.plan(req({ wrappingKey: expiredCert }))).code).toBe("ERR_CERTIFICATE_NOT_VALID");
    expect(ibmKeyProtect.plan(req({ wrappingKey: expiredCert, allowInvalidCertificate: true })).warnings.join(" ")).toMatch(/expired/);
  });
});

describe("ibmKeyProtect.plan refuses", () => {
  test("a missing nonce, naming where it comes from (ERR_USAGE)", () => {
    for (const providerOptions of [undefined, {}, { nonce: "" }]) {
      const r = planFailure(() => ibmKeyProtect.plan(req({ providerOptions })));
      expect(r).toMatchObject({ code: "ERR_USAGE" });
      expect(r.message).toMatch(/import_token/);
    }
  });

  test("a nonce that is not canonical standard base64 or not 8-64 bytes, without echoing it (ERR_USAGE)", () => {
    const bad: unknown[] = [
      12345,
      ["8zJE9pKVdXVe/nLb"],
      "8zJE9pKVdXVe_nLb", // base64url alphabet
      "8zJE9pKVdXVe/nL", // wrong length
      " 8zJE9pKVdXVe/nLb", // whitespace
      "8zJE9pKVdXVe/nLb\n",
      "8zJE9pKVdXVe/nLc=", // not a multiple of 4
      "AAAAAAAAAAAAAAB=", // 11 bytes, non-canonical: the last character carries bits decoding drops
      Buffer.alloc(7).toString("base64"), // 7 bytes
      Buffer.alloc(65).toString("base64"), // 65 bytes
      "A".repeat(1_000_000), // bounded work: refused on its length alone
    ];
    for (const nonce of bad) {
      const r = planFailure(() => ibmKeyProtect.plan(req({ providerOptions: { nonce } })));
      expect({ nonce: String(nonce).slice(0, 20), code: r.code }).toEqual({ nonce: String(nonce).slice(0, 20), code: "ERR_USAGE" });
      if (typeof nonce === "string" && nonce.length > 3) expect(r.message).not.toContain(nonce.trim());
    }
    // bounded work: the million-character nonce is refused by the length check, before any decoding
    // (review: without that check it was still refused, later, so the code alone proved nothing)
    expect(planFailure(() => ibmKeyProtect.plan(req({ providerOptions: { nonce: "A".repeat(1_000_000) } }))).message).toMatch(/1000000 characters long/);
    expect(() => parseIbmNonce("8zJE9pKVdXVe/nLb")).not.toThrow();
  });

  test("any other provider option (ERR_USAGE), naming it", () => {
    const r = planFailure(() => ibmKeyProtect.plan(req({ providerOptions: { nonce: NONCE, iv: "puQrzDX7gU1TcTTx" } })));
    expect(r.code).toBe("ERR_USAGE");
    expect(r.message).toMatch(/"iv".*Accepted: nonce/);
    expect(planFailure(() => ibmKeyProtect.plan(req({ providerOptions: "nonce" as never }))).code).toBe("ERR_USAGE");
  });

  test("RSAES_OAEP_SHA_1 pointing at Hyper Protect Crypto Services, and other algorithms (ERR_ALGORITHM_UNSUPPORTED)", () => {
    const r = planFailure(() => ibmKeyProtect.plan(req({ algorithm: "RSAES_OAEP_SHA_1" })));
    expect(r.code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    expect(r.message).toMatch(/Hyper Protect Crypto Services/);
    for (const algorithm of ["rsaes_oaep_sha_256", "RSA_AES_KEY_WRAP_SHA_256", "RSAES_PKCS1_V1_5"]) {
      expect(planFailure(() => ibmKeyProtect.plan(req({ algorithm, allowLegacy: true }))).code).toBe("ERR_ALGORITHM_UNSUPPORTED");
    }
  });

  test("key types other than AES root keys (ERR_KEY_TYPE_UNSUPPORTED)", () => {
    for (const keyType of ["HMAC-256", "RSA-2048", "EC-NISTP256", "aes-256", "AES-512"]) {
      const r = planFailure(() => ibmKeyProtect.plan(req({ keyType })));
      expect({ keyType, code: r.code }).toEqual({ keyType, code: "ERR_KEY_TYPE_UNSUPPORTED" });
    }
  });

  test("wrapping keys other than RSA-4096: EC (ERR_WRAPPING_KEY_INVALID), RSA-2048/3072 (ERR_WRAPPING_KEY_SIZE), even with allowWeakWrappingKey", () => {
    expect(planFailure(() => ibmKeyProtect.plan(req({ wrappingKey: ecKey }))).code).toBe("ERR_WRAPPING_KEY_INVALID");
    for (const bits of [2048, 3072]) {
      const r = planFailure(() => ibmKeyProtect.plan(req({ wrappingKey: wk[bits]!, allowWeakWrappingKey: true })));
      expect(r.code).toBe("ERR_WRAPPING_KEY_SIZE");
      expect(r.message).toMatch(/4096/);
    }
  });

  test("key names outside Key Protect's 2-90 characters or unsafe as file names (ERR_KEY_NAME_INVALID); other providers", () => {
    for (const keyName of ["k", "k".repeat(91), "", "../x", "a/b", ".hidden"]) {
      expect(planFailure(() => ibmKeyProtect.plan(req({ keyName }))).code).toBe("ERR_KEY_NAME_INVALID");
    }
    expect(ibmKeyProtect.plan(req({ keyName: "k".repeat(90) })).keyName).toHaveLength(90);
    expect(planFailure(() => ibmKeyProtect.plan(req({ provider: "aws" }))).code).toBe("ERR_PROVIDER_UNKNOWN");
  });
});
