// Fuzz cases built on SigV4-signed XKS requests: controls (must succeed), mutated JSON bodies
// under a valid signature, mutated signature headers, and bad or missing signatures.
import { amzDate } from "./sigv4.mjs";
import { render, signedRequest, utf8 } from "./wire.mjs";

const OPS = ["Encrypt", "Decrypt", "GetKeyMetadata", "GetHealthStatus"];
const OP_PATH = { Encrypt: "encrypt", Decrypt: "decrypt", GetKeyMetadata: "metadata" };
const b64 = (b) => Buffer.from(b).toString("base64");

export function apiPath(prefix, op, keyId) {
  return op === "GetHealthStatus" ? `${prefix}/kms/xks/v1/health` : `${prefix}/kms/xks/v1/keys/${keyId}/${OP_PATH[op]}`;
}

function metadata(ctx, id, op, store) {
  if (op === "GetHealthStatus") return { kmsRequestId: `fuzz-${id}`, kmsOperation: "KmsHealthCheck" };
  return {
    awsPrincipalArn: store.principal ?? ctx.principal,
    kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/0b4f5a0e-fuzz",
    kmsOperation: op === "GetKeyMetadata" ? "CreateKey" : op,
    kmsRequestId: `fuzz-${id}`,
  };
}

/** A valid body for `op` (a decrypt body comes from a ciphertext the proxy made at start). */
export function validBody(ctx, rng, id, op, store) {
  const requestMetadata = metadata(ctx, id, op, store);
  if (op === "Encrypt") {
    const b = { requestMetadata, plaintext: b64(rng.bytes(rng.range(1, 64))), encryptionAlgorithm: "AES_GCM" };
    if (rng.chance(0.6)) b.additionalAuthenticatedData = b64(rng.bytes(rng.range(1, 128)));
    if (rng.chance(0.3)) b.ciphertextDataIntegrityValueAlgorithm = "SHA_256";
    return b;
  }
  if (op === "Decrypt") {
    const c = rng.pick(ctx.ciphertexts);
    const b = {
      requestMetadata,
      ciphertext: c.ciphertext,
      encryptionAlgorithm: "AES_GCM",
      initializationVector: c.initializationVector,
      authenticationTag: c.authenticationTag,
    };
    if (c.additionalAuthenticatedData !== undefined) b.additionalAuthenticatedData = c.additionalAuthenticatedData;
    if (c.ciphertextMetadata !== undefined) b.ciphertextMetadata = c.ciphertextMetadata;
    return b;
  }
  return { requestMetadata };
}

