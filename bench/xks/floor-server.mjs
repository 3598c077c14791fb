// Floors for bench/xks: node HTTPS servers with the proxy's TLS settings that add the proxy's layers
// one at a time, so the bench can say what each layer costs per request:
//   node floor-server.mjs <cert> <key> <port> [layer]
// FLOOR_PROCESSES=n runs n processes sharing the port (node:cluster), as the proxy's do (default 1).
// A layer name ending in "+fast" serves the layer through the proxy's XKS fast path
// (apps/xks-proxy/dist/fast-http.js, in front of node:https as in the proxy) instead of node:https alone.
// layer "bare" (default): read the body, parse it as JSON, answer a fixed JSON; no SigV4, no HSM.
// layer "xks": @ciop/xks's whole request pipeline (routing, SigV4, validation, AAD, responses) with
//   node:crypto AES-256-GCM as the key manager.
// layer "xks-hsm": the same with GCM in the HSM through @ciop/hsm, synchronously, on a session copy
//   of the token key, the calls of one event-loop turn run together at its end (what the proxy
//   does on SoftHSM by default, with the proxy's own end-of-turn schedule, EndOfTurn), without the proxy's
//   logging, metrics, rate limits, key-state cache or timeouts.
// The xks layers read the store from the environment: FLOOR_ACCESS_KEY_ID, XKS_BENCH_SECRET,
// FLOOR_PREFIX, FLOOR_KEY; xks-hsm also FLOOR_LIB, FLOOR_TOKEN and XKS_BENCH_PIN.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import cluster from "node:cluster";
import https from "node:https";
import { softwareKeyManager } from "./common.mjs";

const [cert, key, port, layerArg = "bare"] = process.argv.slice(2);
const fast = layerArg.endsWith("+fast");
const layer = fast ? layerArg.slice(0, -"+fast".length) : layerArg;
const JSON_HEADERS = { "content-type": "application/json" };
const fixed = JSON.stringify({
  ciphertext: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  initializationVector: "AAAAAAAAAAAAAAAA",
  authenticationTag: "AAAAAAAAAAAAAAAAAAAAAA==",
});

/** The end-of-turn schedule of this process, shared by the xks-hsm layer and the fast path (as in the proxy). */
let turns;

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
    // one key for every worker process: a ciphertext made by one decrypts in another
    crypto = softwareKeyManager(keyName, Buffer.from(process.env.FLOOR_SOFT_KEY, "hex"));
  } else if (name === "xks-hsm") {
    const { Hsm } = await import("@ciop/hsm");
    const hsm = await Hsm.open({ library: process.env.FLOOR_LIB, token: process.env.FLOOR_TOKEN, pin: { env: "XKS_BENCH_PIN" } });
    const tokenKey = hsm.findKey(keyName);
    if (!tokenKey) throw new Error(`key ${keyName} not found`);
    const copy = hsm.sessionCopy(tokenKey);
    /** Runs a synchronous call in the end-of-turn HSM step, as the proxy's HsmBackend does. */
    const queued = (call) =>
      new Promise((resolve, reject) =>
        turns.at("hsm", () => {
          try {
            resolve(call());
          } catch (err) {
            reject(err);
          }
        }),
      );
    // the same key description, GCM in the HSM instead of node:crypto
    crypto = {
      ...softwareKeyManager(keyName),
      encrypt: (_id, iv, pt, aad) => queued(() => hsm.encryptAesGcm(copy, iv, pt, aad)),
      decrypt: (_id, iv, ct, aad) => queued(() => hsm.decryptAesGcm(copy, iv, ct, aad)),
    };
  } else {
    throw new Error(`unknown layer ${name}`);
  }
  const service = { stores: [store], crypto, health: () => ({}) };
  return async (method, url, headers, body) => handleXksHttpRequest({ method, url, headers, body }, service);
}

// FLOOR_PROCESSES=n: n worker processes share the port (node:cluster), as the proxy's processes do
const processes = Number(process.env.FLOOR_PROCESSES ?? 1);
// the xks layer's software AES key, made once and inherited by the worker processes
if (cluster.isPrimary) process.env.FLOOR_SOFT_KEY = randomBytes(32).toString("hex");
if (processes > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < processes; i++) cluster.fork().on("message", (m) => m === "ready" && ++ready === processes && process.stdout.write("ready\n"));
  process.on("SIGTERM", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  if (fast || layer === "xks-hsm") turns = new (await import("../../apps/xks-proxy/dist/fast-http.js")).EndOfTurn();
  const handle = await handlerFor(layer);
  const tlsOptions = {
    cert: readFileSync(cert),
    key: readFileSync(key),
    minVersion: "TLSv1.2",
    ciphers: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
  };
  const server = https.createServer({ ...tlsOptions, keepAliveTimeout: 330_000 }, nodeHandler(handle));
  if (fast) {
    const { fastPathInFront } = await import("../../apps/xks-proxy/dist/fast-http.js");
    fastPathInFront(server, {
      accepts: (method) => method === "POST",
      handle: async (method, target, headers, body, respond) => respond({ ...(await handle(method, target, headers, body)), headers: JSON_HEADERS }),
      maxBodyBytes: 64 * 1024,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 330_000,
      turns,
    });
  }
  server.listen(Number(port), "127.0.0.1", () => (cluster.isWorker ? process.send("ready") : process.stdout.write("ready\n")));
  process.on("SIGTERM", () => process.exit(0));
}

/** node:https's request handler around a layer. */
function nodeHandler(handle) {
  return (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const out = await handle(req.method, req.url, req.headers, Buffer.concat(chunks));
      res.writeHead(out.status, { ...JSON_HEADERS, "content-length": String(Buffer.byteLength(out.body)) });
      res.end(out.body);
    });
  };
}
