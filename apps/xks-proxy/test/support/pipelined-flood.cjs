// Floods a proxy with pipelined unsigned XKS requests: `connections` connections from `from`, each
// writing batches of 500 requests as fast as the socket takes them, reconnecting when the proxy
// closes it, for `seconds`. Prints {"sent":N,"connections":M} at the end. (Issue 14 item 11 test.)
const net = require("node:net");
const [port, connections, seconds, from] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5] ?? "127.0.0.1"];
const body = JSON.stringify({
  requestMetadata: { kmsRequestId: "flood", kmsOperation: "Encrypt", awsPrincipalArn: "arn:aws:iam::1:user/x" },
  plaintext: "AAAA",
  encryptionAlgorithm: "AES_GCM",
});
const one = `POST /kms/xks/v1/keys/flood-key/encrypt HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-type: application/json\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKIAFLOODFLOODFLOODFL/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}\r\nx-amz-date: 20260101T000000Z\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const batch = Buffer.from(one.repeat(500));
const end = Date.now() + seconds * 1000;
let sent = 0;
let opened = 0;
function connect() {
  if (Date.now() > end) return;
  opened++;
  const s = net.connect({ port, host: "127.0.0.1", localAddress: from });
  s.on("error", () => undefined);
  s.on("data", () => undefined);
  const pump = () => {
    while (Date.now() < end && !s.destroyed) {
      sent += 500;
      if (!s.write(batch)) return s.once("drain", pump);
    }
    s.destroy();
  };
  s.once("connect", pump);
  s.once("close", () => setTimeout(connect, 1));
}
for (let i = 0; i < connections; i++) connect();
setTimeout(
  () => {
    process.stdout.write(`${JSON.stringify({ sent, connections: opened })}\n`);
    process.exit(0);
  },
  seconds * 1000 + 200,
);
