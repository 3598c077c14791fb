/**
 * A short run of the in-repo fuzzer (bench/fuzz/xks.mjs, `pnpm fuzz:xks`; issue 14, "Proof"):
 * 1,500 mutated and malformed requests, signed and unsigned, against four proxy processes run from
 * the sources (test/support/run-proxy.cjs) on the jest setup's SoftHSM token: TLS and plain HTTP,
 * each with the fast path in front of node's HTTP server and with `fast_path = false`. It must
 * report no crash, no non-spec answer (invalid HTTP, a status/errorName pair the XKS spec does not
 * allow, a JSON error without errorName, anything past authentication without a valid signature),
 * no unexpected 5xx and no well-formed request left unanswered.
 * Checked to fail: with KeyNotFoundException mapped to 400 in @ciop/xks's status table (a planted
 * bug), the run reported its unknown-key answers as non-spec and this test failed. Per-source
 * throttling (429, connections closed by a limit) is counted apart and does not fail it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { SUPPORT, testDir } from "./proxy-helpers.js";

const FUZZ = path.resolve(__dirname, "../../../bench/fuzz/xks.mjs");

interface FuzzSummary {
  cases: number;
  crashes: string[];
  nonSpec: number;
  unexpected5xx: number;
  counts: { findings: Record<string, number>; cls: Record<string, number> };
  metrics: Record<string, Record<string, number>>;
  examples: Record<string, Array<Record<string, unknown>>>;
}

test("1,500 fuzz cases over plain and TLS, fast path and node's server: no crash, no non-spec answer, no unexpected 5xx", async () => {
  const out = path.join(testDir("fuzz-smoke"), "summary.json");
  const args = [
    FUZZ,
    "--requests",
    "1500",
    "--proxy",
    path.join(SUPPORT, "run-proxy.cjs"),
    "--concurrency",
    "8",
    "--baseline-secs",
    "1",
    "--settle-secs",
    "1",
    "--legit-rate",
    "20",
    "--json",
    out,
  ];
  // the RSS/fd verdicts of so short a run are noise on a shared machine: the full run judges them
  args.push("--rss-tolerance-mib", "1024", "--fd-tolerance", "64");
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { ...process.env, XKS_PROXY_CONFIG: undefined, XKS_PROXY_SETTINGS_TOML: undefined }, timeout: 170_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
  let summary: FuzzSummary;
  try {
    summary = JSON.parse(readFileSync(out, "utf8")) as FuzzSummary;
  } catch {
    throw new Error(`the fuzz run wrote no summary (exit ${run.code}):\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-3000)}`);
  }
  // on failure: the findings (without their bytes; `--case N --seed S` replays one) and the verdict line
  const findings = Object.entries(summary.examples).flatMap(([type, list]) => list.map(({ bytesBase64: _bytes, ...e }) => ({ type, ...e })));
  const report = `${JSON.stringify(findings, null, 1).slice(0, 6000)}\n${run.stdout
    .split("\n")
    .filter((l) => /^(fuzz:xks|CRASH)/.test(l))
    .join("\n")
    .slice(0, 3000)}`;
  expect({ cases: summary.cases, crashes: summary.crashes, report: summary.crashes.length ? report : "" }).toEqual({ cases: 1500, crashes: [], report: "" });
  expect({ nonSpec: summary.nonSpec, unexpected5xx: summary.unexpected5xx, report: summary.nonSpec + summary.unexpected5xx ? report : "" }).toEqual({
    nonSpec: 0,
    unexpected5xx: 0,
    report: "",
  });
  expect(summary.counts.findings.unanswered ?? 0).toBe(0);
  expect(summary.counts.findings["503"] ?? 0).toBe(0);
  // both HTTP paths were exercised: the fast-path proxies handed connections to node's server
  expect(summary.metrics["tls-fast"]?.xks_proxy_connections_handed_off_total).toBeGreaterThan(0);
  expect(summary.metrics["plain-fast"]?.xks_proxy_connections_handed_off_total).toBeGreaterThan(0);
  // and requests were really served, not only refused
  expect(summary.counts.cls["2xx"]).toBeGreaterThan(100);
}, 180_000);