// ------------------------------------------------------------------ value and body mutations
function weirdValue(rng) {
  return rng.pick([
    () => null,
    () => true,
    () => false,
    () => 0,
    () => -1,
    () => 1e308,
    () => -1e308,
    () => 1.5,
    () => 2 ** 53 + 1,
    () => "",
    () => " ",
    () => "A",
    () => "A".repeat(rng.range(1000, 20000)),
    () => "\u{1F600}\u202e\u0301\uFEFF",
    () => "\u0000\u0001\u001f\u007f",
    () => "\ud800",
    () => "\udfff\ud800",
    () => "NaN",
    () => "-0",
    () => [],
    () => [1, "a", null],
    () => ({}),
    () => ({ a: { b: [] } }),
    () => "QUJD\nRA==",
    () => "QUJD RA==",
    () => "QUJ*",
    () => "====",
    () => "QQ",
    () => "QQ=",
    () => "-_-_",
    () =>
      b64(rng.bytes(rng.range(0, 40)))
        .replace(/\+/g, "-")
        .replace(/\//g, "_"),
    () => b64(rng.bytes(rng.range(0, 40))).replace(/=+$/, ""),
    () => b64(rng.bytes(rng.pick([0, 1, 11, 12, 13, 15, 16, 17, 20, 21, 32]))),
    () => b64(rng.bytes(rng.pick([4299, 4300, 4301, 6000]))),
    () => b64(rng.bytes(rng.pick([8191, 8192, 8193, 12000]))),
    () => `${b64(rng.bytes(9))}${"A".repeat(rng.range(1, 3))}`,
  ])();
}

const FIELDS = {
  Encrypt: ["plaintext", "encryptionAlgorithm", "additionalAuthenticatedData", "ciphertextDataIntegrityValueAlgorithm"],
  Decrypt: ["ciphertext", "encryptionAlgorithm", "initializationVector", "authenticationTag", "additionalAuthenticatedData", "ciphertextMetadata"],
  GetKeyMetadata: [],
  GetHealthStatus: [],
};
const MD_FIELDS = ["awsPrincipalArn", "kmsKeyArn", "kmsOperation", "kmsRequestId", "kmsViaService", "awsSourceVpc", "awsSourceVpce"];

function flipBase64(rng, s) {
  if (typeof s !== "string" || s.length === 0) return s;
  const buf = Buffer.from(s, "base64");
  if (buf.length === 0) return s;
  buf[rng.int(buf.length)] ^= 1 << rng.int(8);
  return b64(buf);
}

/** One structural mutation of a body object (in place); returns a short description. */
function mutateObject(rng, body, op) {
  const fields = FIELDS[op];
  const kind = rng.weighted([
    [4, "type"],
    [2, "delete"],
    [2, "extra"],
    [3, "md"],
    [op === "Decrypt" ? 4 : 0, "crypto"],
    [op === "Encrypt" ? 2 : 0, "size"],
    [1, "md-type"],
  ]);
  switch (kind) {
    case "type": {
      const f = fields.length && rng.chance(0.8) ? rng.pick(fields) : "requestMetadata";
      body[f] = weirdValue(rng);
      return `${f}=weird`;
    }
    case "delete": {
      const f = rng.pick([...fields, "requestMetadata"]);
      delete body[f];
      return `delete ${f}`;
    }
    case "extra": {
      const name = rng.pick([
        "__proto__",
        "constructor",
        "prototype",
        "toString",
        "hasOwnProperty",
        "x".repeat(rng.range(1, 300)),
        utf8("\u00e9\u{1F600}"),
        "",
        "errorName",
      ]);
      const target = rng.chance(0.5) && typeof body.requestMetadata === "object" && body.requestMetadata ? body.requestMetadata : body;
      Object.defineProperty(target, name, { value: weirdValue(rng), enumerable: true, configurable: true, writable: true });
      return `extra ${name.slice(0, 20)}`;
    }
    case "md": {
      const md = body.requestMetadata;
      if (typeof md !== "object" || md === null) return "md (none)";
      const f = rng.pick(MD_FIELDS);
      md[f] = rng.chance(0.5)
        ? weirdValue(rng)
        : rng.pick([
            "x".repeat(2048),
            "x".repeat(rng.range(2049, 9000)),
            "arn:aws:iam::999999999999:role/other",
            "DescribeKey",
            "UnknownNewOperation",
            `\r\n{"level":"error","msg":"forged"}`,
            "%s%n%x",
            "<script>",
          ]);
      if (rng.chance(0.2)) delete md[f];
      return `md.${f}`;
    }
    case "md-type":
      body.requestMetadata = rng.pick(["x", 1, null, [], [{}], true]);
      return "md wrong type";
    case "crypto": {
      const f = rng.pick(["ciphertext", "initializationVector", "authenticationTag", "additionalAuthenticatedData", "ciphertextMetadata"]);
      const how = rng.int(4);
      if (how === 0 && typeof body[f] === "string") body[f] = flipBase64(rng, body[f]);
      else if (how === 1) body[f] = b64(rng.bytes(rng.pick([0, 1, 11, 12, 13, 16, 17, 20, 21, 64])));
      else if (how === 2) delete body[f];
      else body[f] = b64(rng.bytes(rng.range(1, 300)));
      return `${f} ${["flip", "len", "delete", "random"][how]}`;
    }
    case "size": {
      const f = rng.pick(["plaintext", "additionalAuthenticatedData"]);
      const n = f === "plaintext" ? rng.pick([4299, 4300, 4301, 5000, 40000]) : rng.pick([8191, 8192, 8193, 9000, 40000]);
      body[f] = b64(rng.bytes(n));
      return `${f} ${n} bytes`;
    }
  }
  return kind;
}

/** Text-level mutations of a serialised body. */
function mutateText(rng, text) {
  const kind = rng.int(12);
  switch (kind) {
    case 0: {
      // duplicate key: the same member twice with different values
      const m = /"([A-Za-z]+)":/g;
      const names = [...text.matchAll(m)].map((x) => x[1]);
      const n = names.length ? rng.pick(names) : "plaintext";
      return { text: text.replace(/^\{/, `{"${n}":${JSON.stringify(weirdValue(rng))},`), note: `duplicate key ${n}` };
    }
    case 1:
      return { text: text.slice(0, rng.int(text.length)), note: "truncated JSON" };
    case 2:
      return { text: `${text}${rng.pick(["x", "}", ",", "{}", "\u0000", " \n\t"])}`, note: "trailing bytes" };
    case 3:
      return { text: `\uFEFF${text}`, note: "BOM" };
    case 4:
      return { text: rng.pick(["[]", "null", "1", '"x"', "true", "{}", "", " ", "[{}]"]), note: "top-level non-object" };
    case 5: {
      const depth = rng.range(1000, 30000);
      return { text: `{"requestMetadata":${"[".repeat(depth)}${"]".repeat(depth)}}`, note: `nesting ${depth}` };
    }
    case 6:
      return {
        buf: Buffer.concat([
          Buffer.from(text.slice(0, text.length >> 1)),
          Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
          Buffer.from(text.slice(text.length >> 1)),
        ]),
        note: "invalid UTF-8",
      };
    case 7:
      return { text: text.replace(/"/g, "'"), note: "single quotes" };
    case 8:
      return { text: `{"plaintext":${"1".repeat(rng.range(400, 60000))}}`, note: "huge number" };
    case 9:
      return { text: text.replace(/:/, ":\u2028"), note: "U+2028 whitespace" };
    case 10:
      return { text: text.replace(/"([a-zA-Z]+)":/, (_m, n) => `"${n.toUpperCase()}":`), note: "case-changed key" };
    default:
      return { text: `${" ".repeat(rng.range(1, 2000))}${text}`, note: "leading whitespace" };
  }
}

function pickKey(ctx, rng) {
  const k = ctx.keys;
  return rng.weighted([
    [6, k.good],
    [1, k.encOnly],
    [1, k.decOnly],
    [1, k.disabled],
    [1, k.missing],
    [1, k.other],
    [
      1,
      rng.pick([
        "x".repeat(128),
        "x".repeat(129),
        "x".repeat(rng.range(130, 2000)),
        ".",
        "..",
        "a.b-c_d",
        "%41",
        "k%2Fx",
        "k;x",
        "k,x",
        "K",
        utf8("cl\u00e9"),
        "~",
      ]),
    ],
  ]);
}

function pickStore(ctx, rng) {
  return rng.chance(0.5) ? ctx.stores.a : ctx.stores.root;
}

/** A signed request rendered; `authGood` says whether the signature is meant to verify. */
function signedCase(target, { op, store, keyId, body, sign = {}, pathOverride }) {
  const path = pathOverride ?? apiPath(store.prefix, op, keyId);
  const r = signedRequest({ store, port: target.port, target: path, body, ...sign });
  return r;
}

// ------------------------------------------------------------------ families
/** A valid request that must succeed (200), or be throttled. */
export function control(ctx, rng, target, id) {
  const store = pickStore(ctx, rng);
  const op = rng.pick(OPS);
  const body = Buffer.from(JSON.stringify(validBody(ctx, rng, id, op, store)));
  const r = signedCase(target, {
    op,
    store,
    keyId: ctx.keys.good,
    body,
    sign: rng.chance(0.5) ? { signedNames: ["content-type", "host", "x-amz-date"] } : {},
  });
  return {
    family: "control",
    note: op,
    bytes: render(r),
    requests: [{ method: "POST", target: r.target, authGood: true, control: true, wellFormed: true }],
    pool: true,
  };
}

/** Valid signature over a mutated body or path. */
export function signedJson(ctx, rng, target, id) {
  const store = pickStore(ctx, rng);
  const op = rng.pick(OPS);
  const obj = validBody(ctx, rng, id, rng.chance(0.9) ? op : rng.pick(OPS), store);
  const notes = [];
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) notes.push(mutateObject(rng, obj, op));
  let body = Buffer.from(JSON.stringify(obj));
  if (rng.chance(0.25)) {
    const t = mutateText(rng, body.toString());
    body = t.buf ?? Buffer.from(t.text);
    notes.push(t.note);
  }
  let keyId = ctx.keys.good;
  if (rng.chance(0.35)) keyId = pickKey(ctx, rng);
  let pathOverride;
  if (rng.chance(0.08)) {
    pathOverride = rng.pick([
      `${store.prefix}/kms/xks/v1/keys/${keyId}/${rng.pick(["Encrypt", "sign", "", "encrypt/", "encrypt/x"])}`,
      `/fuzz/b/kms/xks/v1/health`,
      `${store.prefix}/extra/kms/xks/v1/health`,
      `//kms/xks/v1/health`,
      `${store.prefix}/kms/xks/v1/keys/${keyId}/encrypt?x=1&a=b`,
      `${store.prefix}/kms/xks/v1/keys//encrypt`,
      `${store.prefix}/kms/xks/v1/health/`,
      `${store.prefix}/kms/xks/v2/health`,
    ]);
    notes.push(`path ${pathOverride.slice(0, 60)}`);
  }
  const sign = {};
  if (rng.chance(0.1)) {
    sign.region = rng.pick(["eu-west-1", "ap-south-1", "", "us-east-1 "]);
    notes.push(`region ${sign.region}`);
  }
  if (rng.chance(0.1) && store.credentials.length > 1) sign.credential = store.credentials[1];
  if (rng.chance(0.1)) sign.contentType = rng.pick(["text/plain", "application/json; charset=utf-8", "", "application/x-amz-json-1.1"]);
  const r = signedCase(target, { op, store, keyId, body, sign, pathOverride });
  // a key id with bytes outside visible ASCII makes the request line itself malformed
  const wellFormed = /^[\x21-\x7e]*$/.test(r.target);
  return {
    family: "signed-json",
    note: `${op}: ${notes.join("; ")}`,
    bytes: render(r),
    requests: [{ method: "POST", target: r.target, authGood: undefined, wellFormed }],
    pool: wellFormed,
    end: !wellFormed,
  };
}

/** Valid body, signature headers varied (some still verify, some must not). */
export function signedHeaders(ctx, rng, target, id) {
  const store = pickStore(ctx, rng);
  const op = rng.pick(OPS);
  const body = Buffer.from(JSON.stringify(validBody(ctx, rng, id, op, store)));
  const sign = {};
  let note;
  let authGood;
  const now = Date.now();
  const kind = rng.int(12);
  switch (kind) {
    case 0:
      sign.extraHeaders = [["X-Amz-Content-Sha256", rng.chance(0.5) ? "UNSIGNED-PAYLOAD" : "0".repeat(64)]];
      note = "x-amz-content-sha256 signed";
      break;
    case 1:
      sign.extraHeaders = [["X-Custom", "v".repeat(rng.range(1, 4000))]];
      note = "extra signed header";
      authGood = true;
      break;
    case 2: {
      const skew = rng.pick([-290, 290, -310, 310, -86400, 86400 * 365]);
      sign.date = amzDate(new Date(now + skew * 1000));
      note = `date skew ${skew} s`;
      authGood = Math.abs(skew) < 300;
      break;
    }
    case 3:
      sign.date = rng.pick(["20250101T000000Z", "garbage", "", "20991301T256161Z", amzDate().replace("T", "t")]);
      note = `date ${sign.date}`;
      break;
    case 4:
      sign.host = rng.pick([`127.0.0.1:${target.port}`, `LOCALHOST:${target.port}`, "localhost", "evil.example", `localhost:${target.port}.`, ""]);
      note = `host ${sign.host}`;
      break;
    case 5:
      sign.service = rng.pick(["kms", "s3", "kms-xks-proxy ", ""]);
      note = `service ${sign.service}`;
      authGood = false;
      break;
    case 6:
      sign.credential = { accessKeyId: store.credentials[0].accessKeyId, secretAccessKey: `${store.credentials[0].secretAccessKey}x` };
      note = "wrong secret";
      authGood = false;
      break;
    case 7:
      sign.credential = {
        accessKeyId: rng.pick(["AKIAIOSFODNN7EXAMPLE", ctx.stores[store === ctx.stores.a ? "root" : "a"].credentials[0].accessKeyId]),
        secretAccessKey: "x".repeat(43),
      };
      note = "unknown or other store's access key id";
      authGood = false;
      break;
    case 8:
      sign.signedNames = rng.pick([
        ["host"],
        ["x-amz-date"],
        [],
        ["content-length", "host", "x-amz-date"],
        ["host", "host", "x-amz-date"],
        ["x-amz-date", "host"],
      ]);
      note = `SignedHeaders ${sign.signedNames.join(";")}`;
      break;
    case 9:
      sign.signDate = amzDate(new Date(now - 86400e3 * 2));
      note = "scope date differs from X-Amz-Date";
      break;
    case 10:
      sign.extraHeaders = [["X-Amz-Security-Token", "t".repeat(rng.range(1, 2000))]];
      note = "security token header";
      break;
    default:
      sign.contentType = null;
      note = "no content-type";
      break;
  }
  const r = signedCase(target, { op, store, keyId: ctx.keys.good, body, sign });
  // rewrite the Authorization header's formatting now and then (the value is otherwise valid)
  if (rng.chance(0.15)) {
    const a = r.headers.find(([n]) => n === "Authorization");
    a[1] = rng.pick([
      a[1].replace(/, /g, ","),
      a[1].replace("Credential=", "credential="),
      a[1].replace(/ +/g, "  "),
      a[1].replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256"),
      `${a[1]}, Signature=${"0".repeat(64)}`,
    ]);
    note += "; reformatted Authorization";
    authGood = undefined;
  }
  return {
    family: "signed-headers",
    note: `${op}: ${note}`,
    bytes: render(r),
    requests: [{ method: "POST", target: r.target, authGood, wellFormed: true }],
    pool: true,
  };
}

/** Unsigned or badly signed requests to real API routes, with mutated bodies: nothing may get past authentication. */
export function badAuth(ctx, rng, target, id) {
  const store = pickStore(ctx, rng);
  const op = rng.pick(OPS);
  const obj = validBody(ctx, rng, id, op, store);
  if (rng.chance(0.5)) mutateObject(rng, obj, op);
  const body = Buffer.from(JSON.stringify(obj));
  const keyId = rng.chance(0.8) ? ctx.keys.good : pickKey(ctx, rng);
  const r = signedCase(target, { op, store, keyId, body });
  const auth = r.headers.find(([n]) => n === "Authorization");
  const kind = rng.int(9);
  let note;
  switch (kind) {
    case 0:
      r.headers.splice(r.headers.indexOf(auth), 1);
      note = "no Authorization";
      break;
    case 1: {
      const i = auth[1].length - 1 - rng.int(64);
      auth[1] = auth[1].slice(0, i) + (auth[1][i] === "0" ? "1" : "0") + auth[1].slice(i + 1);
      note = "signature flipped";
      break;
    }
    case 2:
      auth[1] = rng.chars(rng.range(1, 9000), " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");
      note = "random Authorization";
      break;
    case 3:
      auth[1] = auth[1].slice(0, rng.int(auth[1].length));
      note = "truncated Authorization";
      break;
    case 4: {
      // body changed after signing
      const changed = Buffer.from(body);
      changed[rng.int(changed.length)] ^= 1;
      r.body = changed;
      note = "body changed after signing";
      break;
    }
    case 5:
      auth[1] = auth[1].replace(/Credential=[^/]+/, `Credential=${"A".repeat(rng.range(0, 300))}`);
      note = "other access key id";
      break;
    case 6:
      auth[1] = `AWS4-HMAC-SHA256 Credential=${store.credentials[0].accessKeyId}/${"x".repeat(rng.range(0, 3000))}, SignedHeaders=${"a;".repeat(rng.range(0, 1000))}host, Signature=zz`;
      note = "malformed scope and header list";
      break;
    case 7:
      r.headers.push(["Authorization", auth[1]]);
      auth[1] = `AWS4-HMAC-SHA256 Credential=${store.credentials[0].accessKeyId}/20200101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host, Signature=${"0".repeat(64)}`;
      note = "two Authorization headers, the first bad";
      break;
    default:
      auth[1] = rng.pick(["Basic dXNlcjpwYXNz", "Bearer x.y.z", "AWS4-HMAC-SHA256", "", "AWS4-HMAC-SHA512 Credential=x"]);
      note = `Authorization ${auth[1].slice(0, 20)}`;
      break;
  }
  const wellFormed = /^[\x21-\x7e]*$/.test(r.target);
  return {
    family: "bad-auth",
    note: `${op}: ${note}`,
    bytes: render(r),
    requests: [{ method: "POST", target: r.target, authGood: false, wellFormed }],
    pool: wellFormed,
    end: !wellFormed,
  };
}

/** The pieces other families build on. */
export const helpers = { validBody, signedCase, pickStore, pickKey, mutateObject, OPS };
