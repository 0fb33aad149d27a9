import type { ServedActions } from "./served-actions.js";
import type { TaskStore } from "../store/task-store.js";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { DefinitionChangedError, invalidArgument } from "../domain/errors.js";
import type { SagaInput } from "../domain/state-machine.js";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  validateCreateFromDefinition,
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
import { stepTasksOf } from "./step-tasks.js";
import { watchSaga } from "./watch-saga.js";
import type { DefinitionCatalog } from "./definition-catalog.js";
import { deprecationWarnings, requireDefinitionName, requireVersion } from "./definition-service.js";

export interface SagaServiceDeps {
  engine: Engine;
  store: SagaStore;
  pool: pg.Pool;
  bus: EventBus;
  /** Whether a step may name this action: built in, embedded, or a valid worker action name. */
  acceptsAction: (name: string) => boolean;
  catalog: DefinitionCatalog;
  /** Task rows, for the sub-state of worker steps in GetSaga. */
  tasks: TaskStore;
  /** Warns CreateSaga callers about worker actions no worker serves. */
  servedActions: ServedActions;
  limits: ValidationLimits;
  logger: Logger;
  /** Aborted at shutdown: open WatchSaga streams end with UNAVAILABLE. */
  shutdownSignal: AbortSignal;
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
/** Renders of a definition create before a version that keeps changing under it is reported as ABORTED. */
const MAX_DEFINITION_ATTEMPTS = 3;

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
      const raw = rawCreateSaga(req);
      if (raw.definitionRef === null) {
        const draft = validateCreateSaga(raw, limits, deps.acceptsAction);
        const saga = await engine.create(draft, tokenName(context));
        return { saga: sagaToProto(saga), warnings: await deps.servedActions.warnings(draft.steps) };
      }
      if (raw.steps.length > 0) throw invalidArgument([{ field: "definition_ref", description: "give either steps or definition_ref, not both" }]);
      const name = requireDefinitionName(raw.definitionRef.name, "definition_ref.name");
      const version = requireVersion(raw.definitionRef.version, "definition_ref.version", true);
      // The version's state comes from this replica's cache and the insert checks it still holds;
      // if not (disabled, deprecated or superseded elsewhere), render again from the stored truth.
      for (let attempt = 1; ; attempt++) {
        const resolved = await deps.catalog.resolve(name, version, attempt > 1);
        const draft = validateCreateFromDefinition(raw, resolved.compiled, resolved.version, { state: resolved.state, latest: version === 0 });
        try {
          const saga = await engine.create(draft, tokenName(context));
          const unserved = await deps.servedActions.warnings(draft.steps);
          return { saga: sagaToProto(saga), warnings: [...deprecationWarnings(name, resolved.version, resolved.state), ...unserved] };
        } catch (err) {
          if (!(err instanceof DefinitionChangedError) || attempt >= MAX_DEFINITION_ATTEMPTS) throw err;
        }
      }
    },

    async getSaga(req) {
      const saga = await engine.get(requireSagaId(req.id));
      return { saga: sagaToProto(saga, true, await stepTasksOf(deps.tasks, saga)) };
    },

    async listSagas(req) {
      if (req.pageSize < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      const status = sagaStatusFromProto(req.status);
      if (status === undefined) throw invalidArgument([{ field: "status", description: `unknown value ${req.status}` }]);
      if (req.definitionVersion !== 0 && req.definitionName === "") {
        throw invalidArgument([{ field: "definition_version", description: "needs definition_name" }]);
      }
      const filter: ListFilter = {
        name: req.name === "" ? null : req.name,
        status,
        labels: { ...req.labels },
        definition: req.definitionName === "" ? null : { name: req.definitionName, version: requireVersion(req.definitionVersion, "definition_version", true) },
        createdAfter: req.createdAfter ? timestampMs(req.createdAfter, "created_after") : null,
        createdBefore: req.createdBefore ? timestampMs(req.createdBefore, "created_before") : null,
      };
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
      const page = await listSagas(deps.pool, filter, pageSize, req.pageToken);
      return { sagas: page.sagas.map((s) => sagaToProto(s, false)), nextPageToken: page.nextPageToken };
    },

    async deleteSaga(req, context) {
      const id = requireSagaId(req.id);
      const reason = checkText(req.reason, "reason", MAX_REASON_CHARS);
      await engine.delete(id, req.force);
      // The history goes with the saga: the log is where who deleted it, and why, remains.
      deps.logger.info({ saga_id: id, force: req.force, token: tokenName(context), reason: reason || null }, "saga deleted");
      return { id };
    },

    retrySaga: (req, context) => operate(req.id, { type: "retrySaga", reason: reasonOf(req) }, "RetrySaga", context),

    rollbackSaga: (req, context) => operate(req.id, { type: "rollback", reason: reasonOf(req) }, "RollbackSaga", context),

    cancelSaga: (req, context) =>
      operate(req.id, { type: "cancel", reason: reasonOf(req) }, "CancelSaga", context),

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
      return operate(id, { type: "retryStep", step, config, reason: reasonOf(req) }, "RetryStep", context);
    },

    async skipStep(req, context) {
      const output = checkJsonObject(req.output ?? {}, "output", limits.maxConfigBytes, limits.maxJsonDepth);
      const reason = reasonOf(req);
      return operate(req.id, { type: "skipStep", step: requireStepName(req.step), output, reason }, "SkipStep", context);
    },

    watchSaga(req, context) {
      return watchSaga(deps, req, context.signal);
    },

    listCircuits() {
      return { replicaId: engine.replicaId, circuits: engine.circuits.list().map(circuitToProto) };
    },

    whoAmI(_req, context) {
      const principal = context.values.get(principalKey);
      return { tokenName: principal?.tokenName ?? "", scopes: [...(principal?.scopes ?? [])].sort() };
    },
  };
}

const MAX_REASON_CHARS = 1000;

/** Every control RPC's optional reason, bounded; it goes on the events the operation causes. */
function reasonOf(req: { reason: string }): string {
  return checkText(req.reason, "reason", MAX_REASON_CHARS);
}

function timestampMs(value: Timestamp, field: string): number {
  const ms = Number(value.seconds) * 1000 + Math.floor(value.nanos / 1e6);
  if (!Number.isFinite(ms) || value.nanos < 0 || value.nanos > 999_999_999 || Math.abs(ms) > 8.64e15) {
    throw invalidArgument([{ field, description: "is not a valid timestamp" }]);
  }
  return ms;
}

function tokenName(context: HandlerContext): string | null {
  return context.values.get(principalKey)?.tokenName ?? null;
}
