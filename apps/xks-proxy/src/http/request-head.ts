/**
 * The fast path's reading and writing of HTTP/1.1 text: the strict header-section parser (what it
 * declines goes to node's parser, see DESIGN.md) and the one-string response renderer.
 */
import { STATUS_CODES } from "node:http";
import type { FastResponse } from "./fast-http.js";

export const CRLFCRLF = Buffer.from("\r\n\r\n");
const REQUEST_LINE = /^([A-Z]{1,16}) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// field-value: visible ASCII, obs-text, SP and HTAB; no other control characters (CR and LF were split on)
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^\d{1,15}$/;
const DECLINED_HEADERS = new Set(["transfer-encoding", "expect", "upgrade", "te", "http2-settings"]);

/**
 * A header section still without CRLFCRLF that already shows a line end other than CRLF (a bare
 * LF, or a CR followed by anything but LF), so it will never be one the fast path reads.
 */
export function hasBareLineEnd(buf: Buffer): boolean {
  let i = buf.indexOf(10);
  while (i !== -1) {
    if (i === 0 || buf[i - 1] !== 13) return true;
    i = buf.indexOf(10, i + 1);
  }
  i = buf.indexOf(13);
  while (i !== -1) {
    if (i + 1 < buf.length && buf[i + 1] !== 10) return true;
    i = buf.indexOf(13, i + 1);
  }
  return false;
}

let dateSecond = -1;
let dateText = "";
/** The Date header value, rendered once a second. */
function httpDate(now: number): string {
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

export interface ParsedHead {
  method: string;
  target: string;
  headers: Record<string, string>;
  contentLength: number;
  close: boolean;
}

/**
 * Parses a header section (without the final CRLFCRLF) as the fast path accepts it, or returns
 * undefined for anything it declines. Exported for the differential tests against node's parser.
 */
export function parseRequestHead(head: string, maxBodyBytes: number): ParsedHead | undefined {
  const lines = head.split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    // obs-fold (a line starting with SP/HTAB) and "name :" both fail the token test
    if (!TOKEN.test(name)) return undefined;
    // the value without leading and trailing SP / HTAB (as node trims it), scanned rather than matched
    let from = colon + 1;
    let to = line.length;
    while (from < to && (line.charCodeAt(from) === 32 || line.charCodeAt(from) === 9)) from++;
    while (to > from && (line.charCodeAt(to - 1) === 32 || line.charCodeAt(to - 1) === 9)) to--;
    const value = line.slice(from, to);
    if (!FIELD_VALUE.test(value)) return undefined;
    const key = name.toLowerCase();
    // `in` also sees Object.prototype's names (__proto__, constructor...): such a header is declined too
    if (key in headers || DECLINED_HEADERS.has(key)) return undefined;
    headers[key] = value;
  }
  if (headers.host === undefined) return undefined;
  let contentLength = 0;
  const cl = headers["content-length"];
  if (cl !== undefined) {
    if (!DIGITS.test(cl)) return undefined;
    contentLength = Number(cl);
    if (contentLength > maxBodyBytes) return undefined;
  }
  const connection = headers.connection?.toLowerCase();
  let close = false;
  if (connection !== undefined) {
    for (const t of connection.split(",")) {
      const token = t.trim();
      if (token === "close") close = true;
      else if (token !== "keep-alive" && token !== "") return undefined;
    }
  }
  return { method: m[1]!, target: m[2]!, headers, contentLength, close };
}

/** Renders a whole response (status line, headers, body) as one string. */
export function renderResponse(r: FastResponse, close: boolean, keepAliveSecs: number, now: number): string {
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}\r\n`;
  for (const name in r.headers) {
    const value = r.headers[name]!;
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) throw new Error(`invalid response header ${name}`);
    head += `${name}: ${value}\r\n`;
  }
  head += `date: ${httpDate(now)}\r\ncontent-length: ${Buffer.byteLength(r.body)}\r\n`;
  head += close ? "connection: close\r\n" : `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSecs}\r\n`;
  return `${head}\r\n${r.body}`;
}
