/**
 * citool's file writing, in-process: the files of one export appear all together or not at all,
 * --force replaces files only once every new one is in place (the old ones come back on failure),
 * no temporary file is left behind, and creating the audit log's directory cannot hang.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Artefact } from "@ciop/wrap";
import { ensureDir, writeArtefacts } from "../src/commands/export-files.js";
import { tempDir } from "./helpers.js";

const art = (fileName: string, text: string): Artefact => ({ fileName, bytes: new TextEncoder().encode(text), encoding: "binary", usage: "test" }) as Artefact;

test("two new files: both written with their sha256s, nothing else in the directory", () => {
  const dir = tempDir("wa-ok");
  const w = writeArtefacts([art("k-wrapped", "one"), art("k-hash", "two")], dir, false);
  expect(readdirSync(dir).sort()).toEqual(["k-hash", "k-wrapped"]);
  expect(readFileSync(join(dir, "k-wrapped"), "utf8")).toBe("one");
  expect(w.map((x) => x.sha256)).toEqual([
    "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed",
    "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3",
  ]);
});

test("the second file exists: exit with ERR_OUTPUT_EXISTS and the first file is removed again", () => {
  const dir = tempDir("wa-exists");
  writeFileSync(join(dir, "k-hash"), "precious");
  expect(() => writeArtefacts([art("k-wrapped", "one"), art("k-hash", "two")], dir, false)).toThrow(expect.objectContaining({ code: "ERR_OUTPUT_EXISTS" }));
  expect(readdirSync(dir)).toEqual(["k-hash"]);
  expect(readFileSync(join(dir, "k-hash"), "utf8")).toBe("precious");
});

test("--force: replaced files come back when a later file cannot be written", () => {
  const dir = tempDir("wa-force-fail");
  writeFileSync(join(dir, "k-wrapped"), "old wrapped");
  mkdirSync(join(dir, "k-hash")); // appeared after the up-front checks
  expect(() => writeArtefacts([art("k-wrapped", "new"), art("k-hash", "two")], dir, true)).toThrow();
  expect(readdirSync(dir).sort()).toEqual(["k-hash", "k-wrapped"]);
  expect(readFileSync(join(dir, "k-wrapped"), "utf8")).toBe("old wrapped");
  expect(statSync(join(dir, "k-hash")).isDirectory()).toBe(true);
});

test("--force: every file replaced, no moved-aside or temporary file left", () => {
  const dir = tempDir("wa-force-ok");
  writeFileSync(join(dir, "k-wrapped"), "old 1");
  writeFileSync(join(dir, "k-hash"), "old 2");
  writeArtefacts([art("k-wrapped", "new 1"), art("k-hash", "new 2")], dir, true);
  expect(readdirSync(dir).sort()).toEqual(["k-hash", "k-wrapped"]);
  expect(readFileSync(join(dir, "k-hash"), "utf8")).toBe("new 2");
});

test("a provider file name with a path in it is refused, and nothing stays written", () => {
  const dir = tempDir("wa-unsafe");
  expect(() => writeArtefacts([art("ok", "1"), art("../escape", "2")], dir, false)).toThrow(/unsafe file name/);
  expect(readdirSync(dir)).toEqual([]);
});

test("ensureDir creates missing levels 0700, and fails (does not hang) where mkdir cannot work", () => {
  const dir = join(tempDir("wa-dir"), "a", "b", "c");
  ensureDir(dir);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(() => ensureDir("/proc/citool-test/x")).toThrow(expect.objectContaining({ code: "ENOENT" }));
  const file = join(dir, "f");
  writeFileSync(file, "");
  expect(() => ensureDir(join(file, "sub"))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
});
