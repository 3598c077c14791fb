// Lets a plain `node` process (a test's child, the token probe) load ciop's TypeScript sources:
// workspace packages resolve to their src/ as in the jest preset (never a stale dist/), and .ts files
// are compiled with swc on require.
const Module = require("node:module");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "../..");
const { transformSync } = require(require.resolve("@swc/core", { paths: [path.join(root, "apps/xks-proxy"), root] }));

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@ciop\/(hsm|core|wrap|xks|provider-kit|azure-ekm|salesforce-cache-only|providers-[a-z-]+)$/.exec(request);
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
