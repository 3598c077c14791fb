import { execFileSync } from "node:child_process";
import { buildSampleProxyAad, buildSpecAad, computeCdiv } from "../src/index.js";

const b = (s: string) => new Uint8Array(Buffer.from(s));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

describe("CDIV known answer from the XKS spec, Appendix C", () => {
  const aad = b("project=nile,department=marketing");
  const ctm = b("key_version=1");
  const iv = b64("HMrlRw85cAJUd5Ax");
  const ct = b64("ghxkK1txeDNn3q8Y");
  const tag = b64("vBxN2ncH1oEkR8WVXpmyYQ==");

  it("matches the spec's value", () => {
    expect(aad.length + ctm.length + iv.length + ct.length + tag.length).toBe(86);
    expect(computeCdiv(aad, ctm, iv, ct, tag)).toBe("qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=");
  });

  it("changes with any input bit and treats absent fields as empty", () => {
    const flipped = new Uint8Array(ct);
    flipped[0]! ^= 1;
    expect(computeCdiv(aad, ctm, iv, flipped, tag)).not.toBe("qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=");
    expect(computeCdiv(undefined, undefined, iv, ct, tag)).toBe(computeCdiv(new Uint8Array(0), new Uint8Array(0), iv, ct, tag));
  });
});

describe("AAD layouts agree with an independent python implementation", () => {
  const py = (code: string) => execFileSync("/usr/bin/python3", ["-c", code]).toString().trim();

  it("spec layout: BE16(len aad) || aad || U8(len ctm) || ctm", () => {
    const aad = new Uint8Array(300).map((_, i) => i & 0xff);
    const ctm = Uint8Array.of(0xc1, 0x01);
    const ours = Buffer.from(buildSpecAad(aad, ctm)).toString("hex");
    const theirs = py(
      "import struct;a=bytes(i&0xff for i in range(300));m=bytes([0xc1,1]);" + "print((struct.pack('>H',len(a))+a+struct.pack('B',len(m))+m).hex())",
    );
    expect(ours).toBe(theirs);
    expect(Buffer.from(buildSpecAad(undefined, undefined)).toString("hex")).toBe("000000");
  });

  it("sample proxy layout: BE16(len aad) || SHA256(aad) || U8(len ctm) || ctm, digest only when AAD present", () => {
    const aad = new Uint8Array(Buffer.from("project=nile"));
    const ctm = new Uint8Array(Buffer.from("abc"));
    const ours = Buffer.from(buildSampleProxyAad(aad, ctm)).toString("hex");
    const theirs = py(
      "import struct,hashlib;a=b'project=nile';m=b'abc';" + "print((struct.pack('>H',len(a))+hashlib.sha256(a).digest()+struct.pack('B',len(m))+m).hex())",
    );
    expect(ours).toBe(theirs);
    expect(Buffer.from(buildSampleProxyAad(undefined, undefined)).toString("hex")).toBe("000000");
    // present-but-empty AAD still carries the digest of the empty string
    expect(buildSampleProxyAad(new Uint8Array(0), undefined).length).toBe(2 + 32 + 1);
  });

  it("the length prefixes stop bytes moving between AAD and metadata", () => {
    const x = buildSpecAad(b("ab"), b("c"));
    const y = buildSpecAad(b("a"), b("bc"));
    expect(Buffer.from(x).equals(Buffer.from(y))).toBe(false);
  });
});
