// Starts `p11-kit server` in front of one token of a PKCS#11 module on a private unix socket, so a
// client loading p11-kit-client.so reaches the token through p11-kit's RPC: every PKCS#11 call
// crosses a process boundary, as with a network HSM's client library. Used by tests and bench/xks.
//
//   const { startP11KitServer } = require("tools/p11-kit-rpc/start.cjs");
//   const srv = await startP11KitServer({ module, token, dir, env });
//   process.env.P11_KIT_SERVER_ADDRESS = srv.address;   // the client module reads it at C_Initialize
//   ... load srv.clientLibrary ...
//   await srv.stop();
//
// findP11Kit() says why the RPC cannot be used here (null when it can), for a test to skip with.
const fs = require("node:fs");
const path = require("node:path");
const { spawn, execFileSync } = require("node:child_process");

const CLIENT_CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
  "/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so",
  "/usr/lib64/pkcs11/p11-kit-client.so",
  "/usr/lib/pkcs11/p11-kit-client.so",
];

/** The client module's path, or undefined when p11-kit-modules is not installed. */
function clientLibrary() {
  return CLIENT_CANDIDATES.find((p) => fs.existsSync(p));
}

/** null when `p11-kit server` and p11-kit-client.so are both here; else why not (for a skip message). */
function findP11Kit() {
  try {
    execFileSync("p11-kit", ["server", "--help"], { stdio: "ignore" });
  } catch {
    return "`p11-kit server` is not installed (Debian: apt-get install p11-kit; tools/setup.sh does it)";
  }
  if (!clientLibrary()) return "p11-kit-client.so is not installed (Debian: apt-get install p11-kit-modules; tools/setup.sh does it)";
  return null;
}

/** The installed p11-kit package version (Debian, e.g. "0.24.1-2"), or undefined. */
function p11KitVersion() {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", `\${Version}`, "p11-kit"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the server for `token` (a label) of `module` and resolves once its socket accepts clients.
 * Options: module (PKCS#11 library path), token (label), dir (a private directory for the socket),
 * env (extra environment for the server, e.g. SOFTHSM2_CONF), timeoutMs (start deadline, default 10 s).
 * Returns { address, clientLibrary, pid, env: { P11_KIT_SERVER_ADDRESS }, stop() }.
 */
async function startP11KitServer({ module, token, dir, env = {}, timeoutMs = 10_000 }) {
  const why = findP11Kit();
  if (why) throw new Error(why);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, "p11-kit.sock");
  fs.rmSync(socket, { force: true });
  const uri = `pkcs11:token=${encodeURIComponent(token)}`;
  // -f: stay in the foreground (this process owns it and stops it); -s: print the address.
  const child = spawn("p11-kit", ["server", "-f", "-s", "-n", socket, "-p", module, uri], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  let address;
  for (;;) {
    address = /P11_KIT_SERVER_ADDRESS=([^;\s]+)/.exec(stdout)?.[1];
    if (address && fs.existsSync(socket)) break;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`p11-kit server did not start (exit ${child.exitCode ?? child.signalCode ?? "timeout"}): ${stderr.trim().slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
    fs.rmSync(socket, { force: true });
  };
  return { address, clientLibrary: clientLibrary(), pid: child.pid, env: { P11_KIT_SERVER_ADDRESS: address }, stop };
}

module.exports = { startP11KitServer, findP11Kit, p11KitVersion, clientLibrary, CLIENT_CANDIDATES };
