// Floors for bench/xks: node HTTPS servers with the proxy's TLS settings, one process each, that
// add the proxy's layers one at a time, so the bench can say what each layer costs per request:
//   node floor-server.mjs <cert> <key> <port> [layer]
// layer "bare" (default): read the body, parse it as JSON, answer a fixed JSON; no SigV4, no HSM.
// layer "xks": @ciop/xks's whole request pipeline (routing, SigV4, validation, AAD, responses) with
//   node:crypto AES-256-GCM as the key manager.
// layer "xks-hsm": the same with GCM in the HSM through @ciop/hsm, synchronously, on a session copy
//   of the token key (what the proxy does on SoftHSM by default), without the proxy's logging,
//   metrics, rate limits, key-state cache or timeouts.
// The xks layers read the store from the environment: FLOOR_ACCESS_KEY_ID, XKS_BENCH_SECRET,
// FLOOR_PREFIX, FLOOR_KEY; xks-hsm also FLOOR_LIB, FLOOR_TOKEN and XKS_BENCH_PIN.
import { readFileSync } from "node:fs";
import https from "node:https";
import { softwareKeyManager } from "./common.mjs";

const [cert, key, port, layer = "bare"] = process.argv.slice(2);
const fixed = JSON.stringify({ ciphertext: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", initializationVector: "AAAAAAAAAAAAAAAA", authenticationTag: "AAAAAAAAAAAAAAAAAAAAAA==" });

/** The request handler body for a layer: (method, url, headers, body) -> { status, body }. */
async function handlerFor(name) {
  if (name === "bare") {
    return (_m, _u, _h, body) => {
      JSON.parse(body.toString("utf8") || "{}");
      return { status: 200, body: fixed };
    };
  }
  const { handleXksHttpRequest } = await import("@ciop/xks");
  const keyName = process.env.FLOOR_KEY;
  const store = {
    name: "floor",
    uriPrefix: process.env.FLOOR_PREFIX,
    credentials: [{ accessKeyId: process.env.FLOOR_ACCESS_KEY_ID, secretAccessKey: process.env.XKS_BENCH_SECRET }],
    keys: new Set([keyName]),
  };
  let crypto;
  if (name === "xks") {
    crypto = softwareKeyManager(keyName);
  } else if (name === "xks-hsm") {
    const { Hsm } = await import("@ciop/hsm");
    const hsm = await Hsm.open({ library: process.env.FLOOR_LIB, token: process.env.FLOOR_TOKEN, pin: { env: "XKS_BENCH_PIN" } });
    const tokenKey = hsm.findKey(keyName);
    if (!tokenKey) throw new Error(`key ${keyName} not found`);
    const copy = hsm.sessionCopy(tokenKey);
    // the same key description, GCM in the HSM instead of node:crypto
    crypto = {
      ...softwareKeyManager(keyName),
      encrypt: (_id, iv, pt, aad) => hsm.encryptAesGcm(copy, iv, pt, aad),
      decrypt: (_id, iv, ct, aad) => hsm.decryptAesGcm(copy, iv, ct, aad),
    };
  } else {
    throw new Error(`unknown layer ${name}`);
  }
  const service = { stores: [store], crypto, health: () => ({}) };
  return async (method, url, headers, body) => handleXksHttpRequest({ method, url, headers, body }, service);
}

const handle = await handlerFor(layer);
const server = https.createServer(
  {
    cert: readFileSync(cert),
    key: readFileSync(key),
    minVersion: "TLSv1.2",
    ciphers: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
    keepAliveTimeout: 330_000,
  },
  (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const out = await handle(req.method, req.url, req.headers, Buffer.concat(chunks));
      res.writeHead(out.status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(out.body)) });
      res.end(out.body);
    });
  },
);
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
