// Floor for bench/xks: a bare node HTTPS server with the proxy's TLS settings that reads the body
// and answers a fixed JSON, no SigV4, no HSM. What TLS + HTTP + the load generator cost on this
// machine, measured in the same run.   node floor-server.mjs <cert> <key> <port>
import { readFileSync } from "node:fs";
import https from "node:https";

const [cert, key, port] = process.argv.slice(2);
const body = JSON.stringify({ ciphertext: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", initializationVector: "AAAAAAAAAAAAAAAA", authenticationTag: "AAAAAAAAAAAAAAAAAAAAAA==" });
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
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      res.end(body);
    });
  },
);
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
