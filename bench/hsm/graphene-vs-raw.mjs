// bench/hsm/graphene-vs-raw.mjs: the evidence for docs/decisions/001-graphene-pk11.md. The object
// management @ciop/hsm does by hand with pkcs11js (find a key by label and describe it, read a key's
// flags, mechanism list and info) and the AES-GCM hot path, each done the same way through
// graphene-pk11 on the same pkcs11js instance, session and key, interleaved ABBA in one run; ops/s
// medians and the median of the per-round graphene/raw ratios. graphene-pk11 is not a dependency of
// this repository: install it anywhere and point GRAPHENE_PK11 at its folder, e.g.
//   npm i --prefix /tmp/g graphene-pk11@2.3.6 --ignore-scripts   # its pkcs11js is not used
//   GRAPHENE_PK11=/tmp/g/node_modules/graphene-pk11 node bench/hsm/graphene-vs-raw.mjs
// BENCH_SECONDS (default 1) and BENCH_ROUNDS (default 5) as in run.mjs. The token is a throw-away
// SoftHSM2 token made for this run in /dev/shm, holding BENCH_KEYS (default 20) AES keys.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const keyCount = Number(process.env.BENCH_KEYS ?? 20);
const lib = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));
if (!lib) throw new Error("SoftHSM2 is not installed");
if (!process.env.GRAPHENE_PK11) throw new Error("set GRAPHENE_PK11 to an installed graphene-pk11 folder (see the header of this file)");
const graphene = createRequire(join(process.env.GRAPHENE_PK11, "package.json"))("./");
const { default: pkcs11js } = await import("pkcs11js");
const P = pkcs11js;

