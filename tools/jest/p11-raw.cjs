// Plain pkcs11js access to a test token, for the test support scripts that read (or make) objects
// the way OpenSC's pkcs11-tool would on a token it cannot open (one whose module needs C_Initialize
// library parameters, e.g. NSS softokn). No ciop code, so those checks stay independent of ciop.
//   const t = openRawToken({ lib, params, label });  // C_Initialize with OS locking (+ parameters)
//   const { s, find, attr } = t.login(pin, { rw });   // a logged-in session and two small helpers
//   ...; t.close();                                   // C_Finalize
const path = require("node:path");

const P = require(require.resolve("pkcs11js", { paths: [path.resolve(__dirname, "../../packages/hsm")] }));

/** A label as PKCS#11 pads it (spaces, NULs) without the padding. */
const trim = (s) => s.replace(/[\s\0]+$/, "");

function openRawToken({ lib, params, label }) {
  const p = new P.PKCS11();
  p.load(lib);
  // OS locking: p11-kit's RPC client answers CKR_CANT_LOCK to an initialisation without it
  p.C_Initialize({ ...(params ? { libraryParameters: params } : {}), flags: P.CKF_OS_LOCKING_OK });
  try {
    const slot = p.C_GetSlotList(true).find((s) => trim(p.C_GetTokenInfo(s).label) === label);
    if (slot === undefined) throw new Error(`no token labelled ${label}`);
    return {
      P,
      p,
      slot,
      login(pin, { rw = false } = {}) {
        const s = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | (rw ? P.CKF_RW_SESSION : 0));
        p.C_Login(s, P.CKU_USER, pin);
        const find = (template) => {
          p.C_FindObjectsInit(s, template);
          const out = [];
          for (let h = p.C_FindObjects(s); h; h = p.C_FindObjects(s)) out.push(h);
          p.C_FindObjectsFinal(s);
          return out;
        };
        /** One attribute's value, or undefined where the token will not give it. */
        const attr = (h, type) => {
          try {
            return p.C_GetAttributeValue(s, h, [{ type }])[0].value;
          } catch {
            return undefined;
          }
        };
        return { s, find, attr };
      },
      close() {
        p.C_Finalize();
      },
    };
  } catch (err) {
    p.C_Finalize();
    throw err;
  }
}

module.exports = { P, trim, openRawToken };
