// Test support: `node run-proxy.cjs serve --config FILE` runs src/main.ts in its own process.
require("./ts-register.cjs");
process.argv.splice(1, 1, require("node:path").resolve(__dirname, "../../src/main.ts"));
require("../../src/main.ts");
