/**
 * Shared harness of the admin tests: runs runAdmin in-process (or the built CLI) against the
 * throw-away SoftHSM token of jest's globalSetup, and reads the token back with pkcs11-tool (OpenSC).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runAdmin } from "../src/admin/index.js";
import { testToken } from "@ciop/testkit";

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
      env: { PATH: process.env.PATH ?? "", SOFTHSM2_CONF: process.env.SOFTHSM2_CONF ?? "", HOME: testToken().dir, ...env },
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

/** Secret keys on the test token as pkcs11-tool (OpenSC) sees them. */
export function pkcs11ToolSecretKeys(): Pkcs11ToolKey[] {
  const t = testToken();
  const text = execFileSync("pkcs11-tool", ["--module", t.lib, "--token-label", t.label, "--login", "--pin", t.pin, "--list-objects", "--type", "secrkey"], {
    env: { ...process.env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
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
