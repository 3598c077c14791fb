// Runs the legitimate client on its own thread (own event loop), so that the fuzzer's work of
// building and checking cases does not show up as proxy latency.
import { parentPort, workerData } from "node:worker_threads";
import { LegitClient } from "./legit.mjs";

const client = new LegitClient(workerData);
parentPort.on("message", async (m) => {
  if (m.cmd === "start") client.start(m.phase);
  else if (m.cmd === "mark") client.mark(m.phase);
  else if (m.cmd === "port") {
    // a restarted proxy listens on a new port: reconnect there
    const t = client.targets.find((x) => x.name === m.name);
    t.port = m.port;
    for (const c of client.conns.filter((x) => x.target === t)) c.sock.destroy();
  } else if (m.cmd === "stop") {
    await client.stop();
    parentPort.postMessage({ summaries: Object.fromEntries(m.phases.map((p) => [p, client.summary(p)])) });
  }
});
