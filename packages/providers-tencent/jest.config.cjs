const preset = require("../../jest.preset.cjs");
// jose is ESM-only: let swc compile it for the CommonJS test runtime unless the preset already does.
module.exports = {
  ...preset,
  // a matrix is one test of hundreds of exports: on a loaded CI machine and an out-of-process token
  // it can take minutes (the vault-transit matrix passed 60 s through p11-kit's RPC once)
  testTimeout: 300_000,
  transformIgnorePatterns: preset.transformIgnorePatterns ?? ["/node_modules/(?!(\\.pnpm/)?jose)"],
};
