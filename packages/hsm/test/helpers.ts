import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Hsm, type HsmOptions } from "../src/index.js";

export const PY = "/usr/bin/python3";

/** Opens the jest run's SoftHSM token (see tools/jest/global-setup.cjs). */
export function openTestHsm(extra: HsmOptions = {}): Promise<Hsm> {
  return Hsm.open({
    library: process.env.CIOP_TEST_LIB!,
    token: process.env.CIOP_TEST_TOKEN_LABEL!,
    pin: { value: process.env.CIOP_TEST_PIN! },
    ...extra,
  });
}

/** A key name unique to this test file and run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs a Python snippet with /usr/bin/python3; `input` is passed as JSON on stdin; returns parsed JSON stdout. */
export function python<T = unknown>(script: string, input: unknown): T {
  const out = execFileSync(PY, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  return JSON.parse(out) as T;
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

let bundlePath: string | undefined;
/** Bundles src/ (and @ciop/core src) into one CJS file child processes can require. */
export function buildChildBundle(): string {
  if (bundlePath) return bundlePath;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require(require.resolve("esbuild", { paths: [path.dirname(require.resolve("tsup"))] })) as { buildSync(o: Record<string, unknown>): unknown };
  const dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR ?? "/tmp", "hsm-bundle-"));
  bundlePath = path.join(dir, "hsm.cjs");
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, "../src/index.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: bundlePath,
    external: ["pkcs11js"],
    alias: { "@ciop/core": path.join(__dirname, "../../core/src/index.ts") },
    nodePaths: [path.join(__dirname, "../node_modules")],
    logLevel: "silent",
  });
  // pkcs11js must resolve from the bundle's location
  writeFileSync(path.join(dir, "package.json"), "{}");
  return bundlePath;
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** Runs test/child.cjs with the bundle in a separate node process. */
export function runChild(args: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<ChildResult> {
  const bundle = buildChildBundle();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, "child.cjs"), bundle, JSON.stringify(args)], {
      env: { ...env, NODE_PATH: path.join(__dirname, "../node_modules") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}
