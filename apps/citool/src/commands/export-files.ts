/**
 * The export's files: the output directory and the files a provider declared (checked before any
 * key exists), writing the artefacts all or none, and the audit log's place.
 */
import { createHash, randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, renameSync, type Stats, statSync, unlinkSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CiopError, writeFileAtomic } from "@ciop/core";
import type { Artefact } from "@ciop/wrap";
import type { Settings } from "../config.js";
import { usageError } from "../errors.js";
import type { Io } from "../io.js";

export interface WrittenArtefact {
  path: string;
  fileName: string;
  sha256: string;
  size: number;
  encoding: Artefact["encoding"];
  usage: string;
}

/** `p` relative to the working directory when it is below it (`./x`), else as given. */
export function displayPath(p: string, io: Io): string {
  const r = relative(io.cwd, p);
  return r.startsWith("..") || r === "" ? p : `./${r}`;
}

export function checkOutDir(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    throw usageError(`output directory ${dir} does not exist; create it or choose another with --out-dir`);
  }
  if (!st.isDirectory()) throw usageError(`output directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw usageError(`output directory ${dir} is not writable`);
  }
}

/**
 * Refuses (ERR_OUTPUT_EXISTS) when one of `files` is already in `outDir`, unless `force` is set;
 * even with `force`, only regular files are replaced.
 */
export function checkOutputFiles(files: readonly string[], outDir: string, force: boolean, io: Io): void {
  for (const name of files) {
    const p = join(outDir, name);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      continue; // not there: fine
    }
    if (!force) {
      throw new CiopError("ERR_OUTPUT_EXISTS", `output file ${displayPath(p, io)} already exists; move it away or pass --force to replace it`, {
        details: { path: p },
      });
    }
    if (!st.isFile()) {
      throw new CiopError("ERR_OUTPUT_EXISTS", `${displayPath(p, io)} exists and is not a regular file; --force replaces only files, so move it away`, {
        details: { path: p },
      });
    }
  }
}

/**
 * Writes every artefact or none. Each file is written atomically (temporary file, fsync, link into
 * place, so an existing file is never overwritten by accident). With `force`, a file being replaced
 * is first moved aside and only deleted once every artefact is in place; when a later write fails,
 * the files this run created are removed and the moved-aside ones are put back.
 */
export function writeArtefacts(artefacts: readonly Artefact[], outDir: string, force: boolean): WrittenArtefact[] {
  const created: string[] = [];
  const movedAside: Array<{ path: string; aside: string }> = [];
  const written: WrittenArtefact[] = [];
  try {
    for (const a of artefacts) {
      if (a.fileName.includes("/") || a.fileName.includes("\\") || a.fileName === "." || a.fileName === "..") {
        throw new CiopError("ERR_INTERNAL", `provider produced an unsafe file name ${JSON.stringify(a.fileName)}`);
      }
      const path = join(outDir, a.fileName);
      if (force && isRegularFile(path)) {
        const aside = join(outDir, `.${a.fileName}.${randomBytes(6).toString("hex")}.replaced`);
        renameSync(path, aside);
        movedAside.push({ path, aside });
      }
      writeFileAtomic(path, a.bytes, { overwrite: false, mode: 0o644 });
      created.push(path);
      written.push({
        path,
        fileName: a.fileName,
        sha256: createHash("sha256").update(a.bytes).digest("hex"),
        size: a.bytes.length,
        encoding: a.encoding,
        usage: a.usage,
      });
    }
  } catch (err) {
    for (const p of created) {
      try {
        unlinkSync(p);
      } catch {
        /* already gone */
      }
    }
    for (const m of movedAside.reverse()) {
      try {
        renameSync(m.aside, m.path);
      } catch {
        /* leave the copy where it is rather than lose it */
      }
    }
    throw err;
  }
  for (const m of movedAside) {
    try {
      unlinkSync(m.aside);
    } catch {
      /* already gone */
    }
  }
  return written;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * `mkdir -p` one level at a time. Node's `mkdirSync(..., { recursive: true })` never returns for a
 * path under a directory where mkdir fails with ENOENT although the parent exists (e.g. /proc/x/y),
 * so the walk is done here: find the deepest existing ancestor, then create each missing level.
 */
export function ensureDir(dir: string, mode = 0o700): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    let st: Stats;
    try {
      st = statSync(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      missing.push(cur);
      const parent = dirname(cur);
      if (parent === cur) break;
      cur = parent;
      continue;
    }
    if (!st.isDirectory()) throw Object.assign(new Error(`${cur} is not a directory`), { code: "ENOTDIR" });
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      // another process (a concurrent export) made it between the stat and here: fine if it is a directory
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(d).isDirectory()) throw err;
    }
  }
}

/** Fails early (before any key exists) when the audit log cannot be appended to. */
export function checkAuditLogWritable(settings: Settings): void {
  const path = settings.auditLog;
  if (path === null) return;
  try {
    ensureDir(dirname(path));
    if (existsSync(path) && statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    closeSync(openSync(path, "a", 0o600));
  } catch (err) {
    throw new CiopError(
      "ERR_CONFIG_INVALID",
      `audit log ${path} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another with --audit-log, or --audit-log off`,
    );
  }
}