const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(base, "ciop-bench-graphene-"));
mkdirSync(join(dir, "tokens"));
writeFileSync(
  join(dir, "softhsm2.conf"),
  `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
);
process.env.SOFTHSM2_CONF = join(dir, "softhsm2.conf");
const pin = randomBytes(8).toString("hex");
execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "ciop-graphene", "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], {
  stdio: "ignore",
});

const loadAtStart = loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
const p = new P.PKCS11();
p.load(lib);
p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
const results = [];
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === "ciop-graphene");
  const session = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  p.C_Login(session, P.CKU_USER, pin);
  const names = [];
  for (let i = 0; i < keyCount; i++) {
    const name = `key-${i}`;
    names.push(name);
    p.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_VALUE_LEN, value: 32 },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_LABEL, value: name },
      { type: P.CKA_ID, value: randomBytes(21) },
    ]);
  }

  // graphene over the same library instance and the same session
  const gModule = new graphene.Module(p);
  const gSlot = new graphene.Slot(slot, gModule, p);
  const gSession = new graphene.Session(session, gSlot, p);

  // raw pkcs11js, written the way @ciop/hsm writes it (keys/handles.ts)
  const ulong = (b) => (b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0));
  const rawFind = (template) => {
    p.C_FindObjectsInit(session, template);
    try {
      return p.C_FindObjects(session, 64);
    } finally {
      p.C_FindObjectsFinal(session);
    }
  };
  let n = 0;
  const nextName = () => names[n++ % names.length];
  const rawLookup = () => {
    const name = nextName();
    const [h] = rawFind([
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_LABEL, value: name },
      { type: P.CKA_TOKEN, value: true },
    ]);
    const a = new Map(
      p
        .C_GetAttributeValue(session, h, [{ type: P.CKA_KEY_TYPE }, { type: P.CKA_ID }, { type: P.CKA_LABEL }, { type: P.CKA_VALUE_LEN }])
        .map((x) => [x.type, x.value]),
    );
    return {
      keyType: ulong(a.get(P.CKA_KEY_TYPE)),
      id: a.get(P.CKA_ID).toString("hex"),
      label: a.get(P.CKA_LABEL).toString("utf8"),
      valueLen: ulong(a.get(P.CKA_VALUE_LEN)),
    };
  };
  const gLookup = () => {
    const name = nextName();
    const o = gSession.find({ class: graphene.ObjectClass.SECRET_KEY, label: name, token: true }).items(0);
    const a = o.getAttribute({ keyType: null, id: null, label: null, valueLen: null });
    return { keyType: a.keyType, id: a.id.toString("hex"), label: a.label, valueLen: a.valueLen };
  };
  const [h0] = rawFind([{ type: P.CKA_LABEL, value: names[0] }]);
  const gKey = new graphene.SessionObject(h0, gSession, p).toType();
  const rawFlags = () => {
    const a = p.C_GetAttributeValue(session, h0, [{ type: P.CKA_ENCRYPT }, { type: P.CKA_DECRYPT }, { type: P.CKA_EXTRACTABLE }, { type: P.CKA_SENSITIVE }]);
    return { encrypt: a[0].value[0] === 1, decrypt: a[1].value[0] === 1, extractable: a[2].value[0] === 1, sensitive: a[3].value[0] === 1 };
  };
  const gFlags = () => gKey.getAttribute({ encrypt: null, decrypt: null, extractable: null, sensitive: null });
  const rawMechs = () => {
    const list = p.C_GetMechanismList(slot);
    return { count: list.length, gcm: p.C_GetMechanismInfo(slot, P.CKM_AES_GCM).maxKeySize };
  };
  // the list, then one Mechanism object (iterating the list's items would read every mechanism's info)
  const gMechs = () => ({ count: gSlot.getMechanisms().length, gcm: new graphene.Mechanism(P.CKM_AES_GCM, P.CKM_AES_GCM, slot, p).maxKeySize });
  const pt = randomBytes(32);
  const aad = randomBytes(32);
  const iv = Buffer.alloc(12);
  let ivn = 0n;
  const nextIv = () => {
    iv.writeBigUInt64BE(++ivn, 4);
    return iv;
  };
  const rawGcm = () => {
    p.C_EncryptInit(session, { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv: nextIv(), ivBits: 96, aad, tagBits: 128 } }, h0);
    return p.C_Encrypt(session, pt, Buffer.alloc(48));
  };
  const gGcm = () => gSession.createCipher({ name: "AES_GCM", params: new graphene.AesGcmParams(nextIv(), aad, 128) }, gKey).once(pt, Buffer.alloc(48));

  // both sides must agree before they are timed
  const same = (a, b, what) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: raw ${JSON.stringify(a)} != graphene ${JSON.stringify(b)}`);
  };
  n = 0;
  const l1 = rawLookup();
  n = 0;
  same(l1, gLookup(), "lookup");
  same(rawFlags(), gFlags(), "flags");
  same(rawMechs(), gMechs(), "mechanisms");
  ivn = 0n;
  const c1 = rawGcm();
  ivn = 0n;
  same(c1.toString("hex"), gGcm().toString("hex"), "AES-GCM");

  const timed = (once) => {
    const end = performance.now() + seconds * 1000;
    let k = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 16; i++) once();
      k += 16;
    }
    return k / seconds;
  };
  const pairs = [
    { path: `find a key by label + read type/id/label/length (${keyCount} keys)`, raw: rawLookup, graphene: gLookup },
    { path: "read 4 CK_BBOOL attributes of a key", raw: rawFlags, graphene: gFlags },
    { path: "mechanism list + info of CKM_AES_GCM", raw: rawMechs, graphene: gMechs },
    { path: "AES-256-GCM encrypt, 32 B + 32 B AAD, sync", raw: rawGcm, graphene: gGcm },
  ];
  for (const f of [rawLookup, gLookup, rawFlags, gFlags, rawGcm, gGcm]) timed(f); // warm-up
  const median = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  for (const pair of pairs) {
    const r = [];
    const g = [];
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        r.push(timed(pair.raw));
        g.push(timed(pair.graphene));
      } else {
        g.push(timed(pair.graphene));
        r.push(timed(pair.raw));
      }
    }
    results.push({ path: pair.path, raw: median(r), graphene: median(g), ratio: median(g.map((x, i) => x / r[i])) });
  }
  p.C_CloseSession(session);
} finally {
  try {
    p.C_Finalize();
  } catch {
    /* ignore */
  }
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (x) => (x >= 10000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const gv = createRequire(join(process.env.GRAPHENE_PK11, "package.json"))("./package.json").version;
console.log(
  `\ngraphene-pk11 ${gv} vs raw pkcs11js, same instance/session/key, SoftHSM2 token in ${base}; medians of ${rounds} x ${seconds} s, ABBA; Node ${process.version}; load average at start ${loadAtStart}\n`,
);
const w = Math.max(...results.map((r) => r.path.length));
console.log(`| ${"operation".padEnd(w)} | raw ops/s | graphene ops/s | graphene / raw |`);
console.log(`|${"-".repeat(w + 2)}|----------:|---------------:|---------------:|`);
for (const r of results)
  console.log(`| ${r.path.padEnd(w)} | ${fmt(r.raw).padStart(9)} | ${fmt(r.graphene).padStart(14)} | ${r.ratio.toFixed(2).padStart(14)} |`);
