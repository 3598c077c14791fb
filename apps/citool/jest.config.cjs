// Most citool tests wait on child processes (citool, openssl, python3, pkcs11-tool): the
// test.concurrent cases run a few at a time.
module.exports = { ...require("../../jest.preset.cjs"), maxConcurrency: 4 };
