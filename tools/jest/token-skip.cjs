// jest setupFilesAfterEnv (jest.preset.cjs): when the token under test could not be set up
// (global-setup.cjs set CIOP_TEST_TOKEN_SKIP), every test of the file is skipped, and the reason is
// printed once per file, so a token run on a machine without that token says why it ran nothing.
const reason = process.env.CIOP_TEST_TOKEN_SKIP;
if (reason) {
  const kind = process.env.CIOP_TEST_TOKEN_KIND || "the token under test";
  process.stderr.write(`token ${kind} skipped: ${reason}\n`);
  for (const name of ["describe", "test", "it"]) {
    const original = globalThis[name];
    const skip = Object.assign((...args) => original.skip(...args), original, { only: original.skip, each: original.skip.each });
    globalThis[name] = skip;
  }
}
