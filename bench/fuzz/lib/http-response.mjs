// A strict, incremental HTTP/1.1 response reader for the fuzzer's raw sockets: every byte the
// proxy sends must belong to a well-formed response (status line, token header names, CRLF line
// ends, one framing: Content-Length, chunked, or until close). Anything else is reported as an
// invalid answer with the reason.

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d) ([\t\x20-\x7e\x80-\xff]*)$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEAD = 64 * 1024;
const MAX_BODY = 8 * 1024 * 1024;

export class ResponseReader {
  /** `methods()` gives the method of the request the next response answers (HEAD has no body). */
  constructor(nextMethod) {
    this.nextMethod = nextMethod;
    this.buf = Buffer.alloc(0);
    this.responses = [];
    this.invalid = undefined;
    this.cur = undefined;
  }

  /** Feeds bytes; returns false once the stream is invalid. */
  push(chunk) {
    if (this.invalid) return false;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.parse();
    } catch (err) {
      this.invalid = err.message;
    }
    return !this.invalid;
  }

  /** The peer closed: a close-delimited body ends here; anything else unfinished is invalid. */
  close() {
    if (this.invalid) return;
    try {
      this.parse();
      if (this.cur) {
        if (this.cur.framing === "close") this.finish(this.cur.bodyParts.length ? Buffer.concat(this.cur.bodyParts) : Buffer.alloc(0));
        else throw new Error(`the connection closed inside a response (${this.cur.framing} body incomplete)`);
      } else if (this.buf.length > 0) throw new Error(`the connection closed after ${this.buf.length} bytes that are not a whole response`);
    } catch (err) {
      this.invalid = err.message;
    }
  }

  finish(body) {
    const r = this.cur;
    this.cur = undefined;
    r.body = body;
    delete r.bodyParts;
    this.responses.push(r);
  }

  parse() {
    for (;;) {
      if (!this.cur) {
        if (this.buf.length === 0) return;
        const end = this.buf.indexOf("\r\n\r\n");
        if (end < 0) {
          if (this.buf.length > MAX_HEAD) throw new Error("response header section over 64 KiB");
          const nl = this.buf.indexOf("\n");
          const first = (nl < 0 ? this.buf : this.buf.subarray(0, nl)).toString("latin1");
          if (!"HTTP/1.".startsWith(first.slice(0, 7)) && !first.startsWith("HTTP/1."))
            throw new Error(`not an HTTP response: ${JSON.stringify(first.slice(0, 40))}`);
          return;
        }
        const head = this.buf.subarray(0, end).toString("latin1");
        this.buf = this.buf.subarray(end + 4);
        const lines = head.split("\r\n");
        const m = STATUS_LINE.exec(lines[0]);
        if (!m) throw new Error(`invalid status line ${JSON.stringify(lines[0].slice(0, 80))}`);
        const headers = [];
        for (const line of lines.slice(1)) {
          const c = line.indexOf(":");
          if (c <= 0 || !TOKEN.test(line.slice(0, c))) throw new Error(`invalid header line ${JSON.stringify(line.slice(0, 80))}`);
          const value = line.slice(c + 1).trim();
          if (!FIELD_VALUE.test(value) || /[\r\n]/.test(line)) throw new Error(`invalid header value in ${JSON.stringify(line.slice(0, 80))}`);
          headers.push([line.slice(0, c).toLowerCase(), value]);
        }
        const status = Number(m[1]);
        const get = (n) => headers.filter(([k]) => k === n).map(([, v]) => v);
        const cls = get("content-length");
        const tes = get("transfer-encoding");
        if (cls.length > 1) throw new Error(`${cls.length} Content-Length headers`);
        if (cls.length && tes.length) throw new Error("both Content-Length and Transfer-Encoding");
        if (cls.length && !/^\d{1,15}$/.test(cls[0])) throw new Error(`invalid Content-Length ${JSON.stringify(cls[0])}`);
        if (tes.length && (tes.length > 1 || tes[0].toLowerCase() !== "chunked"))
          throw new Error(`unexpected Transfer-Encoding ${JSON.stringify(tes.join(","))}`);
        const interim = status >= 100 && status < 200;
        if (status === 101) throw new Error("101 Switching Protocols (the fuzzer never asks for an upgrade it could use)");
        const r = { status, reason: m[2], headers, head, framing: "none", bodyParts: [] };
        if (interim) {
          r.body = Buffer.alloc(0);
          delete r.bodyParts;
          r.interim = true;
          this.interim ??= [];
          this.interim.push(r);
          continue;
        }
        const method = this.nextMethod();
        r.method = method;
        this.cur = r;
        if (method === "HEAD" || status === 204 || status === 304) {
          this.finish(Buffer.alloc(0));
          continue;
        }
        if (cls.length) {
          r.framing = "length";
          r.remaining = Number(cls[0]);
          if (r.remaining > MAX_BODY) throw new Error(`Content-Length ${r.remaining} over ${MAX_BODY}`);
        } else if (tes.length) {
          r.framing = "chunked";
          r.chunkLeft = -1;
        } else {
          r.framing = "close";
        }
      }
      const r = this.cur;
      if (r.framing === "length") {
        const take = Math.min(r.remaining, this.buf.length);
        if (take > 0) r.bodyParts.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        r.remaining -= take;
        if (r.remaining > 0) return;
        this.finish(Buffer.concat(r.bodyParts));
        continue;
      }
      if (r.framing === "close") {
        if (this.buf.length) r.bodyParts.push(this.buf);
        this.buf = Buffer.alloc(0);
        return; // finished by close()
      }
      // chunked
      for (;;) {
        if (r.chunkLeft === -1) {
          const nl = this.buf.indexOf("\r\n");
          if (nl < 0) {
            if (this.buf.length > 1024) throw new Error("chunk size line too long");
            return;
          }
          const line = this.buf.subarray(0, nl).toString("latin1");
          if (!/^[0-9a-fA-F]{1,8}$/.test(line)) throw new Error(`invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          this.buf = this.buf.subarray(nl + 2);
          const size = parseInt(line, 16);
          if (size === 0) {
            r.chunkLeft = -2;
          } else {
            r.chunkLeft = size;
            r.size = (r.size ?? 0) + size;
            if (r.size > MAX_BODY) throw new Error("chunked body over the fuzzer's limit");
          }
        }
        if (r.chunkLeft === -2) {
          // trailers: none expected, just the final CRLF
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new Error("trailers after the last chunk");
          this.buf = this.buf.subarray(2);
          this.finish(Buffer.concat(r.bodyParts));
          break;
        }
        if (this.buf.length < r.chunkLeft + 2) return;
        r.bodyParts.push(this.buf.subarray(0, r.chunkLeft));
        if (this.buf[r.chunkLeft] !== 13 || this.buf[r.chunkLeft + 1] !== 10) throw new Error("chunk data not followed by CRLF");
        this.buf = this.buf.subarray(r.chunkLeft + 2);
        r.chunkLeft = -1;
      }
    }
  }
}
