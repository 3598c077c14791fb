import { readFileSync } from "node:fs";
import { libraryConfig } from "../../tsup.preset";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

// The .byok "generator" member names the ciop version that wrote the file.
export default libraryConfig({ define: { __CIOP_PROVIDERS_AZURE_VERSION__: JSON.stringify(version) } });
