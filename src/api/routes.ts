import type { ConnectRouter } from "@connectrpc/connect";
import { SagaService } from "../gen/saga/v1/saga_pb.js";
import { createSagaService, type SagaServiceDeps } from "./saga-service.js";

/** The services this server exposes, as a function of their dependencies (tests pass fakes). */
export function routes(deps: SagaServiceDeps) {
  return (router: ConnectRouter) => {
    router.service(SagaService, createSagaService(deps));
  };
}
