/** The route groups built into the proxy, in the order they are mounted. */
import type { RouteGroupRegistration } from "./route-group.js";
import { azureEkmRouteGroup } from "./azure-ekm/registration.js";
import { salesforceRouteGroup } from "./salesforce/registration.js";

export const BUILT_IN_ROUTE_GROUPS: readonly RouteGroupRegistration[] = [salesforceRouteGroup, azureEkmRouteGroup];
