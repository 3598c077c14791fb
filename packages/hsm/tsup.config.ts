import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // import.meta.url in the CommonJS build too (offload/pool.ts finds pkcs11js for its worker threads)
  shims: true,
});
