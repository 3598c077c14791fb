/**
 * Issue 16, "Vendor behaviour as probed profiles", proxy settings: `[hsm] profile` takes "auto" or
 * a named profile and refuses anything else with the list; it reaches Hsm.open as `gcmProfile`, and
 * it is restart-only (a reload names it and keeps the running one). From the AWS sample proxy's
 * settings file, `[hsm_capabilities]` chooses the IV source as that proxy's do_encrypt does
 * (can_generate_iv false → ciop draws the IV; true + is_zero_iv_required → a zero IV the token
 * fills; true alone → an empty IV, the IV after the tag), and CIOP_HSM_PROFILE contradicting it is
 * refused. Before the change `profile` was an unknown key (refused), [hsm_capabilities] was
 * reported as having no effect and reached nothing.
 */
import { serverHsmOptions } from "../src/hsm-options.js";
import { parseConfig } from "../src/proxy-config.js";
import { restartNeeded, keepRunning } from "../src/server/restart-only.js";
import { ciopToml, replaceOrThrow, storeToml, testDir } from "./proxy-helpers.js";

const dir = testDir("gcm-profile-config");
const CRED = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYabcd" };

const ciop = (profile?: string) =>
  replaceOrThrow(
    ciopToml({ stores: storeToml("s", "/s", ["k"], [CRED]) }),
    "timeout_ms = 10000",
    `timeout_ms = 10000${profile !== undefined ? `\nprofile = "${profile}"` : ""}`,
  );

function sample(caps: string[]): string {
  return [
    "[server]",
    'ip = "127.0.0.1"',
    "port = 0",
    'region = "us-east-1"',
    'service = "kms-xks-proxy"',
    "[security]",
    "is_sigv4_auth_enabled = true",
    "is_tls_enabled = false",
    "is_mtls_enabled = false",
    "[pkcs11]",
    `PKCS11_HSM_MODULE = "${process.env.CIOP_TEST_LIB}"`,
    ...(caps.length > 0 ? ["[hsm_capabilities]", ...caps] : []),
    "[[external_key_stores]]",
    'uri_path_prefix = "/s"',
    `sigv4_access_key_id = "${CRED.accessKeyId}"`,
    `sigv4_secret_access_key = "${CRED.secretAccessKey}"`,
    'xks_key_id_set = ["k"]',
    "",
  ].join("\n");
}
const SAMPLE_ENV = { XKS_PROXY_WITHOUT_SECONDARY_AUTH: "1" };

test("[hsm] profile: auto by default, each named profile reaches Hsm.open, anything else refused with the list", async () => {
  const def = await parseConfig(ciop(), { dir });
  expect(def.hsm.profile).toBe("auto");
  expect(serverHsmOptions(def.hsm).gcmProfile).toBeUndefined();
  for (const name of ["auto", "softhsm", "nshield", "luna", "cloudhsm"]) {
    const cfg = await parseConfig(ciop(name), { dir });
    expect(cfg.hsm.profile).toBe(name);
    expect(serverHsmOptions(cfg.hsm).gcmProfile).toBe(name === "auto" ? undefined : name);
  }
  await expect(parseConfig(ciop("thales"), { dir })).rejects.toThrow(
    /hsm\.profile must be one of "auto", "softhsm", "nshield", "luna", "cloudhsm" \(is 'thales'\)/,
  );
});

test("[hsm] profile is restart-only: a reload names it and keeps the running one", async () => {
  const now = await parseConfig(ciop("softhsm"), { dir });
  const next = await parseConfig(ciop("luna"), { dir });
  expect(restartNeeded({ fixed: now, running: now }, next)).toContain("hsm profile");
  expect(keepRunning({ fixed: now, running: now }, next).hsm.profile).toBe("softhsm");
  expect(restartNeeded({ fixed: now, running: now }, await parseConfig(ciop("softhsm"), { dir }))).not.toContain("hsm profile");
});

test.each([
  { caps: ["can_generate_iv = false", "is_zero_iv_required = false"], source: "caller" },
  { caps: ["can_generate_iv = false", "is_zero_iv_required = true"], source: "caller" },
  { caps: ["can_generate_iv = true", "is_zero_iv_required = true"], source: "token-fills-zero" },
  { caps: ["can_generate_iv = true", "is_zero_iv_required = false"], source: "token-appends" },
  { caps: ["can_generate_iv = true"], source: "token-appends" },
])("sample settings $caps → IV source $source, checked at open; not listed as without effect", async ({ caps, source }) => {
  const cfg = await parseConfig(sample(caps), { dir, env: SAMPLE_ENV });
  expect(cfg.source.format).toBe("aws-sample");
  expect(cfg.hsm.gcmIvSource).toBe(source);
  expect(serverHsmOptions(cfg.hsm).gcmProfile).toEqual({ ivSource: source });
  expect(cfg.warnings.join("\n")).not.toContain("hsm_capabilities");
});

test("sample settings without [hsm_capabilities] probe (auto); CIOP_HSM_PROFILE must agree with [hsm_capabilities]", async () => {
  const none = await parseConfig(sample([]), { dir, env: SAMPLE_ENV });
  expect(none.hsm.gcmIvSource).toBeUndefined();
  expect(serverHsmOptions(none.hsm).gcmProfile).toBeUndefined();
  const cloud = await parseConfig(sample(["can_generate_iv = true", "is_zero_iv_required = true"]), {
    dir,
    env: { ...SAMPLE_ENV, CIOP_HSM_PROFILE: "cloudhsm" },
  });
  expect(serverHsmOptions(cloud.hsm).gcmProfile).toBe("cloudhsm");
  await expect(
    parseConfig(sample(["can_generate_iv = true", "is_zero_iv_required = true"]), { dir, env: { ...SAMPLE_ENV, CIOP_HSM_PROFILE: "luna" } }),
  ).rejects.toThrow(
    /CIOP_HSM_PROFILE=luna means IV source "token-appends", but \[hsm_capabilities\] \(can_generate_iv = true, is_zero_iv_required = true\) means "token-fills-zero"/,
  );
  await expect(parseConfig(sample([]), { dir, env: { ...SAMPLE_ENV, CIOP_HSM_PROFILE: "utimaco" } })).rejects.toThrow(/CIOP_HSM_PROFILE must be one of "auto"/);
});
