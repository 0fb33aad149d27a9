import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../gen/health/v1/health_pb.js";
import { SagaService } from "../gen/saga/v1/saga_pb.js";
import { DefinitionService } from "../gen/saga/v1/definition_pb.js";
import { WorkerService } from "../gen/saga/v1/worker_pb.js";
import { createWorkerService, type WorkerServiceDeps } from "../workers/worker-service.js";
import { createDefinitionService, type DefinitionServiceDeps } from "./definition-service.js";
import { createHealthService, type HealthServiceDeps } from "./health-service.js";
import { registerReflection } from "./reflection-service.js";
import { createSagaService, type SagaServiceDeps } from "./saga-service.js";

/**
 * JSON read as strictly as the proto3 JSON spec asks parsers to by default: an unknown field or
 * enum name is INVALID_ARGUMENT (connect-es ignores both unless told, so a misspelt
 * "FAILURE_POLICY_COMPENSATE" silently became HOLD), and a body that is not UTF-8 is refused
 * instead of stored with U+FFFD in place of the bad bytes (the binary decoder refuses it too).
 */
const STRICT_JSON = { ignoreUnknownFields: false, textDecoder: new TextDecoder("utf-8", { fatal: true }) };

/** What every service served needs; tests pass fakes. */
export type RouteDeps = SagaServiceDeps & HealthServiceDeps & DefinitionServiceDeps & { workers: WorkerServiceDeps };

/**
 * The services this server exposes, as a function of their dependencies: the saga and definition
 * APIs, grpc.health.v1, and server reflection (v1 and v1alpha) describing all of them.
 */
export function routes(deps: RouteDeps) {
  return (router: ConnectRouter) => {
    router.service(SagaService, createSagaService(deps), { jsonOptions: STRICT_JSON });
    router.service(DefinitionService, createDefinitionService(deps), { jsonOptions: STRICT_JSON });
    router.service(WorkerService, createWorkerService(deps.workers), { jsonOptions: STRICT_JSON });
    router.service(Health, createHealthService(deps), { jsonOptions: STRICT_JSON });
    registerReflection(router, [SagaService, DefinitionService, WorkerService, Health]);
  };
}
