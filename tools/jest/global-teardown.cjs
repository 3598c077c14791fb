// Removes the token directory made by global-setup.cjs in this same process (never one inherited
// from an outer run), after stopping the p11-kit server it started (if any). Set CIOP_KEEP_TEST_TOKEN=1 to keep it for a post-mortem.
const fs = require("node:fs");
module.exports = async function globalTeardown() {
  // The p11-kit server global-setup.cjs started for CIOP_TEST_TOKEN=p11-kit-rpc.
  await globalThis.__ciopP11KitServer?.stop();
  const dir = globalThis.__ciopCreatedTestDir;
  if (dir && !process.env.CIOP_KEEP_TEST_TOKEN) fs.rmSync(dir, { recursive: true, force: true });
};
