/**
 * The binding registry: a small JSON file (by default `salesforce-keys.json` next to the
 * xks-proxy config) that says which cache-only key identifiers exist, which HSM key (CKA_LABEL)
 * holds each DEK, which Salesforce BYOK certificate each is bound to, and whether each is enabled.
 *
 * It holds no key material: the DEK never leaves the HSM through this file, and the certificate is
 * public. Writes are atomic (temp file + rename) under a lock file, so readers (the running server)
 * see either the old or the new registry, and two admin commands never lose each other's changes.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { CiopError, writeFileAtomic } from "@ciop/core";
import { isCacheOnlyKid, type CacheOnlyCertificateFacts } from "@ciop/providers-salesforce";

/** Registry format version. @public */
export const CACHE_ONLY_REGISTRY_VERSION = 1;

/** One cache-only key in the registry. @public */
export interface CacheOnlyKeyEntry {
  kid: string;
  /** CKA_LABEL of the AES-256 DEK in the HSM (equal to the kid). */
  hsmLabel: string;
  /** CKA_ID of the DEK (hex), to notice a key replaced behind our back. */
  hsmId: string;
  state: "enabled" | "disabled";
  createdAt: string;
  /** Time of the last enable/disable. */
  changedAt?: string;
  /** The bound Salesforce BYOK certificate (public), or absent to use the server's configured one. */
  certificate?: CacheOnlyCertificateFacts & { pem: string };
  /** Set on a key made by `rotate`: the key it replaces. */
  rotatedFrom?: string;
  /** Set on a rotated-away key: its successor (it stays servable until disabled). */
  rotatedTo?: string;
}

/** The registry file's content. @public */
export interface CacheOnlyRegistry {
  version: number;
  keys: Record<string, CacheOnlyKeyEntry>;
}

/** An empty registry. @public */
export function emptyRegistry(): CacheOnlyRegistry {
  return { version: CACHE_ONLY_REGISTRY_VERSION, keys: {} };
}

/**
 * Reads the registry at `path`; a missing file is an empty registry.
 * @throws CiopError ERR_CONFIG_INVALID for a file that is not a valid registry.
 * @public
 */
export function readRegistry(path: string): CacheOnlyRegistry {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyRegistry();
    throw new CiopError("ERR_CONFIG_INVALID", `Cannot read the cache-only key registry ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CiopError("ERR_CONFIG_INVALID", `The cache-only key registry ${path} is not valid JSON.`);
  }
  const reg = doc as Partial<CacheOnlyRegistry>;
  if (typeof reg !== "object" || reg === null || reg.version !== CACHE_ONLY_REGISTRY_VERSION || typeof reg.keys !== "object" || reg.keys === null) {
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `The cache-only key registry ${path} has an unknown layout (expected {"version": ${CACHE_ONLY_REGISTRY_VERSION}, "keys": {...}}).`,
    );
  }
  for (const [kid, e] of Object.entries(reg.keys)) {
    if (
      !isCacheOnlyKid(kid) ||
      typeof e !== "object" ||
      e === null ||
      e.kid !== kid ||
      (e.state !== "enabled" && e.state !== "disabled") ||
      typeof e.hsmLabel !== "string"
    ) {
      throw new CiopError("ERR_CONFIG_INVALID", `The cache-only key registry ${path} has an invalid entry ${JSON.stringify(kid)}.`);
    }
  }
  return reg as CacheOnlyRegistry;
}

/** Writes the registry atomically (mode 0600). @public */
export function writeRegistry(path: string, registry: CacheOnlyRegistry): void {
  writeFileAtomic(path, `${JSON.stringify(registry, null, 2)}\n`, { overwrite: true, mode: 0o600 });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs `fn` on the registry under an exclusive lock file (`<path>.lock`), then writes the result.
 * A lock older than 30 s is considered abandoned.
 * @public
 */
export async function updateRegistry<T>(path: string, fn: (registry: CacheOnlyRegistry) => T | Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10_000;
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(lock, "wx", 0o600);
      writeSync(fd, String(process.pid));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) unlinkSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline)
        throw new CiopError("ERR_TIMEOUT", `The cache-only key registry ${path} stayed locked (${lock}); is another admin command running?`);
      await sleep(25);
    }
  }
  try {
    const registry = readRegistry(path);
    const result = await fn(registry);
    writeRegistry(path, registry);
    return result;
  } finally {
    closeSync(fd);
    try {
      unlinkSync(lock);
    } catch {
      /* already removed */
    }
  }
}

/**
 * A registry reader for a long-running server: re-reads the file only when it changed (inode,
 * size or mtime), so an admin command's change is seen on the next request.
 * @public
 */
export class RegistryWatcher {
  private stamp = "";
  private current: CacheOnlyRegistry = emptyRegistry();
  constructor(readonly path: string) {}

  get(): CacheOnlyRegistry {
    let stamp: string;
    try {
      const s = statSync(this.path);
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      stamp = "missing";
    }
    if (stamp !== this.stamp) {
      this.current = readRegistry(this.path);
      this.stamp = stamp;
    }
    return this.current;
  }
}
