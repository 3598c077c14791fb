import { execFile } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { AuthenticationFailedException, verifyXksSignature, type XksKeyStore } from "../src/index.js";
import { AKID, AKID2, SECRET, SECRET2, clientSign } from "./helpers.js";

const run = promisify(execFile);

const store: XksKeyStore = {
  uriPrefix: "/tenant",
  credentials: [
    { accessKeyId: AKID, secretAccessKey: SECRET },
    { accessKeyId: AKID2, secretAccessKey: SECRET2 },
  ],
  regions: ["us-east-1", "eu-west-1"],
  keys: ["k1"],
};
const PATH = "/tenant/kms/xks/v1/keys/k1/encrypt";
const BODY = JSON.stringify({ requestMetadata: { kmsRequestId: "r", kmsOperation: "Encrypt" }, plaintext: "AAAA" });
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

async function expect401(p: Promise<unknown>, why: RegExp): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(AuthenticationFailedException);
  await expect(p).rejects.toMatchObject({ httpStatus: 401, errorName: "AuthenticationFailedException", message: expect.stringMatching(why) });
}

describe("SigV4 verification against the smithy signer (as a client signs)", () => {
  it("accepts a correctly signed request in every allowed region and with the second credential", async () => {
    for (const region of ["us-east-1", "eu-west-1"]) {
      const headers = await clientSign({ path: PATH, body: BODY, region });
      const v = await verifyXksSignature({ method: "POST", path: PATH, headers, body: bytes(BODY) }, store);
      expect(v).toMatchObject({ accessKeyId: AKID, region, signedHeaders: ["content-type", "host", "x-amz-date"] });
    }
    const h2 = await clientSign({ path: PATH, body: BODY, akid: AKID2, secret: SECRET2 });
    await expect(verifyXksSignature({ method: "POST", path: PATH, headers: h2, body: bytes(BODY) }, store)).resolves.toMatchObject({ accessKeyId: AKID2 });
  });

  it("accepts any region when the store lists none", async () => {
    const headers = await clientSign({ path: PATH, body: BODY, region: "ap-south-2" });
    await expect(verifyXksSignature({ method: "POST", path: PATH, headers, body: bytes(BODY) }, { credentials: store.credentials })).resolves.toMatchObject({
      region: "ap-south-2",
    });
  });

  it("accepts the pure-JS Sha256 as the verifier hash too (same result as node:crypto)", async () => {
    const { Sha256 } = await import("@aws-crypto/sha256-js");
    const headers = await clientSign({ path: PATH, body: BODY });
    await expect(verifyXksSignature({ method: "POST", path: PATH, headers, body: bytes(BODY) }, store, { sha256: Sha256 })).resolves.toBeDefined();
  });

  it("rejects a wrong secret, an unknown access key id and a wrong region", async () => {
    const wrongSecret = await clientSign({ path: PATH, body: BODY, secret: SECRET2 });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: wrongSecret, body: bytes(BODY) }, store), /does not match/);
    const unknownId = await clientSign({ path: PATH, body: BODY, akid: "CCCCCCCCCCCCCCCCCCCCCCCC" });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: unknownId, body: bytes(BODY) }, store), /access key id/);
    const wrongRegion = await clientSign({ path: PATH, body: BODY, region: "us-west-2" });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: wrongRegion, body: bytes(BODY) }, store), /region/);
    const wrongService = await clientSign({ path: PATH, body: BODY, service: "kms" });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: wrongService, body: bytes(BODY) }, store), /service/);
  });

  it("enforces the ±5 minute clock skew", async () => {
    const t = Date.now();
    const old = await clientSign({ path: PATH, body: BODY, date: new Date(t - 6 * 60_000) });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: old, body: bytes(BODY) }, store, { now: t }), /skew/);
    const future = await clientSign({ path: PATH, body: BODY, date: new Date(t + 6 * 60_000) });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: future, body: bytes(BODY) }, store, { now: t }), /skew/);
    const edge = await clientSign({ path: PATH, body: BODY, date: new Date(t - 4 * 60_000) });
    await expect(verifyXksSignature({ method: "POST", path: PATH, headers: edge, body: bytes(BODY) }, store, { now: t })).resolves.toBeDefined();
  });

  it("rejects a tampered body, path, host or method", async () => {
    const headers = await clientSign({ path: PATH, body: BODY });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers, body: bytes(BODY.replace("AAAA", "AAAB")) }, store), /does not match/);
    await expect401(verifyXksSignature({ method: "POST", path: PATH.replace("k1", "k2"), headers, body: bytes(BODY) }, store), /does not match/);
    await expect401(
      verifyXksSignature({ method: "POST", path: PATH, headers: { ...headers, host: "xks.example.com:8443" }, body: bytes(BODY) }, store),
      /does not match/,
    );
    await expect401(verifyXksSignature({ method: "PUT", path: PATH, headers, body: bytes(BODY) }, store), /does not match/);
  });

  it("signs the raw path: a `//` path verifies as sent and fails when normalised", async () => {
    const raw = "//kms/xks/v1/health";
    const headers = await clientSign({ path: raw, body: BODY });
    await expect(verifyXksSignature({ method: "POST", path: raw, headers, body: bytes(BODY) }, store)).resolves.toBeDefined();
    await expect401(verifyXksSignature({ method: "POST", path: "/kms/xks/v1/health", headers, body: bytes(BODY) }, store), /does not match/);
  });

  it("requires host and x-amz-date to be signed and rejects malformed headers", async () => {
    const headers = await clientSign({ path: PATH, body: BODY });
    const withoutHost = { ...headers, authorization: headers.authorization!.replace("content-type;host;x-amz-date", "content-type;x-amz-date") };
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: withoutHost, body: bytes(BODY) }, store), /host/);
    const { authorization: _a, ...noAuth } = headers;
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: noAuth, body: bytes(BODY) }, store), /missing/);
    await expect401(
      verifyXksSignature({ method: "POST", path: PATH, headers: { ...headers, authorization: "Basic Zm9vOmJhcg==" }, body: bytes(BODY) }, store),
      /AWS4-HMAC-SHA256/,
    );
    const { "x-amz-date": _d, ...noDate } = headers;
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: noDate, body: bytes(BODY) }, store), /x-amz-date/);
    const badSig = { ...headers, authorization: headers.authorization!.replace(/Signature=[0-9a-f]+/, `Signature=${"0".repeat(64)}`) };
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers: badSig, body: bytes(BODY) }, store), /does not match/);
  });

  it("honours a signed x-amz-content-sha256 only when it is the body's real hash", async () => {
    const fake = "0".repeat(64);
    const headers = await clientSign({ path: PATH, body: BODY, extraHeaders: { "x-amz-content-sha256": fake } });
    await expect401(verifyXksSignature({ method: "POST", path: PATH, headers, body: bytes(BODY) }, store), /x-amz-content-sha256/);
  });
});

