// Shared jest settings, spread into every package's jest.config.cjs.
// Workspace packages resolve to their TypeScript sources so tests never run against a stale dist/.
const path = require("node:path");
const root = __dirname;
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" } }] },
  moduleNameMapper: {
    "^@ciop/(hsm|core|wrap|xks|testkit|provider-kit|salesforce-cache-only|providers-[a-z-]+)$": path.join(root, "packages/$1/src/index.ts"),
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  globalSetup: path.join(root, "tools/jest/global-setup.cjs"),
  globalTeardown: path.join(root, "tools/jest/global-teardown.cjs"),
  // A token run whose token could not be set up skips every test, saying why (CIOP_TEST_TOKEN_SKIP).
  setupFilesAfterEnv: [path.join(root, "tools/jest/token-skip.cjs")],
  testTimeout: 60000,
  // A leaked handle must not hold a CI run hostage: results are written, then the process ends.
  forceExit: true,
};
