/**
 * Issue 16 ("Proof": packages/hsm/README.md lists each token's capabilities as the probe found
 * them). The README's table between the probe-tokens markers must equal what tools/probe-tokens.cjs
 * prints now, on SoftHSM2, NSS softokn and SoftHSM2 through p11-kit's RPC. Before, the README had a
 * hand-written table with no p11-kit column and no `gcm`/`gcmRefusal` rows, and nothing compared it
 * with the probe (this test failed on it). Refresh with `pnpm probe:tokens`.
 * The probe runs in a child process (the built @ciop/hsm): SoftHSM and the p11-kit client read
 * SOFTHSM2_CONF and P11_KIT_SERVER_ADDRESS from the real environment, which a jest worker cannot set.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "../../..");

test("the README's capability table per token is what the probe finds", () => {
  const readme = readFileSync(path.join(__dirname, "../README.md"), "utf8");
  const m = /<!-- probe-tokens:start -->\n([\s\S]*?)\n<!-- probe-tokens:end -->/.exec(readme);
  expect(m).not.toBeNull();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CIOP_") && k !== "SOFTHSM2_CONF" && k !== "P11_KIT_SERVER_ADDRESS") env[k] = v;
  const probed = execFileSync(process.execPath, [path.join(root, "tools/probe-tokens.cjs")], { env, encoding: "utf8", timeout: 60_000 });
  expect(m![1]).toBe(probed.trimEnd());
}, 90_000);
