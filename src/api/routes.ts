import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../gen/health/v1/health_pb.js";
import { SagaService } from "../gen/saga/v1/saga_pb.js";
import { createHealthService, type HealthServiceDeps } from "./health-service.js";
import { registerReflection } from "./reflection-service.js";
import { createSagaService, type SagaServiceDeps } from "./saga-service.js";

/** What every service served needs; tests pass fakes. */
export type RouteDeps = SagaServiceDeps & HealthServiceDeps;

/**
 * The services this server exposes, as a function of their dependencies: the saga API,
 * grpc.health.v1, and server reflection (v1 and v1alpha) describing all of them.
 */
export function routes(deps: RouteDeps) {
  return (router: ConnectRouter) => {
    router.service(SagaService, createSagaService(deps));
    router.service(Health, createHealthService(deps));
    registerReflection(router, [SagaService, Health]);
  };
}
