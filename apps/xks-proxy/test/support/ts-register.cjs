// Test support: lets a plain `node` child process run the proxy from its TypeScript sources,
// resolving workspace packages to their src/ like the jest preset does (never a stale dist/).
const Module = require("node:module");
const fs = require("node:fs");
const path = require("node:path");
const { transformSync } = require("@swc/core");

const root = path.resolve(__dirname, "../../../..");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@ciop\/(hsm|core|wrap|xks|providers-[a-z]+)$/.exec(request);
  if (m) request = path.join(root, "packages", m[1], "src/index.ts");
  else if (request.startsWith(".") && request.endsWith(".js") && parent?.filename?.endsWith(".ts")) {
    const ts = path.resolve(path.dirname(parent.filename), `${request.slice(0, -3)}.ts`);
    if (fs.existsSync(ts)) request = ts;
  }
  return resolve.call(this, request, parent, ...rest);
};
Module._extensions[".ts"] = (module, filename) => {
  const out = transformSync(fs.readFileSync(filename, "utf8"), {
    filename,
    jsc: { target: "es2022", parser: { syntax: "typescript" } },
    module: { type: "commonjs" },
  });
  module._compile(out.code, filename);
};
