import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

/**
 * Two files, so that a cold start reads and links as few modules as possible (bench/citool):
 * - dist/cli.js: the dispatcher and the export, inspect and keys commands. Their modules are
 *   still evaluated only when the command runs (esbuild turns each `await import()` of them into a
 *   lazy initialiser), but one file replaces a chunk per shared piece. Without code splitting a
 *   static import of a package anywhere in the bundle is hoisted to the top of the file, so the
 *   commands import the packages only some of them need (@ciop/hsm, the providers) with
 *   `await import()`.
 * - dist/salesforce-cache-only.js: that command, whose packages (@ciop/salesforce-cache-only,
 *   @ciop/providers-salesforce) it imports statically; the dispatcher loads it only for that command.
 */
export default defineConfig({
  entry: { cli: "src/cli.ts", "salesforce-cache-only": "src/commands/salesforce-cache-only.ts" },
  format: ["esm"],
  splitting: false,
  sourcemap: true,
  clean: true,
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
  define: { __CITOOL_VERSION__: JSON.stringify(version) },
  esbuildPlugins: [
    {
      name: "salesforce-cache-only-as-its-own-file",
      setup(build) {
        build.onResolve({ filter: /^\.\/commands\/salesforce-cache-only\.js$/ }, (args) =>
          /[/\\]src[/\\]run\.ts$/.test(args.importer) ? { path: "./salesforce-cache-only.js", external: true } : undefined,
        );
      },
    },
  ],
});
