/**
 * Issue item "AWS key-material rotation": the `aws kms import-key-material` command ciop prints is
 * exact (ImportType, KeyMaterialDescription, KeyMaterialId, quoting), and the description and id
 * are held to AWS's limits (RotationsListEntry: description ≤ 256 of [a-zA-Z0-9:/_\s.-], id = 64
 * lower-case hex; ImportKeyMaterial: no KeyMaterialId with NEW_KEY_MATERIAL). Before this change
 * the module did not exist (the import failed, every test failed).
 */
import {
  AWS_KEY_MATERIAL_DESCRIPTION_MAX,
  AWS_ROTATABLE_KEY_TYPES,
  awsImportKeyMaterialCommand,
  checkKeyMaterialDescription,
  checkKeyMaterialId,
  defaultKeyMaterialDescription,
} from "@ciop/providers-aws";
import { planFailure } from "@ciop/testkit";

const ID = "0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6";

test("NEW_KEY_MATERIAL: the exact command, description single-quoted, no key material id", () => {
  expect(awsImportKeyMaterialCommand({ encryptedKeyMaterialPath: "./k-v2-wrapped", importType: "NEW_KEY_MATERIAL", description: "ciop k v2 2026-12-07" })).toBe(
    'aws kms import-key-material --key-id "$KMS_KEY_ID" --encrypted-key-material fileb://./k-v2-wrapped --import-token fileb://ImportToken.bin ' +
      "--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type NEW_KEY_MATERIAL --key-material-description 'ciop k v2 2026-12-07'",
  );
  // AWS refuses a KeyMaterialId with NEW_KEY_MATERIAL, so ciop never prints one
  expect(planFailure(() => awsImportKeyMaterialCommand({ encryptedKeyMaterialPath: "x", importType: "NEW_KEY_MATERIAL", keyMaterialId: ID })).code).toBe(
    "ERR_USAGE",
  );
});

test("EXISTING_KEY_MATERIAL (a replica): --key-material-id when known; a path with shell characters is quoted", () => {
  expect(
    awsImportKeyMaterialCommand({
      encryptedKeyMaterialPath: "/tmp/out dir/k-v2-wrapped",
      importType: "EXISTING_KEY_MATERIAL",
      keyMaterialId: ID,
      description: "Q2 rotation",
    }),
  ).toBe(
    `aws kms import-key-material --key-id "$KMS_KEY_ID" --encrypted-key-material 'fileb:///tmp/out dir/k-v2-wrapped' --import-token fileb://ImportToken.bin ` +
      `--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL --key-material-id ${ID} --key-material-description 'Q2 rotation'`,
  );
  expect(awsImportKeyMaterialCommand({ encryptedKeyMaterialPath: "it's", importType: "EXISTING_KEY_MATERIAL" })).toContain(`'fileb://it'\\''s'`);
});

test("descriptions AWS would refuse are refused: empty, 257 characters, quotes, newlines, non-ASCII", () => {
  expect(checkKeyMaterialDescription("a".repeat(AWS_KEY_MATERIAL_DESCRIPTION_MAX))).toHaveLength(256);
  expect(checkKeyMaterialDescription("Q2:2026/rotation_1 v2.0-x")).toBe("Q2:2026/rotation_1 v2.0-x");
  for (const bad of ["", "a".repeat(257), "it's", 'say "x"', "two\nlines", "tab\there", "grün", "$(id)", "a;b"]) {
    expect(planFailure(() => checkKeyMaterialDescription(bad)).code).toBe("ERR_USAGE");
  }
});

test("key material ids: exactly 64 lower-case hex digits", () => {
  expect(checkKeyMaterialId(ID)).toBe(ID);
  for (const bad of [ID.toUpperCase(), ID.slice(1), `${ID}0`, `${ID.slice(1)}g`, "", "mrk-1234"])
    expect(planFailure(() => checkKeyMaterialId(bad)).code).toBe("ERR_USAGE");
});

test("the default description passes AWS's rules for every key name and keeps within 256 characters", () => {
  const d = new Date("2026-12-07T23:59:59Z");
  expect(defaultKeyMaterialDescription("my-key.1", 2, d)).toBe("ciop my-key.1 v2 2026-12-07");
  const odd = defaultKeyMaterialDescription("a+b~c€", 3, d);
  expect(odd).toBe("ciop a_b_c_ v3 2026-12-07");
  const long = defaultKeyMaterialDescription("n".repeat(400), 65535, d);
  expect(long.length).toBeLessThanOrEqual(256);
  expect(long.endsWith(" v65535 2026-12-07")).toBe(true);
  for (const s of [odd, long]) expect(checkKeyMaterialDescription(s)).toBe(s);
});

test("only symmetric encryption keys (AES-256) take several key materials", () => {
  expect(AWS_ROTATABLE_KEY_TYPES).toEqual(["AES-256"]);
});
