#!/usr/bin/env node
// The capability probe of @ciop/hsm on each token the tests run on (issue 16, "Three tokens in
// CI"): SoftHSM2 in process, NSS softokn (library parameters), and SoftHSM2 out of process through
// p11-kit's RPC. Throw-away tokens are made exactly as jest's globalSetup makes them and removed after.
//
//   pnpm probe:tokens            prints the markdown table that packages/hsm/README.md holds
//   pnpm probe:tokens --json     the capabilities per token as JSON
//
// packages/hsm/test/readme.token-capabilities-table-matches-the-probe.test.ts fails when the
// README's table and this probe disagree. A token that cannot be set up here gets a column saying why.
"use strict";
const path = require("node:path");

const TOKENS = [
  { kind: "softhsm2", title: "SoftHSM2 (in process)" },
  { kind: "nss", title: "NSS softokn" },
  { kind: "p11-kit-rpc", title: "SoftHSM2 via p11-kit RPC" },
];

/**
 * Opens each token with `Hsm` (the @ciop/hsm class: built dist for the CLI, sources under jest) and
 * returns [{ kind, title, caps } | { kind, title, skip }]. Makes its own throw-away tokens.
 */
async function probeTokens(Hsm) {
  const setup = require("./jest/global-setup.cjs");
  const teardown = require("./jest/global-teardown.cjs");
  const saved = { ...process.env };
  const savedDir = globalThis.__ciopCreatedTestDir;
  const savedServer = globalThis.__ciopP11KitServer;
  for (const k of Object.keys(process.env)) if (k.startsWith("CIOP_TEST_") || k === "P11_KIT_SERVER_ADDRESS") delete process.env[k];
  process.env.CIOP_TEST_TOKEN = "p11-kit-rpc"; // makes all three: SoftHSM, NSS, and the RPC in front of SoftHSM
  const out = [];
  try {
    await setup();
    const e = process.env;
    const open = {
      softhsm2: e.CIOP_TEST_SOFTHSM_LIB && { library: e.CIOP_TEST_SOFTHSM_LIB, token: e.CIOP_TEST_SOFTHSM_LABEL, pin: e.CIOP_TEST_SOFTHSM_PIN },
      nss: e.CIOP_TEST_NSS_SKIP
        ? { skip: e.CIOP_TEST_NSS_SKIP }
        : { library: e.CIOP_TEST_NSS_LIB, libraryParameters: e.CIOP_TEST_NSS_PARAMS, token: e.CIOP_TEST_NSS_TOKEN, pin: e.CIOP_TEST_NSS_PIN },
      "p11-kit-rpc": e.CIOP_TEST_TOKEN_SKIP
        ? { skip: e.CIOP_TEST_TOKEN_SKIP }
        : { library: e.CIOP_TEST_LIB, token: e.CIOP_TEST_TOKEN_LABEL, pin: e.CIOP_TEST_PIN },
    };
    for (const t of TOKENS) {
      const o = open[t.kind];
      if (o.skip) {
        out.push({ ...t, skip: o.skip });
        continue;
      }
      const hsm = await Hsm.open({
        library: o.library,
        ...(o.libraryParameters ? { libraryParameters: o.libraryParameters } : {}),
        token: o.token,
        pin: { value: o.pin },
      });
      try {
        out.push({ ...t, caps: hsm.capabilities() });
      } finally {
        await hsm.close();
      }
    }
  } finally {
    await teardown();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    globalThis.__ciopCreatedTestDir = savedDir;
    globalThis.__ciopP11KitServer = savedServer;
  }
  return out;
}

function cell(key, value) {
  if (key === "mechanisms") return `${value.length} listed`;
  if (key === "aesKeyWrapPadMechanism") return value === null ? "none" : `0x${value.toString(16)}`;
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(", ");
  if (value === null || value === undefined) return "—";
  if (typeof value === "object")
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : String(v)}`)
      .join("; ");
  return String(value).replace(/\|/g, "\\|");
}

/** The markdown table: one row per capability, one column per token. */
function markdownTable(results) {
  const keys = [];
  for (const r of results) for (const k of Object.keys(r.caps ?? {})) if (!keys.includes(k)) keys.push(k);
  const lines = [`| capability | ${results.map((r) => r.title).join(" | ")} |`, `|---|${results.map(() => "---").join("|")}|`];
  for (const k of keys) lines.push(`| \`${k}\` | ${results.map((r) => (r.caps ? cell(k, r.caps[k]) : "not probed")).join(" | ")} |`);
  for (const r of results) if (r.skip) lines.push(`\n${r.title} not probed: ${r.skip}`);
  return lines.join("\n");
}

module.exports = { probeTokens, markdownTable, TOKENS };

if (require.main === module) {
  const { Hsm } = require(path.join(__dirname, "../packages/hsm/dist/index.cjs"));
  probeTokens(Hsm).then(
    (results) => {
      if (process.argv.includes("--json")) console.log(JSON.stringify(results, null, 2));
      else console.log(markdownTable(results));
      process.exit(0);
    },
    (err) => {
      console.error(`probe-tokens: ${err.stack || err}`);
      process.exit(1);
    },
  );
}
