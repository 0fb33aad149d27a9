import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { Health } from "../gen/health/v1/health_pb.js";
import { WorkerService } from "../gen/saga/v1/worker_pb.js";
import * as reflectionV1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { Metrics } from "./metrics.js";
import { principalKey } from "./principal.js";

/**
 * Services whose calls are logged at debug, not info: load balancers and orchestrators probe
 * health every few seconds, and tools reflect before every call; at info they would drown the log.
 * They are counted in the metrics like every other call.
 */
const QUIET_SERVICES: ReadonlySet<string> = new Set([
  Health.typeName,
  reflectionV1.ServerReflection.typeName,
  reflectionV1alpha.ServerReflection.typeName,
]);

/**
 * Worker calls made once per task or per heartbeat: a fleet of workers makes hundreds a second, so
 * those that succeed are logged at debug (metrics count them); a failed one is still logged at info.
 */
const QUIET_WHEN_OK: ReadonlySet<string> = new Set(
  (["pollTasks", "ackTasks", "heartbeat", "completeTask", "failTask", "reportCancelled"] as const).map(
    (m) => `${WorkerService.typeName}/${WorkerService.method[m].name}`,
  ),
);

/**
 * Logs one line per RPC when it ends, and counts it (and its latency) in the metrics: service,
 * method, code ("ok" or the Connect code name), duration_ms, protocol and the token name. A
 * stream ends when its last message went out, when it failed, or when the client went away
 * ("canceled"). Must be the outermost interceptor: then calls refused by the interceptors inside
 * (authentication) are logged and counted too, with the codes the error interceptor produced, and
 * the principal the auth interceptor put into the context values is there to read afterwards.
 */
export function rpcInterceptor(logger: Logger, metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const service = req.service.typeName;
    const method = req.method.name;
    const finish = (code: string) => {
      const durationMs = performance.now() - started;
      metrics.rpcFinished(service, method, code, durationMs);
      const line = {
        service,
        method,
        code,
        duration_ms: Math.round(durationMs * 10) / 10,
        protocol: protocolOf(req.header.get("content-type")),
        token: req.contextValues.get(principalKey)?.tokenName ?? null,
      };
      if (QUIET_SERVICES.has(service) || (code === "ok" && QUIET_WHEN_OK.has(`${service}/${method}`))) logger.debug(line, "rpc");
      else logger.info(line, "rpc");
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      finish(codeOf(err));
      throw err;
    }
    if (!res.stream) {
      finish("ok");
      return res;
    }
    const closeStream = metrics.streamOpened(service, method);
    return {
      ...res,
      message: observeStream(res.message, (code) => {
        closeStream();
        // A handler that returns when its client went away looks like a clean end; it was not.
        finish(code === "ok" && req.signal.aborted ? codeOf(req.signal.reason) : code);
      }),
    };
  };
}

async function* observeStream<T>(stream: AsyncIterable<T>, onEnd: (code: string) => void): AsyncIterable<T> {
  // Left as "canceled" when the reader stops early: the client went away mid-stream.
  let code = "canceled";
  try {
    yield* stream;
    code = "ok";
  } catch (err) {
    code = codeOf(err);
    throw err;
  } finally {
    onEnd(code);
  }
}

/** The Connect code name of an error ("not_found"); an abort without a ConnectError is "canceled". */
function codeOf(err: unknown): string {
  if (err instanceof ConnectError) return codeToString(err.code);
  if (err instanceof Error && err.name === "AbortError") return "canceled";
  return codeToString(ConnectError.from(err).code);
}

function protocolOf(contentType: string | null): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
