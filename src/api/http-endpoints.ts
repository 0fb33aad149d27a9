import type { HealthMonitor } from "../engine/health-monitor.js";
import type { RequestHandler } from "./http-server.js";
import type { Metrics } from "./metrics.js";

type Endpoint = (res: Parameters<RequestHandler>[1]) => Promise<void> | void;

/**
 * Plain HTTP endpoints next to the RPCs on the main port, for probes and scrapers that speak
 * neither gRPC nor Connect:
 * - `GET /metrics`: Prometheus text. No token: it holds counts by action, status and method, never
 *   saga data.
 * - `GET /healthz`: liveness; 200 while the process serves HTTP at all.
 * - `GET /readyz`: readiness; 200 only when migrations ran, the database answers and the server
 *   is not draining, else 503 with the reason (the same state gRPC health reports).
 * Every other request goes to `next` (Connect); RPC paths (`/package.Service/Method`) never clash.
 */
export function withHttpEndpoints(next: RequestHandler, deps: { metrics: Metrics; health: HealthMonitor }): RequestHandler {
  const endpoints: Record<string, Endpoint> = {
    "/metrics": (res) => serveMetrics(res, deps.metrics),
    "/healthz": (res) => text(res, 200, "ok\n"),
    "/readyz": (res) => {
      const readiness = deps.health.readiness();
      if (readiness.ready) text(res, 200, "ready\n");
      else text(res, 503, `not ready: ${readiness.reason}\n`);
    },
  };
  return route(endpoints, next);
}

/** The handler of the separate metrics port: `GET /metrics` and nothing else. */
export function metricsOnly(metrics: Metrics): RequestHandler {
  return route({ "/metrics": (res) => serveMetrics(res, metrics) }, (_req, res) => text(res, 404, "not found; try /metrics\n"));
}

function route(endpoints: Record<string, Endpoint>, next: RequestHandler): RequestHandler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const endpoint = Object.hasOwn(endpoints, path) ? endpoints[path] : undefined;
    if (!endpoint) return next(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return text(res, 405, `${req.method} not allowed; use GET\n`);
    }
    // The request body (there should be none) is not needed; drain it so the connection stays usable.
    req.resume();
    void Promise.resolve()
      .then(() => endpoint(res))
      .catch(() => {
        if (!res.headersSent) text(res, 500, "internal error\n");
        else res.destroy();
      });
  };
}

async function serveMetrics(res: Parameters<RequestHandler>[1], metrics: Metrics): Promise<void> {
  const { contentType, body } = await metrics.render();
  res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" });
  res.end(body);
}

function text(res: Parameters<RequestHandler>[1], status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
  res.end(body);
}
