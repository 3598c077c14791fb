// Fuzz cases on the HTTP layer, written as raw bytes: request lines, headers, framing
// (Content-Length, chunked, truncated bodies), pipelining, slow writes, random bytes and
// protocol confusion, abandoned connections.
import { apiPath, helpers } from "./cases-signed.mjs";
import { render, signedRequest, utf8 } from "./wire.mjs";

const { validBody, pickStore } = helpers;

/** A signed (or, with `unsigned`, unsigned) valid XKS request as { method, target, headers, body }. */
function baseRequest(ctx, rng, target, id, { op = rng.pick(helpers.OPS), unsigned = rng.chance(0.3) } = {}) {
  const store = pickStore(ctx, rng);
  const body = Buffer.from(JSON.stringify(validBody(ctx, rng, id, op, store)));
  const r = signedRequest({ store, port: target.port, target: apiPath(store.prefix, op, ctx.keys.good), body });
  if (unsigned) r.headers = r.headers.filter(([n]) => n !== "Authorization");
  r.signed = !unsigned;
  return r;
}

const one = (r, wellFormed, extra = {}) => [{ method: r.method.split(" ")[0], target: r.target, authGood: r.signed ? undefined : false, wellFormed, ...extra }];

export function requestLine(ctx, rng, target, id) {
  const r = baseRequest(ctx, rng, target, id);
  const kind = rng.int(3);
  let note;
  if (kind === 0) {
    r.method = rng.pick([
      "GET",
      "HEAD",
      "PUT",
      "DELETE",
      "OPTIONS",
      "TRACE",
      "CONNECT",
      "PATCH",
      "post",
      "Post",
      "P0ST",
      "PRI",
      "M".repeat(rng.range(17, 200)),
      "POST\t",
      "GET POST",
      "\u0000POST",
      utf8("P\u00d6ST"),
    ]);
    note = `method ${JSON.stringify(r.method.slice(0, 20))}`;
    if (r.method === "HEAD") {
      r.headers = r.headers.filter(([n]) => n !== "Content-Length");
      r.body = Buffer.alloc(0);
    }
  } else if (kind === 1) {
    const api = r.target;
    r.target = rng.pick([
      "*",
      `http://localhost:${target.port}${api}`,
      `${api}?${"q=1&".repeat(rng.range(1, 500))}`,
      `${api}#frag`,
      "/%",
      `${api}%00`,
      utf8(`/kms/xks/v1/keys/cl\u00e9/encrypt`),
      `/${"a".repeat(rng.range(2000, 9000))}`,
      `${api.slice(0, api.lastIndexOf("/kms"))}/${"b/".repeat(rng.range(100, 40000))}kms/xks/v1/health`,
      "/ping",
      "/ping?x",
      "/metrics",
      "/ping/../kms/xks/v1/health",
      "",
      "/KMS/XKS/V1/HEALTH",
      "/kms/xks/v1/keys/../health",
      "/kms/xks/v1/keys/%2e%2e/encrypt",
      "kms/xks/v1/health",
      "/\\kms\\xks\\v1\\health",
      "/salesforce/keys/x",
      `/${"%ff".repeat(rng.range(1, 100))}`,
    ]);
    note = `target ${JSON.stringify(r.target.slice(0, 40))}`;
  } else {
    r.version = rng.pick([
      "HTTP/1.0",
      "HTTP/2.0",
      "HTTP/0.9",
      "",
      "HTTP/1.1 ",
      "http/1.1",
      "HTTP/1.2",
      "HTTP/3",
      "HTTP/1.1\u0000",
      "HTTP/11",
      "HTTPS/1.1",
      "HTTP/1.01",
    ]);
    note = `version ${JSON.stringify(r.version)}`;
  }
  const wellFormed = kind === 0 ? /^(GET|PUT|DELETE|OPTIONS|PATCH|HEAD)$/.test(r.method) : false;
  return { family: "request-line", note, bytes: render(r), requests: one(r, wellFormed, { noContent: r.method === "HEAD" }), end: true };
}

