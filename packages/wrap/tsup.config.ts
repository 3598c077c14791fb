import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // import.meta.url in the CommonJS build too (asn1-libs.ts loads the ASN.1 libraries on first use)
  shims: true,
});