describe("SigV4 verification of requests signed by curl --aws-sigv4", () => {
  let server: Server;
  let port: number;
  let captured: { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer } | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        captured = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function curl(path: string, region: string, user: string): Promise<NonNullable<typeof captured>> {
    captured = undefined;
    await run("curl", [
      "-sS",
      "--http1.1",
      "-X",
      "POST",
      "--aws-sigv4",
      `aws:amz:${region}:kms-xks-proxy`,
      "--user",
      user,
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      BODY,
      `http://localhost:${port}${path}`,
    ]);
    return captured!;
  }

  it("verifies curl's signature (content-type;host;x-amz-date, Host with port)", async () => {
    const c = await curl(PATH, "eu-west-1", `${AKID}:${SECRET}`);
    expect(c.headers.host).toBe(`localhost:${port}`);
    expect(c.headers["x-amz-content-sha256"]).toBeUndefined();
    const v = await verifyXksSignature({ method: c.method, path: c.url, headers: c.headers, body: c.body }, store);
    expect(v).toMatchObject({ accessKeyId: AKID, region: "eu-west-1", signedHeaders: ["content-type", "host", "x-amz-date"] });
  });

  it("verifies curl's `//` path (empty prefix, URL built by concatenation) without normalising", async () => {
    const c = await curl("//kms/xks/v1/health", "us-east-1", `${AKID2}:${SECRET2}`);
    expect(c.url).toBe("//kms/xks/v1/health");
    await expect(verifyXksSignature({ method: c.method, path: c.url, headers: c.headers, body: c.body }, store)).resolves.toMatchObject({ accessKeyId: AKID2 });
  });

  it("rejects curl requests with a wrong secret, a wrong region or a tampered body", async () => {
    const wrong = await curl(PATH, "us-east-1", `${AKID}:${SECRET2}`);
    await expect401(verifyXksSignature({ method: wrong.method, path: wrong.url, headers: wrong.headers, body: wrong.body }, store), /does not match/);
    const region = await curl(PATH, "sa-east-1", `${AKID}:${SECRET}`);
    await expect401(verifyXksSignature({ method: region.method, path: region.url, headers: region.headers, body: region.body }, store), /region/);
    const ok = await curl(PATH, "us-east-1", `${AKID}:${SECRET}`);
    const tampered = Buffer.from(ok.body);
    tampered[tampered.length - 3]! ^= 1;
    await expect401(verifyXksSignature({ method: ok.method, path: ok.url, headers: ok.headers, body: tampered }, store), /does not match/);
  });
});
