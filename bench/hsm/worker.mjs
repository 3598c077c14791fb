// One bench/hsm worker thread: a sync AES-GCM loop on its own PKCS#11 session, either raw pkcs11js
// or through its own @ciop/hsm Hsm. The main thread keeps the library initialised and the token
// logged in (C_Initialize here returns CKR_CRYPTOKI_ALREADY_INITIALIZED, C_Login USER_ALREADY_LOGGED_IN).
import { parentPort, workerData } from "node:worker_threads";
import pkcs11js from "pkcs11js";
import { Hsm } from "@ciop/hsm";
import { openRawKey } from "./raw.mjs";

const P = pkcs11js;
const { mode, lib, label, pin, key: keyName, seconds, index } = workerData;
const pt = Buffer.from(workerData.pt);
const aad = Buffer.from(workerData.aad);
const iv = Buffer.alloc(12);
iv.writeUInt32BE(0x10000 + index, 0);
let counter = 0n;
const nextIv = () => {
  iv.writeBigUInt64BE(++counter, 4);
  return iv;
};

let once;
let cleanup = async () => {};
if (mode === "raw") {
  const {
    raw,
    sessions: [s],
    key: k,
  } = openRawKey(lib, label, keyName);
  once = () => {
    raw.C_EncryptInit(s, { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv: nextIv(), ivBits: 96, aad, tagBits: 128 } }, k);
    raw.C_Encrypt(s, pt, Buffer.alloc(48));
  };
  cleanup = async () => raw.C_CloseSession(s);
} else {
  const hsm = await Hsm.open({ library: lib, token: label, pin: { value: pin }, sessionPoolSize: 1 });
  const k = hsm.findKey(keyName);
  once = () => hsm.encryptAesGcm(k, nextIv(), pt, aad);
  cleanup = () => hsm.close();
}

parentPort.once("message", async () => {
  const end = performance.now() + seconds * 1000;
  let ops = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) once();
    ops += 64;
  }
  await cleanup();
  parentPort.postMessage({ ops });
});
parentPort.postMessage({ ready: true });