export function headerMutation(ctx, rng, target, id) {
  const r = baseRequest(ctx, rng, target, id);
  const kind = rng.int(16);
  let note;
  let wellFormed = false;
  const at = () => rng.int(r.headers.length + 1);
  const ins = (h) => r.headers.splice(at(), 0, h);
  switch (kind) {
    case 0:
      r.headers.splice(at(), 0, [" folded", "continuation"]);
      note = "obs-fold";
      break;
    case 1:
      ins(["Host ", "x"]);
      note = "space before colon";
      break;
    case 2:
      ins(["", "x"]);
      note = "empty header name";
      break;
    case 3:
      ins([rng.pick(["X(y)", "X y", "X@y", "X\u0000", "X\u007f", utf8("X\u00e9")]), "1"]);
      note = "non-token header name";
      break;
    case 4:
      ins(["X-V", rng.pick(["a\u0000b", "a\u0001b", "a\u007fb", utf8("caf\u00e9"), "a\rb", "\u00ff\u00fe"])]);
      note = "control or 8-bit byte in a value";
      break;
    case 5: {
      const n = rng.pick([8000, 16500, 70000]);
      ins(["X-Long", "v".repeat(n)]);
      note = `${n}-byte header`;
      wellFormed = n < 16000;
      break;
    }
    case 6: {
      const n = rng.range(100, 2000);
      for (let i = 0; i < n; i++) r.headers.splice(1, 0, [`X-H${i}`, "1"]);
      note = `${n} headers`;
      wellFormed = false; // over node's 2000-header / 16 KiB limits, or not: either way an answer
      break;
    }
    case 7:
      ins(["Host", rng.pick(["other.example", `localhost:${target.port}`, ""])]);
      note = "two Host headers";
      break;
    case 8:
      r.headers = r.headers.filter(([n]) => n !== "Host");
      note = "no Host";
      break;
    case 9:
      ins(["Connection", rng.pick(["close", "keep-alive", "close, upgrade", "Upgrade", "x".repeat(500)])]);
      note = "Connection header";
      wellFormed = true;
      break;
    case 10:
      ins(["Upgrade", rng.pick(["h2c", "websocket", "TLS/1.2"])]);
      if (rng.chance(0.5)) ins(["HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"]);
      if (rng.chance(0.5)) ins(["Connection", "Upgrade, HTTP2-Settings"]);
      note = "Upgrade";
      break;
    case 11:
      ins(["Expect", rng.pick(["100-continue", "foo", ""])]);
      note = "Expect";
      break;
    case 12:
      ins([
        rng.pick(["TE", "Keep-Alive", "Content-Encoding", "Accept-Encoding", "X-Forwarded-For", "Forwarded", "Proxy-Connection", "Trailer"]),
        rng.pick(["trailers", "timeout=1, max=1", "gzip", "1.2.3.4", "for=1.2.3.4", "x"]),
      ]);
      note = "hop-by-hop or proxy header";
      wellFormed = true;
      break;
    case 13: {
      const h = r.headers[rng.int(r.headers.length)];
      h[0] = rng.chance(0.5) ? h[0].toUpperCase() : h[0].toLowerCase();
      note = "header name case";
      wellFormed = true;
      break;
    }
    case 14:
      r.eol = rng.pick(["\n", "\r", "\r\r\n", "\n\r"]);
      note = `line end ${JSON.stringify(r.eol)}`;
      break;
    default: {
      const h = r.headers[rng.int(r.headers.length)];
      h[1] = `${rng.pick(["", " ", "\t", "   "])}${h[1]}${rng.pick(["", " ", "\t", " \t "])}`;
      note = `whitespace around the ${h[0]} value`;
      // (node's parser refuses a tab or trailing space in Content-Length: its own 400, not the proxy's)
      wellFormed = !/^content-length$/i.test(h[0]);
      break;
    }
  }
  return {
    family: "headers",
    note,
    bytes: render(r),
    requests: one(r, wellFormed),
    end: !wellFormed || rng.chance(0.5),
    pool: wellFormed && !/^close/.test(r.headers.find(([n]) => n === "Connection")?.[1] ?? ""),
  };
}

