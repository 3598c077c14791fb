/**
 * export() for IBM Key Protect's import-token flow: RSA-OAEP-SHA-256 of the key under the import
 * token's public key (`payload`), and the token's nonce encrypted with AES-GCM under the key being
 * imported (`encryptedNonce` = ciphertext ‖ tag, `iv`), plus the create-key request body. Writes nothing.
 */
import { exportStep } from "@ciop/provider-kit";
import { toBase64 } from "@ciop/wrap";
import type { ExportPlan, ExportResult, TargetKey, WrapEngine } from "@ciop/wrap";
import { parseIbmNonce } from "./nonce.js";
import { IBM_KP_ALGORITHM_STEPS, IBM_KP_KEY_CONTENT_TYPE, ibmKeyProtectFileNames } from "./rules.js";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Produces `<key>-payload`, `<key>-encryptedNonce`, `<key>-iv` (base64 text, no line break) and
 * `<key>-create-key.json` (the `POST /api/v2/keys` body with those three values) for a plan made
 * by {@link planIbmKeyProtect}.
 * @public
 */
export async function exportIbmKeyProtect(plan: ExportPlan, engine: WrapEngine, target: TargetKey): Promise<ExportResult> {
  const step = exportStep(plan, target, IBM_KP_ALGORITHM_STEPS, "IBM Key Protect");
  const nonce = parseIbmNonce(plan.extra.nonce);
  const wrapped = await engine.rsaOaep(plan.wrappingKey, target, step.hash);
  const sealed = await engine.aesGcmUnderTarget(target, nonce);
  const payload = toBase64(wrapped.bytes);
  const encryptedNonce = toBase64(sealed.bytes);
  const iv = toBase64(sealed.iv);
  const body = {
    metadata: { collectionType: IBM_KP_KEY_CONTENT_TYPE, collectionTotal: 1 },
    resources: [
      {
        type: IBM_KP_KEY_CONTENT_TYPE,
        name: plan.keyName,
        extractable: false,
        payload,
        encryptionAlgorithm: plan.algorithm,
        encryptedNonce,
        iv,
      },
    ],
  };
  const [payloadFile, nonceFile, ivFile, bodyFile] = ibmKeyProtectFileNames(plan.keyName);
  const cli = `ibmcloud kp key create ${plan.keyName} -k "$(cat ${payloadFile})" -n "$(cat ${nonceFile})" -v "$(cat ${ivFile})"`;
  const api =
    `curl -X POST "https://<region>.kms.cloud.ibm.com/api/v2/keys" -H "authorization: Bearer <IAM token>" -H "bluemix-instance: <instance ID>" ` +
    `-H "content-type: ${IBM_KP_KEY_CONTENT_TYPE}" --data @${bodyFile}`;
  const with3 = `Use it with the other two files of this export, before the import token expires: ${cli}, or ${api}.`;
  return {
    plan,
    artefacts: [
      {
        fileName: payloadFile,
        bytes: text(payload),
        encoding: "base64",
        usage: `The ${plan.keyType} root key encrypted with the import token's public key (${plan.algorithm}): the create-key "payload". ${with3}`,
      },
      {
        fileName: nonceFile,
        bytes: text(encryptedNonce),
        encoding: "base64",
        usage: `The import token's nonce encrypted with AES-GCM under the key itself (ciphertext and 16-byte tag): the create-key "encryptedNonce". ${with3}`,
      },
      {
        fileName: ivFile,
        bytes: text(iv),
        encoding: "base64",
        usage: `The 12-byte AES-GCM IV of the encrypted nonce: the create-key "iv". ${with3}`,
      },
      {
        fileName: bodyFile,
        bytes: text(JSON.stringify(body, null, 2)),
        encoding: "json",
        usage: `The complete create-key request for a root key named "${plan.keyName}" (payload, encryptedNonce, iv, encryptionAlgorithm ${plan.algorithm}). Send it with ${api}.`,
      },
    ],
    hostFallback: wrapped.hostFallback || sealed.hostFallback,
    steps: [...wrapped.steps, ...sealed.steps],
  };
}
