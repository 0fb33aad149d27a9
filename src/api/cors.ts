import { cors } from "@connectrpc/connect";
import type { RequestHandler } from "./http-server.js";

/** Paths that never answer another origin's page: metrics are for scrapers, not browsers. */
const NEVER_CROSS_ORIGIN = new Set(["/metrics"]);

/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 7200;

const ALLOW_METHODS = cors.allowedMethods.join(", ");
const ALLOW_HEADERS = [...cors.allowedHeaders, "Authorization"].join(", ");
const EXPOSE_HEADERS = cors.exposedHeaders.join(", ");

/**
 * Lets web pages from `origins` (exact `scheme://host[:port]`, or `["*"]` for any) call every RPC
 * and the health endpoints over Connect and gRPC-Web, unary and streaming: preflights are answered
 * here (204, with the methods and headers `@connectrpc/connect` lists for its protocols, plus
 * `Authorization` for the API token), and responses expose the gRPC status headers that a
 * gRPC-Web client must read. A request from any other origin, or to `/metrics`, gets no CORS
 * header at all, so the browser refuses it; with no origins this adds nothing.
 *
 * The origin is echoed rather than answered with `*`, even where any origin is allowed, so the
 * answer is the same for every browser rule, and `Vary: Origin` keeps caches from mixing answers.
 */
export function withCors(next: RequestHandler, origins: readonly string[]): RequestHandler {
  if (origins.length === 0) return next;
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (origin === undefined || NEVER_CROSS_ORIGIN.has(path)) return next(req, res);
    res.setHeader("Vary", "Origin");
    if (!anyOrigin && !allowed.has(origin)) return next(req, res);
    res.setHeader("Access-Control-Allow-Origin", origin);
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      res.writeHead(204, {
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_S),
        Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      });
      req.resume();
      res.end();
      return;
    }
    res.setHeader("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    return next(req, res);
  };
}
