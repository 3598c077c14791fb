/**
 * Issue 14: reading KeyObject.asymmetricKeyDetails can deadlock Node 20 (see
 * software-engine.ec-keygen-and-parse-survive-gc-pressure.test.ts); the product code reads curve and
 * modulus from DER instead (packages/wrap/src/public-key-facts.ts). This keeps it that way for the
 * whole repository's product code (packages/*\/src, apps/*\/src): a read in code, not in a comment,
 * fails here. Before the fix it found software-engine.ts and parse-wrapping-key.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "../../..");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(c|m)?[jt]s$/.test(name)) out.push(p);
  }
  return out;
}

/** The text with comments removed (good enough for TypeScript sources: no comment markers in strings). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

it("no product source file reads asymmetricKeyDetails", () => {
  const dirs = ["packages", "apps"].flatMap((top) =>
    readdirSync(path.join(root, top))
      .map((d) => path.join(root, top, d, "src"))
      .filter((d) => {
        try {
          return statSync(d).isDirectory();
        } catch {
          return false;
        }
      }),
  );
  expect(dirs.length).toBeGreaterThanOrEqual(10);
  const offenders = dirs.flatMap(sourceFiles).filter((f) => /asymmetricKeyDetails/.test(code(readFileSync(f, "utf8"))));
  expect(offenders.map((f) => path.relative(root, f))).toEqual([]);
});
