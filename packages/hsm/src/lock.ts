import { promises as fsp, mkdirSync, chmodSync } from "node:fs";
import path from "node:path";
import { CiopError } from "@ciop/core";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** In-process queue so two Hsm instances of one process serialise too (the file lock alone would see "our" pid). */
const localQueues = new Map<string, Promise<void>>();

/**
 * Runs `fn` while holding an exclusive lock file (created with O_EXCL). A lock whose owner process is
 * gone, or older than `staleMs`, is broken. Waiting is asynchronous (never blocks the event loop).
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: { timeoutMs?: number; staleMs?: number } = {}): Promise<T> {
  const prev = localQueues.get(lockPath) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  localQueues.set(lockPath, chained);
  await prev;
  try {
    await acquire(lockPath, opts.timeoutMs ?? 180_000, opts.staleMs ?? 600_000);
    try {
      return await fn();
    } finally {
      await fsp.unlink(lockPath).catch(() => undefined);
    }
  } finally {
    release();
    if (localQueues.get(lockPath) === chained) localQueues.delete(lockPath);
  }
}

async function acquire(lockPath: string, timeoutMs: number, staleMs: number): Promise<void> {
  mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, "wx", 0o600);
      await fh.writeFile(`${process.pid}\n${Date.now()}\n`);
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    try {
      const content = await fsp.readFile(lockPath, "utf8");
      const [pidText, atText] = content.split("\n");
      const pid = Number(pidText);
      const at = Number(atText);
      const complete = content.endsWith("\n") && pidText !== "" && atText !== "";
      if (complete && ((pid !== process.pid && !pidAlive(pid)) || Date.now() - at > staleMs)) {
        // Break the stale lock only if it still holds what we read.
        const again = await fsp.readFile(lockPath, "utf8").catch(() => "");
        if (again === content) await fsp.unlink(lockPath).catch(() => undefined);
        continue;
      }
    } catch {
      continue; // vanished between open and read: try again at once
    }
    if (Date.now() > deadline) {
      throw new CiopError("ERR_TIMEOUT", `timed out after ${timeoutMs} ms waiting for the lock ${lockPath} (held by another ciop process)`);
    }
    await sleep(20 + Math.floor(Math.random() * 60));
  }
}

/** mkdir -p with mode 0700, and tighten an existing directory to 0700. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}
