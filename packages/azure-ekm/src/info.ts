import { EKM_API_VERSION, type EkmProxyInfo } from "./types.js";

/** What `info` reports about the proxy and the key manager behind it. @public */
export interface EkmProxyDescription {
  proxyVendor: string;
  proxyName: string;
  ekmVendor: string;
  ekmProduct: string;
}

/** The ProxyInfo answer (the API version is this package's). @public */
export function proxyInfo(d: EkmProxyDescription): EkmProxyInfo {
  return { api_version: EKM_API_VERSION, proxy_vendor: d.proxyVendor, proxy_name: d.proxyName, ekm_vendor: d.ekmVendor, ekm_product: d.ekmProduct };
}
