/**
 * Test support shared by the provider packages' jest suites. Jest maps "@ciop/testkit" to this
 * file (jest.preset.cjs), so the suites run these sources directly; nothing is built or published.
 */
export {
  KAT,
  katKind,
  softwareFixture,
  openTestHsm,
  testTokenKind,
  hsmFixture,
  testNssToken,
  openTestNssHsm,
  nssFixture,
  rpcFixture,
  engines,
  type EngineFixture,
} from "./engines.js";
export {
  PYTHON,
  testToken,
  scratchDir,
  opensslRsa,
  opensslEcSpki,
  pythonCertificate,
  pythonUnwrap,
  writeArtefact,
  readText,
  hex,
  type TestKeyPair,
  type UnwrapCase,
  type UnwrapResult,
} from "./harness.js";
export {
  combos,
  comboId,
  inTokenOnSoftHsm,
  inTokenOnNss,
  inTokenByProbe,
  notPossibleOn,
  noHostHandOff,
  runMatrix,
  expectRefused,
  STRENGTH,
  tooWeak,
  PKCS8_BYTES,
  directPlaintextBytes,
  oaepCapacity,
  badWrappingKeys,
  type Scheme,
  type Hash,
  type Combo,
  type Expectation,
  type MatrixSpec,
  type MatrixOutcome,
  type BadWrappingKey,
} from "./matrix.js";
export { rsaWrappingKeys, ecWrappingKey, certificatePair, rsaKeyPairs, type RsaKeyPairs } from "./wrapping-keys.js";
export {
  planFailure,
  describeOnEachEngine,
  exportRequests,
  expectBadWrappingKeysRefused,
  UNSAFE_KEY_NAMES,
  expectUnsafeKeyNamesRefused,
  refusedWhereNotPossible,
  exportCreatingKey,
} from "./provider-suites.js";
export { decryptCacheOnlyJwe, pythonAesGcm, type DecryptedJwe } from "./jwe.js";
