/**
 * Shared harness of the admin tests: runs runAdmin in-process (or the built CLI) against the
 * jest run's token under test (SoftHSM2 by default; NSS softokn or SoftHSM2 through p11-kit's RPC in
 * a token run, tools/jest/global-setup.cjs), and reads the token back with pkcs11-tool (OpenSC), or,
 * for a module that needs C_Initialize library parameters (NSS softokn), which pkcs11-tool cannot
 * pass, with the plain pkcs11js reads of support/p11-raw.cjs.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runAdmin } from "../src/admin/index.js";
import { testToken } from "@ciop/testkit";
export { tokenInfo } from "./proxy-helpers.js";

// The admin commands take a module's C_Initialize library parameters from --hsm-params, the
// config's [hsm] library_parameters or $CIOP_PKCS11_PARAMS: the in-process runs here get the token
// under test's parameters the last way (issue 16, NSS softokn).
if (testToken().params) process.env.CIOP_PKCS11_PARAMS = testToken().params;

const P11_RAW = resolve(__dirname, "support/p11-raw.cjs");

/** support/p11-raw.cjs on the token under test (for a token pkcs11-tool cannot open). */
function p11Raw(...args: string[]): string {
  return execFileSync(process.execPath, [P11_RAW, ...args], { env: process.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** pkcs11-tool (OpenSC) logged in to the token under test; callers check testToken().params first. */
function pkcs11Tool(args: string[]): string {
  const t = testToken();
  return execFileSync("pkcs11-tool", ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, ...args], {
    env: process.env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Makes a sensitive AES-256 key as another tool would (pkcs11-tool --keygen): no ciop marker. */
export function foreignAesKey(label: string | undefined, idHex: string): void {
  if (testToken().params) p11Raw("keygen-aes", label ?? "-", idHex);
  else pkcs11Tool(["--keygen", "--key-type", "AES:32", "--sensitive", ...(label !== undefined ? ["--label", label] : []), "--id", idHex]);
}

/** Deletes the secret keys with this CKA_ID, as another tool would. */
export function deleteSecretKey(idHex: string): void {
  if (testToken().params) p11Raw("delete-secret", idHex);
  else pkcs11Tool(["--delete-object", "--type", "secrkey", "--id", idHex]);
}

/**
 * Whether the token sets CKA_LOCAL on a key it generated itself, asked of the token with a session
 * key made without ciop: SoftHSM2 does; NSS softokn reports CKA_LOCAL false even then.
 */
export function tokenMarksGeneratedKeysLocal(): boolean {
  return p11Raw("marks-generated-local").trim() === "true";
}

export function tempDir(prefix: string): string {
  const base = join(testToken().dir, "xks-admin");
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

/** A PIN file for --pin-file (mode 0600). */
export function pinFile(dir: string): string {
  const f = join(dir, "pin");
  writeFileSync(f, `${testToken().pin}\n`, { mode: 0o600 });
  return f;
}

export function hsmArgs(dir: string): string[] {
  const t = testToken();
  return ["--hsm-lib", t.lib, "--token", t.label, "--pin-file", pinFile(dir)];
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export async function admin(argv: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const code = await runAdmin(argv, { out: (s: string) => (out += s), err: (s: string) => (err += s) });
  return { code, out, err };
}

export const CLI = resolve(__dirname, "../dist/main.js");

/** Runs the built CLI as a user would (PIN only through the environment or a file). */
export function cli(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...argv], {
      env: {
        PATH: process.env.PATH ?? "",
        SOFTHSM2_CONF: process.env.SOFTHSM2_CONF ?? "",
        HOME: testToken().dir,
        // a token run: p11-kit's client finds its server here, NSS softokn gets its parameters here
        ...(process.env.P11_KIT_SERVER_ADDRESS ? { P11_KIT_SERVER_ADDRESS: process.env.P11_KIT_SERVER_ADDRESS } : {}),
        ...(testToken().params ? { CIOP_PKCS11_PARAMS: testToken().params } : {}),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", rej);
    child.on("close", (code) => res({ code: code ?? -1, out, err }));
  });
}

export interface Pkcs11ToolKey {
  label: string;
  kind: string;
  usage: string[];
  access: string[];
  id?: string;
}

/** Secret keys on the test token as pkcs11-tool (OpenSC) sees them (support/p11-raw.cjs where it cannot). */
export function pkcs11ToolSecretKeys(): Pkcs11ToolKey[] {
  if (testToken().params) return JSON.parse(p11Raw("secret-keys")) as Pkcs11ToolKey[];
  const text = pkcs11Tool(["--list-objects", "--type", "secrkey"]);
  const keys: Pkcs11ToolKey[] = [];
  for (const block of text.split(/^(?=Secret Key Object)/m)) {
    if (!block.startsWith("Secret Key Object")) continue;
    const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(.*)$`, "m").exec(block)?.[1]?.trim();
    const key: Pkcs11ToolKey = {
      kind: /^Secret Key Object;\s*(.*)$/m.exec(block)![1]!.trim(),
      label: field("label") ?? "",
      usage: (field("Usage") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s && s !== "none"),
      access: (field("Access") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
    const id = field("ID");
    if (id !== undefined) key.id = id;
    keys.push(key);
  }
  return keys;
}
