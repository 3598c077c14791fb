const preset = require("../../jest.preset.cjs");
// jose is ESM-only: let swc compile it for the CommonJS test runtime unless the preset already does.
module.exports = {
  ...preset,
  transformIgnorePatterns: preset.transformIgnorePatterns ?? ["/node_modules/(?!(\\.pnpm/)?jose)"],
};
