/**
 * Salesforce cache-only key service route group (stub; full implementation follows).
 */
import type { RouteGroupFactory } from "../route-group.js";

export const createSalesforceRouteGroup: RouteGroupFactory = async (_section, _ctx) => {
  return {
    name: "salesforce",
    pathPrefix: "/salesforce/keys",
    async handle(_req, res) {
      res.writeHead(501, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "NotImplemented" }));
      return { status: 501, errorName: "NotImplemented" };
    },
    async close() {},
  };
};
