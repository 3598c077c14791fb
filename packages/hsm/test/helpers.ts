import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import pkcs11js from "pkcs11js";
import { Hsm, type HsmOptions, type KeyInfo, type KeyType, type TokenInfo } from "../src/index.js";

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

/**
 * An independent view of the test token: a second pkcs11js instance in this process with its own
 * session, knowing nothing about ciop (the Hsm has already initialised the library and logged in).
 */
export interface RawToken {
  raw: pkcs11js.PKCS11;
  slot: Buffer;
  session: Buffer;
  /** Handles matching `template` (up to `max`). */
  find(template: pkcs11js.Template, max?: number): Buffer[];
  /** The raw value of one attribute. */
  get(h: Buffer, type: number): Buffer;
  /** One CK_BBOOL attribute. */
  bool(h: Buffer, type: number): boolean;
  /** Generates a 256-bit AES token key labelled `label` on a short-lived R/W session; `extra` adds attributes. */
  generateAes(label: string, extra?: pkcs11js.Template): void;
  close(): void;
}

export function openRawToken(flags: number = pkcs11js.CKF_SERIAL_SESSION): RawToken {
  const P = pkcs11js;
  const raw = new P.PKCS11();
  raw.load(process.env.CIOP_TEST_LIB!);
  try {
    raw.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch {
    /* CKR_CRYPTOKI_ALREADY_INITIALIZED: the Hsm did it */
  }
  const slot = raw.C_GetSlotList(true).find((s) => raw.C_GetTokenInfo(s).label.trim() === process.env.CIOP_TEST_TOKEN_LABEL)!;
  const session = raw.C_OpenSession(slot, flags);
  const get = (h: Buffer, type: number) => raw.C_GetAttributeValue(session, h, [{ type }])[0]!.value as Buffer;
  return {
    raw,
    slot,
    session,
    find(template, max = 10) {
      raw.C_FindObjectsInit(session, template);
      try {
        return raw.C_FindObjects(session, max);
      } finally {
        raw.C_FindObjectsFinal(session);
      }
    },
    get,
    bool: (h, type) => get(h, type)[0] === 1,
    generateAes(label, extra = []) {
      const rw = raw.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      try {
        raw.C_GenerateKey(rw, { mechanism: P.CKM_AES_KEY_GEN }, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_VALUE_LEN, value: 32 },
          { type: P.CKA_TOKEN, value: true },
          { type: P.CKA_LABEL, value: label },
          ...extra,
        ]);
      } finally {
        raw.C_CloseSession(rw);
      }
    },
    close: () => raw.C_CloseSession(session),
  };
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

/**
 * What test/child.cjs prints last: its report (`token`, then the members of the steps it was asked
 * for), or `{ error }` when a step threw. One shape with every member declared present, so that
 * tests read what they expect without a guard: a member the child did not print reads as undefined
 * and the test's expectation fails.
 */
export interface ChildReport {
  token: TokenInfo;
  /** getOrCreate */
  created: boolean;
  id: string;
  sameName: number;
  /** find */
  found: { id: string; type: KeyType; createdByCiop: boolean } | null;
  info: KeyInfo | null;
  /** encrypt */
  encrypt: { ok: boolean; code?: string; ckr?: string };
  /** countTokens */
  initialisedTokens: Array<{ label: string; serial: string }>;
  error: { code?: string; message: string; ckr?: string };
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed; undefined at run time when it is not JSON (see {@link ChildReport}). */
  json: ChildReport;
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
      let json: ChildReport | undefined;
      try {
        json = JSON.parse(stdout.trim().split("\n").pop() ?? "") as ChildReport;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json: json as ChildReport });
    });
  });
}

/**
 * The jest run's NSS softokn token (tools/jest/global-setup.cjs), or undefined with the reason
 * printed once when the module or its database is missing: the NSS tests then skip.
 */
export function nssToken(): { library: string; libraryParameters: string; token: string; pin: string } | undefined {
  const library = process.env.CIOP_TEST_NSS_LIB;
  if (!library) {
    console.log(`NSS softokn tests skipped: ${process.env.CIOP_TEST_NSS_SKIP ?? "CIOP_TEST_NSS_LIB is not set"}`);
    return undefined;
  }
  return { library, libraryParameters: process.env.CIOP_TEST_NSS_PARAMS!, token: process.env.CIOP_TEST_NSS_TOKEN!, pin: process.env.CIOP_TEST_NSS_PIN! };
}

/** Opens the NSS softokn test token (call only when {@link nssToken} gave one). */
export function openNssHsm(extra: HsmOptions = {}): Promise<Hsm> {
  const t = nssToken()!;
  return Hsm.open({ library: t.library, libraryParameters: t.libraryParameters, token: t.token, pin: { value: t.pin }, ...extra });
}
