import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic, CiopError } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ciop-core-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("writes the whole file and leaves no temporary file behind", () => {
  const p = join(dir, "out.bin");
  writeFileAtomic(p, Buffer.from([1, 2, 3]));
  expect([...readFileSync(p)]).toEqual([1, 2, 3]);
  expect(readdirSync(dir)).toEqual(["out.bin"]);
});

test("refuses to replace an existing file without overwrite, keeping its content", () => {
  const p = join(dir, "out.bin");
  writeFileSync(p, "old");
  let err: unknown;
  try {
    writeFileAtomic(p, "new");
  } catch (e) {
    err = e;
  }
  expect(CiopError.isInstance(err) && err.code).toBe("ERR_OUTPUT_EXISTS");
  expect(readFileSync(p, "utf8")).toBe("old");
  expect(readdirSync(dir)).toEqual(["out.bin"]);
});

test("replaces an existing file when overwrite is set", () => {
  const p = join(dir, "out.bin");
  writeFileSync(p, "old");
  writeFileAtomic(p, "new", { overwrite: true });
  expect(readFileSync(p, "utf8")).toBe("new");
});

test("applies the requested file mode", () => {
  const p = join(dir, "secret");
  writeFileAtomic(p, "x", { mode: 0o600 });
  const { statSync } = require("node:fs") as typeof import("node:fs");
  expect(statSync(p).mode & 0o777).toBe(0o600);
});
