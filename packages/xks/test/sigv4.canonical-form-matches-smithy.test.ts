import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { AuthenticationFailedException, verifyXksSignature, type XksKeyStore } from "../src/index.js";
import { AKID, SECRET } from "./helpers.js";

// The verifier builds the canonical request itself (and derives keys with smithy's getSigningKey).
// These cases pin that canonical form to what @smithy/signature-v4 signs, over the header shapes
// a client may send: extra signed headers, folded whitespace, repeated values, x-amz-* headers,
// mixed-case names in a hand-made header object, query strings, bodies of several sizes.

const store: XksKeyStore = { uriPrefix: "", credentials: [{ accessKeyId: AKID, secretAccessKey: SECRET }], keys: ["k1"] };
const signer = new SignatureV4({
  credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
  region: "eu-central-1",
  service: "kms-xks-proxy",
  sha256: Sha256,
  uriEscapePath: false,
  applyChecksum: false,
});

interface Case {
  name: string;
  headers: Record<string, string>;
  query?: Record<string, string | string[]>;
  rawQuery?: string;
  body: string;
}
const big = "x".repeat(20_000);
const cases: Case[] = [
  { name: "minimal", headers: { "content-type": "application/json" }, body: "{}" },
  { name: "folded whitespace and tabs inside a value", headers: { "content-type": "application/json", "x-custom": "  a   b\t\tc  " }, body: '{"a":1}' },
  { name: "a single non-breaking space inside a value", headers: { "x-custom": "a\u00a0b" }, body: "{}" },
  { name: "a form feed, a leading tab and a trailing space", headers: { "x-custom": "\ta\fb " }, body: "{}" },
  { name: "many x-amz headers", headers: { "x-amz-security-token": "tok en", "x-amz-user-agent": "aws-sdk/1 (linux)", "x-amz-target": "T" }, body: "{}" },
  { name: "signed x-amz-content-sha256", headers: { "x-amz-content-sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" }, body: "{}" },
  { name: "a value that is empty", headers: { "x-empty": "" }, body: "{}" },
  {
    name: "query string with repeated and escaped members",
    headers: {},
    query: { b: ["2", "1"], a: "x y", "c/d": "~" },
    rawQuery: "b=2&b=1&a=x%20y&c%2Fd=~",
    body: "{}",
  },
  { name: "a 20 kB body", headers: { "content-type": "application/json" }, body: big },
];

async function sign(c: Case, date: Date): Promise<Record<string, string>> {
  const req = new HttpRequest({
    method: "POST",
    protocol: "https:",
    hostname: "xks.example.com",
    port: 8443,
    path: "/kms/xks/v1/keys/k1/encrypt",
    query: c.query ?? {},
    headers: { host: "xks.example.com:8443", ...c.headers },
    body: c.body,
  });
  const signed = await signer.sign(req, { signingDate: date });
  return signed.headers as Record<string, string>;
}

describe("the verifier's canonical request equals what @smithy/signature-v4 signs", () => {
  const now = Date.now();
  it.each(cases)("accepts a smithy signature: $name", async (c) => {
    const headers = await sign(c, new Date(now));
    const v = await verifyXksSignature(
      { method: "POST", path: "/kms/xks/v1/keys/k1/encrypt", query: c.rawQuery ?? "", headers, body: Buffer.from(c.body) },
      store,
      { now },
    );
    expect(v.region).toBe("eu-central-1");
    expect(v.signedHeaders).toEqual(headers.authorization!.match(/SignedHeaders=([^,]+)/)![1]!.split(";"));
  });

  it.each(cases)("rejects the same request with one signed header value changed: $name", async (c) => {
    const headers = await sign(c, new Date(now));
    const changed = { ...headers, host: "xks.example.com:8444" };
    await expect(
      verifyXksSignature({ method: "POST", path: "/kms/xks/v1/keys/k1/encrypt", query: c.rawQuery ?? "", headers: changed, body: Buffer.from(c.body) }, store, {
        now,
      }),
    ).rejects.toBeInstanceOf(AuthenticationFailedException);
  });

  it("finds headers in a hand-made object whatever the case of their names", async () => {
    const headers = await sign(cases[1]!, new Date(now));
    const mixed: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) mixed[k.replace(/(^|-)([a-z])/g, (_m, d: string, ch: string) => d + ch.toUpperCase())] = v;
    expect(Object.keys(mixed)).toContain("X-Amz-Date");
    await expect(
      verifyXksSignature({ method: "POST", path: "/kms/xks/v1/keys/k1/encrypt", headers: mixed, body: Buffer.from(cases[1]!.body) }, store, { now }),
    ).resolves.toBeDefined();
  });

  it("keeps accepting after the day's signing key is cached, and for the next day's key", async () => {
    const day = 24 * 3600_000;
    for (const t of [now, now, now + day, now]) {
      const headers = await sign(cases[0]!, new Date(t));
      await expect(
        verifyXksSignature({ method: "POST", path: "/kms/xks/v1/keys/k1/encrypt", headers, body: Buffer.from("{}") }, store, { now: t }),
      ).resolves.toBeDefined();
    }
  });

  it("refuses an x-amz-date that is not a real calendar time", async () => {
    const headers = await sign(cases[0]!, new Date(now));
    const bad = { ...headers, "x-amz-date": headers["x-amz-date"]!.replace(/^(\d{4})\d{2}/, "$113") };
    await expect(
      verifyXksSignature({ method: "POST", path: "/kms/xks/v1/keys/k1/encrypt", headers: bad, body: Buffer.from("{}") }, store, { now }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/YYYYMMDD/) });
  });
});
