import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // The .byok "generator" member names the ciop version that wrote the file.
  define: { __CIOP_PROVIDERS_AZURE_VERSION__: JSON.stringify(version) },
});
