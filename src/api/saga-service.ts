import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { ActionRegistry } from "../actions/registry.js";
import { invalidArgument } from "../domain/errors.js";
import type { SagaInput } from "../domain/state-machine.js";
import {
  validateCreateSaga,
  validateStepConfigReplacement,
  type ValidationLimits,
} from "../domain/validate-saga.js";
import type { Engine } from "../engine/engine.js";
import type { EventBus } from "../engine/event-bus.js";
import type { SagaService } from "../gen/saga/v1/saga_pb.js";
import { listSagas, type ListFilter } from "../store/list-sagas.js";
import type { SagaStore } from "../store/saga-store.js";
import type pg from "pg";
import { circuitToProto, rawCreateSaga, sagaStatusFromProto, sagaToProto } from "./convert.js";
import { checkJsonObject, checkText, requireSagaId, requireStepName } from "./request-checks.js";
import { principalKey } from "./principal.js";
import { watchSaga } from "./watch-saga.js";

export interface SagaServiceDeps {
  engine: Engine;
  store: SagaStore;
  pool: pg.Pool;
  bus: EventBus;
  registry: ActionRegistry;
  limits: ValidationLimits;
  logger: Logger;
  /** Aborted at shutdown: open WatchSaga streams end with UNAVAILABLE. */
  shutdownSignal: AbortSignal;
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/**
 * SagaService over the engine. Handlers only translate: validate the request, call the engine or
 * store, convert the answer. Errors are thrown as domain errors and mapped in one interceptor.
 */
export function createSagaService(deps: SagaServiceDeps): ServiceImpl<typeof SagaService> {
  const { engine, limits } = deps;
  const operate = async (id: string, input: SagaInput, actor: string, context: HandlerContext) => ({
    saga: sagaToProto(await engine.operate(requireSagaId(id), input, actor, tokenName(context))),
  });

  return {
    async createSaga(req, context) {
      const draft = validateCreateSaga(rawCreateSaga(req), limits, (name) => deps.registry.has(name));
      return { saga: sagaToProto(await engine.create(draft, tokenName(context))) };
    },

    async getSaga(req) {
      return { saga: sagaToProto(await engine.get(requireSagaId(req.id))) };
    },

    async listSagas(req) {
      if (req.pageSize < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      const status = sagaStatusFromProto(req.status);
      if (status === undefined) throw invalidArgument([{ field: "status", description: `unknown value ${req.status}` }]);
      const filter: ListFilter = { name: req.name === "" ? null : req.name, status, labels: { ...req.labels } };
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
      const page = await listSagas(deps.pool, filter, pageSize, req.pageToken);
      return { sagas: page.sagas.map((s) => sagaToProto(s, false)), nextPageToken: page.nextPageToken };
    },

    async deleteSaga(req) {
      const id = requireSagaId(req.id);
      await engine.delete(id, req.force);
      return { id };
    },

    retrySaga: (req, context) => operate(req.id, { type: "retrySaga" }, "RetrySaga", context),

    rollbackSaga: (req, context) => operate(req.id, { type: "rollback" }, "RollbackSaga", context),

    cancelSaga: (req, context) =>
      operate(req.id, { type: "cancel", reason: checkText(req.reason, "reason", 1000) }, "CancelSaga", context),

    async retryStep(req, context) {
      const id = requireSagaId(req.id);
      const step = requireStepName(req.step);
      let config = null;
      if (req.config) {
        const saga = await engine.get(id);
        // An unknown step is decide's NOT_FOUND, with or without a config.
        if (saga.steps.some((s) => s.name === step)) {
          validateStepConfigReplacement(saga.steps, step, req.config, saga.vars, limits);
        }
        config = req.config;
      }
      return operate(id, { type: "retryStep", step, config }, "RetryStep", context);
    },

    async skipStep(req, context) {
      const output = checkJsonObject(req.output ?? {}, "output", limits.maxConfigBytes, limits.maxJsonDepth);
      return operate(req.id, { type: "skipStep", step: requireStepName(req.step), output }, "SkipStep", context);
    },

    watchSaga(req, context) {
      return watchSaga(deps, req, context.signal);
    },

    listCircuits() {
      return { replicaId: engine.replicaId, circuits: engine.circuits.list().map(circuitToProto) };
    },
  };
}

function tokenName(context: HandlerContext): string | null {
  return context.values.get(principalKey)?.tokenName ?? null;
}
