const preset = require("../../jest.preset.cjs");
// jose (bearer JWT checks of the Salesforce route group) is ESM-only: let swc compile it for the CommonJS test runtime.
module.exports = {
  ...preset,
  transformIgnorePatterns: preset.transformIgnorePatterns ?? ["/node_modules/(?!(\\.pnpm/)?jose)"],
};
