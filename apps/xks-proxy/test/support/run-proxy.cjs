// Test support: `node run-proxy.cjs serve --config FILE` runs src/main.ts in its own process
// (argv[1] stays this file, so node:cluster workers start the same way).
require("../../../../tools/jest/ts-register.cjs");
require("../../src/main.ts");
