import { defineConfig } from "tsup";

export default defineConfig({
  // fast-http: also loaded on its own by bench/xks, to put the proxy's fast path in front of its layer servers
  entry: { main: "src/main.ts", "fast-http": "src/http/fast-http.ts" },
  format: ["esm"],
  sourcemap: true,
  clean: true,
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
});
