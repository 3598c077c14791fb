/**
 * Issue 14, item 6. Before: `jwt_key` without `jwt_audience` was accepted, and then a token the
 * same key signed for any other service (another audience) authenticated the Salesforce route.
 * Now the config is refused without an audience, and a token for another audience (or, when
 * `jwt_issuer` is set, another issuer) is answered 401. Tokens are minted with jose.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { SignJWT } from "jose";
import { Authenticator } from "../src/salesforce/auth.js";
import { parseSalesforceSection } from "../src/salesforce/config.js";

let dir: string;
let signer: KeyObject;
let stranger: KeyObject;

beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.CIOP_TEST_DIR!, "sf-jwt-aud-"));
  const a = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const b = generateKeyPairSync("rsa", { modulusLength: 2048 });
  signer = a.privateKey;
  stranger = b.privateKey;
  writeFileSync(path.join(dir, "signer.pub.pem"), a.publicKey.export({ type: "spki", format: "pem" }));
});

const mint = (key: KeyObject, claims: { aud?: string; iss?: string }): Promise<string> => {
  let j = new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuedAt().setExpirationTime("2m");
  if (claims.aud !== undefined) j = j.setAudience(claims.aud);
  if (claims.iss !== undefined) j = j.setIssuer(claims.iss);
  return j.sign(key);
};
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, socket: { remoteAddress: "10.1.2.3" } }) as unknown as IncomingMessage;

test("jwt_key without jwt_audience is refused, with a message naming the missing setting", () => {
  expect(() => parseSalesforceSection({ auth: { jwt_key: "signer.pub.pem" } }, dir)).toThrow(
    expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(/jwt_audience is required with jwt_key/) }),
  );
});

test("right key, wrong audience: 401; right audience: accepted; no audience claim: 401", async () => {
  const auth = new Authenticator(parseSalesforceSection({ auth: { jwt_key: "signer.pub.pem", jwt_audience: "ciop-cache-only" } }, dir).auth);
  expect(await auth.authenticate(bearer(await mint(signer, { aud: "some-other-service" })))).toMatchObject({ ok: false, status: 401, error: "Unauthorized" });
  expect(await auth.authenticate(bearer(await mint(signer, {})))).toMatchObject({ ok: false, status: 401 });
  expect(await auth.authenticate(bearer(await mint(stranger, { aud: "ciop-cache-only" })))).toMatchObject({ ok: false, status: 401 });
  expect(await auth.authenticate(bearer(await mint(signer, { aud: "ciop-cache-only" })))).toEqual({ ok: true, method: "bearer" });
});

test("jwt_issuer, when set, is checked: another issuer gets 401", async () => {
  const auth = new Authenticator(
    parseSalesforceSection({ auth: { jwt_key: "signer.pub.pem", jwt_audience: "ciop-cache-only", jwt_issuer: "00Dxx0000001gEREAY" } }, dir).auth,
  );
  expect(await auth.authenticate(bearer(await mint(signer, { aud: "ciop-cache-only", iss: "00Dother" })))).toMatchObject({ ok: false, status: 401 });
  expect(await auth.authenticate(bearer(await mint(signer, { aud: "ciop-cache-only" })))).toMatchObject({ ok: false, status: 401 });
  expect(await auth.authenticate(bearer(await mint(signer, { aud: "ciop-cache-only", iss: "00Dxx0000001gEREAY" })))).toEqual({ ok: true, method: "bearer" });
});
