/**
 * Issue 15 ("Export: one flow"): the files citool refuses to overwrite are the ones the provider
 * declares (`outputFiles`), not a list kept in citool. Google Compute Engine writes `<key>-wrapped`
 * and `<key>-sha256`; citool's old list knew only the first, so an existing `<key>-sha256` was
 * found only when the files were written, after the key had been generated (then deleted again:
 * the audit log showed generate, export error, delete). Now the run stops with exit 2 and
 * ERR_OUTPUT_EXISTS before the HSM is asked for a key: no generate record, no key, the file kept.
 * Runs citool in-process (run()) against the real SoftHSM test token.
 */
import { testToken } from "@ciop/testkit";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../src/run.js";
import { hsmArgs, makeWrappingKeys, memIo, tempDir, tokenLabels, type WrappingKeys } from "./helpers.js";

let keys: WrappingKeys;

beforeAll(async () => {
  keys = await makeWrappingKeys(join(tempDir("clash-wk"), "wk"), [2048]);
  process.env.CIOP_PIN = testToken().pin; // the HSM library reads the named PIN variable from the process
}, 120_000);

afterAll(() => {
  delete process.env.CIOP_PIN;
});

test("google-compute-engine: an existing <key>-sha256 without --force is refused before any key exists; --force replaces it", async () => {
  const out = tempDir("clash-gce");
  const name = `clash-gce-${process.pid}`;
  const sha = join(out, `${name}-sha256`);
  writeFileSync(sha, "precious");
  const log = join(out, "audit.log");
  const argv = [...hsmArgs(), "google-compute-engine", name, keys.cert[2048]!, "RSAES_OAEP_SHA_1", "--audit-log", log];

  const io = memIo(out);
  expect(await run(argv, io)).toBe(2);
  expect(io.stderr()).toMatch(new RegExp(`output file \\./${name}-sha256 already exists; move it away or pass --force.*\\[ERR_OUTPUT_EXISTS\\]`));
  expect(io.stderr()).not.toMatch(/generated in the HSM/);
  expect(readFileSync(sha, "utf8")).toBe("precious");
  expect(existsSync(log) ? readFileSync(log, "utf8") : "").toBe(""); // no generate, no export error, no delete
  expect(await tokenLabels()).not.toContain(name);

  const forced = memIo(out);
  expect(await run([...argv, "--force"], forced)).toBe(0);
  expect(readFileSync(sha, "utf8")).not.toBe("precious");
  expect(
    readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { operation: string }).operation),
  ).toEqual(["generate", "export"]);
}, 60_000);
