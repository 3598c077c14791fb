// A minimal SigV4 signer for the fuzzer, written from the AWS SigV4 description (not the proxy's
// verifier), so that it can sign exactly the bytes a case sends: any header list, any raw path,
// any body. The legitimate client uses @smithy/signature-v4 instead (bench/xks/common.mjs), and
// the run checks at start that requests signed here are accepted (control requests).
import { createHash, createHmac } from "node:crypto";

const sha256hex = (b) => createHash("sha256").update(b).digest("hex");
const hmac = (k, s) => createHmac("sha256", k).update(s).digest();

/** YYYYMMDDTHHMMSSZ */
export function amzDate(d = new Date()) {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function encodeQueryPart(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical query string of a raw query (parameters sorted, each part URI-encoded once). */
function canonicalQuery(query) {
  if (!query) return "";
  return query
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf("=");
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? "" : p.slice(i + 1);
      let dk = k;
      let dv = v;
      try {
        dk = decodeURIComponent(k);
        dv = decodeURIComponent(v);
      } catch {
        // leave undecodable parts as they are
      }
      return [encodeQueryPart(dk), encodeQueryPart(dv)];
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/**
 * Signs a request and returns the Authorization header value.
 * `headers`: [[name, value], ...] as they will be sent (the ones named in `signed` are signed;
 * repeated names are joined with ","), `target`: the raw request target, `body`: a Buffer.
 */
export function authorization({
  method = "POST",
  target,
  headers,
  body,
  accessKeyId,
  secretAccessKey,
  region = "us-east-1",
  service = "kms-xks-proxy",
  date,
  signed,
}) {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  const names = signed ?? [...new Set(headers.map(([n]) => n.toLowerCase()))].sort();
  const canonHeaders = names
    .map((n) => {
      const vals = headers.filter(([h]) => h.toLowerCase() === n).map(([, v]) => String(v).trim().replace(/\s+/g, " "));
      return `${n}:${vals.join(",")}\n`;
    })
    .join("");
  const signedHeaders = names.join(";");
  const canonical = [method, path, canonicalQuery(query), canonHeaders, signedHeaders, sha256hex(body)].join("\n");
  const day = date.slice(0, 8);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, sha256hex(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), service), "aws4_request");
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}
