// Request bytes for the fuzzer: raw HTTP/1.1 requests (every byte chosen by the case, strings are
// latin1 so any octet can be written), and SigV4-signed XKS requests built from them.
import { authorization, amzDate } from "./sigv4.mjs";

/** latin1 text of the UTF-8 encoding of `s` (so the wire carries UTF-8 bytes). */
export const utf8 = (s) => Buffer.from(s, "utf8").toString("latin1");

/** A request as bytes. `headers`: [[name, value], ...] written in order, `eol` the line end. */
export function render({ method = "POST", target, version = "HTTP/1.1", headers = [], body = Buffer.alloc(0), eol = "\r\n", requestLine }) {
  const line = requestLine ?? `${method} ${target}${version === "" ? "" : ` ${version}`}`;
  const head = `${line}${eol}${headers.map(([n, v]) => (v === undefined ? `${n}${eol}` : `${n}: ${v}${eol}`)).join("")}${eol}`;
  return Buffer.concat([Buffer.from(head, "latin1"), Buffer.isBuffer(body) ? body : Buffer.from(body, "latin1")]);
}

/**
 * A SigV4-signed XKS request: { method, target, headers, body } with Host, Content-Type,
 * X-Amz-Date, Content-Length and Authorization, ready for render() (the caller may still mutate).
 * `o`: { store, port, target, body (Buffer), method, signedNames, extraHeaders, date, region,
 * service, credential, host, contentType }.
 */
export function signedRequest(o) {
  const cred = o.credential ?? o.store.credentials[0];
  const date = o.date ?? amzDate();
  const headers = [["Host", o.host ?? `localhost:${o.port}`]];
  if (o.contentType !== null) headers.push(["Content-Type", o.contentType ?? "application/json"]);
  headers.push(["X-Amz-Date", date], ...(o.extraHeaders ?? []));
  const method = o.method ?? "POST";
  const auth = authorization({
    method,
    target: o.target,
    headers,
    body: o.body,
    accessKeyId: cred.accessKeyId,
    secretAccessKey: cred.secretAccessKey,
    region: o.region ?? "us-east-1",
    service: o.service ?? "kms-xks-proxy",
    date: o.signDate ?? date,
    signed: o.signedNames,
  });
  headers.push(["Content-Length", String(o.body.length)], ["Authorization", auth]);
  return { method, target: o.target, headers, body: o.body };
}
