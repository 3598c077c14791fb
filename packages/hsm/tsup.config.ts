import { libraryConfig } from "../../tsup.preset";

// import.meta.url in the CommonJS build too (offload/pool.ts finds pkcs11js for its worker threads)
export default libraryConfig({ shims: true });
