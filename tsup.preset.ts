/**
 * The build every published package shares: one entry (src/index.ts), ESM and CommonJS with type
 * declarations and source maps, for Node 20. A package adds what only it needs with `overrides`.
 */
import { defineConfig, type Options } from "tsup";

export const LIBRARY_BUILD: Options = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
};

/** tsup's config for a library package: {@link LIBRARY_BUILD} plus the package's own options. */
export function libraryConfig(overrides: Options = {}) {
  return defineConfig({ ...LIBRARY_BUILD, ...overrides });
}