function chunked(body, rng) {
  const parts = [];
  let i = 0;
  while (i < body.length) {
    const n = Math.min(body.length - i, rng.range(1, 200));
    parts.push(Buffer.from(`${n.toString(16)}${rng.chance(0.1) ? ";ext=1" : ""}\r\n`), body.subarray(i, i + n), Buffer.from("\r\n"));
    i += n;
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

export function framing(ctx, rng, target, id) {
  const r = baseRequest(ctx, rng, target, id, { unsigned: rng.chance(0.2) });
  const cl = r.headers.find(([n]) => n === "Content-Length");
  const kind = rng.int(14);
  let note;
  let wellFormed = false;
  let end = true;
  let pool = false;
  switch (kind) {
    case 0:
      r.headers.splice(r.headers.indexOf(cl), 1);
      note = "no Content-Length (body becomes the next request)";
      break;
    case 1:
      cl[1] = String(Math.max(0, r.body.length - rng.range(1, 20)));
      note = "Content-Length short";
      break;
    case 2:
      cl[1] = String(r.body.length + rng.range(1, 100));
      note = "Content-Length long, then FIN";
      break;
    case 3:
      cl[1] = String(r.body.length + rng.range(1, 100));
      end = false;
      note = "Content-Length long, no FIN (abandoned)";
      break;
    case 4:
      cl[1] = rng.pick([
        "-1",
        "+5",
        "0x10",
        "1e3",
        ` ${r.body.length}`,
        `${r.body.length} `,
        `${r.body.length},${r.body.length}`,
        "99999999999999999999",
        `00${r.body.length}`,
        "",
        "abc",
        `${r.body.length}\u0000`,
      ]);
      note = `Content-Length ${JSON.stringify(cl[1])}`;
      wellFormed = /^\s*0*\d+\s*$/.test(cl[1]) && Number(cl[1]) === r.body.length;
      break;
    case 5:
      r.headers.push(["Content-Length", rng.chance(0.5) ? cl[1] : String(Number(cl[1]) + 1)]);
      note = "two Content-Length headers";
      break;
    case 6: {
      const big = rng.pick([65537, 70000, 200000, 1 << 20]);
      cl[1] = String(big);
      r.body = Buffer.concat([r.body, Buffer.alloc(big - r.body.length, 0x20)]);
      note = `body of ${big} bytes`;
      wellFormed = true; // a whole request: it gets an answer (501 or 413-like)
      break;
    }
    case 7:
      r.headers.splice(r.headers.indexOf(cl), 1, ["Transfer-Encoding", "chunked"]);
      r.body = chunked(r.body, rng);
      note = "chunked body";
      wellFormed = true;
      pool = true;
      end = false;
      break;
    case 8:
      r.headers.push(["Transfer-Encoding", "chunked"]);
      r.body = chunked(r.body, rng);
      note = "chunked and Content-Length";
      break;
    case 9:
      r.headers.splice(r.headers.indexOf(cl), 1, [
        "Transfer-Encoding",
        rng.pick(["chunked, identity", "identity", "gzip, chunked", " chunked", "Chunked", "xchunked", "chunked\u0000", "chunked,chunked"]),
      ]);
      r.body = chunked(r.body, rng);
      note = "odd Transfer-Encoding";
      break;
    case 10: {
      r.headers.splice(r.headers.indexOf(cl), 1, ["Transfer-Encoding", "chunked"]);
      const bad = rng.pick([
        "-1\r\n",
        "zz\r\n",
        `${"f".repeat(rng.range(9, 200))}\r\n`,
        `5;${"e".repeat(rng.range(100, 20000))}\r\nhello\r\n`,
        "5\r\nhelloXX",
        "3\r\nhello\r\n",
        "0\r\nX-Trailer: 1\r\n\r\n",
        "5\nhello\n0\n\n",
        "0\r\n",
      ]);
      r.body = Buffer.concat([Buffer.from("10\r\n0123456789abcdef\r\n"), Buffer.from(bad, "latin1")]);
      note = `bad chunk ${JSON.stringify(bad.slice(0, 20))}`;
      break;
    }
    case 11:
      r.body = r.body.subarray(0, rng.int(r.body.length));
      note = "body cut short, then FIN";
      break;
    case 12:
      r.body = Buffer.concat([
        r.body,
        Buffer.from(
          rng.pick(["GET / HTTP/1.1\r\n\r\n", "\r\n", "xxxx", "POST /kms/xks/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{}"]),
          "latin1",
        ),
      ]);
      note = "bytes after the body";
      break;
    default:
      // a smuggling classic: CL.TE / TE.CL disagreement
      r.headers.push(["Transfer-Encoding", rng.pick(["chunked", " chunked", "chunked "])]);
      r.body = Buffer.from(`0\r\n\r\nPOST /kms/xks/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.body.length}\r\n\r\n`);
      cl[1] = String(r.body.length);
      note = "CL.TE smuggling attempt";
      break;
  }
  return { family: "framing", note, bytes: render(r), requests: one(r, wellFormed), end, pool, abandonMs: end ? undefined : 200 };
}

export function pipelined(ctx, rng, target, id) {
  const n = rng.range(2, 8);
  const reqs = [];
  const parts = [];
  let allGood = true;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    if (last && rng.chance(0.3)) {
      parts.push(
        Buffer.from(
          rng.pick([
            "GARBAGE\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /kms/xks/v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          ]),
          "latin1",
        ),
      );
      reqs.push({ method: "POST", target: "?", wellFormed: false });
      allGood = false;
      break;
    }
    const r = baseRequest(ctx, rng, target, `${id}.${i}`, { unsigned: rng.chance(0.2) });
    parts.push(render(r));
    reqs.push({ method: "POST", target: r.target, authGood: !!r.signed, wellFormed: true });
  }
  const bytes = Buffer.concat(parts);
  // all in one write, or cut at random points
  const writes = [];
  if (rng.chance(0.5)) writes.push({ data: bytes });
  else {
    let i = 0;
    while (i < bytes.length) {
      const n2 = rng.range(1, Math.max(1, bytes.length >> 1));
      writes.push({ data: bytes.subarray(i, i + n2), delay: rng.int(3) });
      i += n2;
    }
  }
  return {
    family: "pipelined",
    note: `${reqs.length} requests${allGood ? "" : ", the last malformed"}`,
    writes,
    requests: reqs,
    end: !allGood || rng.chance(0.3),
    minAnswers: allGood ? reqs.length : 0,
  };
}

export function slowWrites(ctx, rng, target, id) {
  const r = baseRequest(ctx, rng, target, id, { unsigned: rng.chance(0.2) });
  const bytes = render(r);
  const pieces = rng.pick([2, 3, 8, 31, 32, 33, 60]);
  const writes = [];
  const cut = [...new Set(Array.from({ length: pieces - 1 }, () => 1 + rng.int(bytes.length - 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const c of [...cut, bytes.length]) {
    writes.push({ data: bytes.subarray(prev, c), delay: rng.int(pieces > 30 ? 4 : 15) });
    prev = c;
  }
  return { family: "slow-writes", note: `${writes.length} pieces`, writes, requests: one(r, true), end: rng.chance(0.3) };
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00", "latin1");
// the first bytes of a TLS 1.2 ClientHello record (the rest random)
const TLS_HELLO = Buffer.from("160301020001", "hex");

export function randomBytes(ctx, rng, target, id) {
  const kind = rng.int(7);
  let data;
  let note;
  let raw = false;
  switch (kind) {
    case 0:
      data = rng.bytes(rng.range(1, 4096));
      note = "random bytes";
      break;
    case 1:
      data = Buffer.from(rng.chars(rng.range(1, 4096), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ /:\r\n\t0123456789abcdef-{}"'), "latin1");
      note = "random text";
      break;
    case 2:
      data = Buffer.concat([H2_PREFACE, rng.bytes(rng.range(0, 200))]);
      note = "HTTP/2 preface";
      break;
    case 3:
      data = Buffer.concat([TLS_HELLO, rng.bytes(rng.range(10, 600))]);
      raw = true;
      note = "TLS ClientHello-like bytes on the TCP socket";
      break;
    case 4: {
      const r = baseRequest(ctx, rng, target, id);
      data = render(r);
      raw = true;
      note = "plain HTTP on the TCP socket";
      break;
    }
    case 5: {
      const r = baseRequest(ctx, rng, target, id);
      const b = render(r);
      for (let i = 0; i < rng.range(1, 10); i++) b[rng.int(b.length)] = rng.int(256);
      data = b;
      note = "request with random bytes replaced";
      break;
    }
    default:
      data = Buffer.alloc(rng.range(1, 70000), rng.pick([0, 0x20, 0x0a, 0x41]));
      note = "one byte repeated";
      break;
  }
  return {
    family: "random-bytes",
    note,
    writes: [{ data }],
    requests: [{ method: "POST", target: "?", wellFormed: false }],
    end: rng.chance(0.7),
    abandonMs: 300,
    rawTcp: raw,
  };
}

export function abandon(ctx, rng, target, id) {
  const r = baseRequest(ctx, rng, target, id);
  const b = render(r);
  const kind = rng.int(4);
  const cut = kind === 0 ? 0 : rng.int(b.length);
  return {
    family: "abandoned",
    note: ["connect and close", "partial request then close", "partial request then reset", "TLS handshake cut"][kind],
    writes: cut > 0 ? [{ data: b.subarray(0, cut) }] : [],
    requests: [],
    abandonMs: rng.int(100),
    reset: kind === 2,
    rawTcp: kind === 3,
    rawBytes: kind === 3 ? Buffer.concat([TLS_HELLO, rng.bytes(40)]) : undefined,
  };
}
