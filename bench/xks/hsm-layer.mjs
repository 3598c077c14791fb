// Middle layer for bench/xks: AES-256-GCM encrypt+decrypt through @ciop/hsm's Hsm class (what the
// proxy calls), on a token key of the bench token, without HTTP or SigV4. Its own process.
//   node hsm-layer.mjs <lib> <tokenLabel> <seconds> <sync|async> [inFlight] [poolSize]   (PIN in $RAW_PIN)
// sync: encryptAesGcm/decryptAesGcm on the main thread; async: encryptAesGcmAsync/decryptAesGcmAsync
// (pooled sessions, pkcs11js async calls) with `inFlight` operations outstanding.
import { randomBytes } from "node:crypto";
import { Hsm } from "@ciop/hsm";

const [lib, label, secondsArg, mode = "sync", inFlightArg = "16", poolArg = "4"] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 3);
// LAYER_GCM_WORKERS: @ciop/hsm's gcmWorkers (0: no worker threads, the Init on the event loop)
const workers = process.env.LAYER_GCM_WORKERS === undefined ? {} : { gcmWorkers: Number(process.env.LAYER_GCM_WORKERS) };
const hsm = await Hsm.open({ library: lib, token: label, pin: { env: "RAW_PIN" }, sessionPoolSize: Number(poolArg), ...workers });
try {
  const name = `layer-bench-${process.pid}`;
  const key = await hsm.generateKey(name, "AES-256", { extractable: false });
  const pt = randomBytes(32);
  const aad = randomBytes(66);
  let ops = 0;
  let stop = false;
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  const t0 = process.hrtime.bigint();
  if (mode === "sync") {
    const deadline = t0 + BigInt(Math.round(seconds * 1e9));
    while (process.hrtime.bigint() < deadline) {
      for (let i = 0; i < 100; i++) {
        const iv = randomBytes(12);
        hsm.decryptAesGcm(key, iv, hsm.encryptAesGcm(key, iv, pt, aad), aad);
        ops += 2;
      }
    }
  } else {
    await Promise.all(
      Array.from({ length: Number(inFlightArg) }, async () => {
        while (!stop) {
          const iv = randomBytes(12);
          await hsm.decryptAesGcmAsync(key, iv, await hsm.encryptAesGcmAsync(key, iv, pt, aad), aad);
          ops += 2;
        }
      }),
    );
  }
  clearTimeout(timer);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  hsm.deleteKey(name);
  process.stdout.write(`${JSON.stringify({ ops, seconds: secs, opsPerSec: ops / secs })}\n`);
} finally {
  await hsm.close();
}
