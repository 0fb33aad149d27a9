import type { Logger } from "pino";
import { toActionFailure, normalizeOutput, type ActionContext } from "../actions/action.js";
import type { ActionRegistry } from "../actions/registry.js";
import type { ConcurrencyLimiter } from "./concurrency-limiter.js";
import type { AttemptOutcome, EngineObserver } from "./engine-observer.js";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import { sagaOutputs } from "../domain/outputs.js";
import type { SagaInput } from "../domain/state-machine.js";
import { renderTemplates } from "../domain/templates.js";
import type { JsonObject, SagaState, StepState } from "../domain/types.js";

/** Why an attempt's signal fired; decides how the failure is reported. */
export type AbortCause = "TIMEOUT" | "CANCELLED" | "SHUTDOWN" | "STALE";

export class AttemptAbort extends Error {
  constructor(readonly reason: AbortCause) {
    super(reason === "TIMEOUT" ? "attempt timed out" : `attempt aborted (${reason.toLowerCase()})`);
  }
}

export interface RunningAttempt {
  phase: "action" | "compensate";
  attempt: number;
  abort(cause: AbortCause): void;
  /** The engine input reporting the outcome, or null when the result must be dropped (shutdown). */
  done: Promise<SagaInput | null>;
}

export interface AttemptDeps {
  registry: ActionRegistry;
  clock: Clock;
  logger: Logger;
  limiter: ConcurrencyLimiter;
  observer: EngineObserver;
}

/**
 * Runs one attempt of a step's action or compensation: waits for a concurrency slot, renders its
 * config, enforces the attempt timeout (from when the action starts, not from the queue) through
 * the abort signal, and turns whatever happens into a SagaInput. A timeout or cancel reports the
 * failure at once, without waiting for an action that ignores its signal.
 */
export function runAttempt(deps: AttemptDeps, saga: SagaState, step: StepState, phase: "action" | "compensate"): RunningAttempt {
  const { registry, clock, logger } = deps;
  const controller = new AbortController();
  const attempt = step.attempt;
  const spec = phase === "action" ? { action: step.action, config: step.config, policy: step.retryPolicy } : {
    action: step.compensate!.action,
    config: step.compensate!.config,
    policy: step.compensate!.retryPolicy,
  };
  let settle!: (input: SagaInput | null) => void;
  const done = new Promise<SagaInput | null>((resolve) => (settle = resolve));
  let settled = false;
  let cancelTimeout = () => {};
  const finish = (input: SagaInput | null) => {
    if (settled) return;
    settled = true;
    cancelTimeout();
    settle(input);
  };
  const failure = (error: string, errorKind: string, retryable: boolean): SagaInput =>
    phase === "action"
      ? { type: "stepFailed", step: step.name, attempt, error, errorKind, retryable }
      : { type: "compensationFailed", step: step.name, attempt, error, errorKind, retryable };

  const abort = (cause: AbortCause) => {
    if (settled) return;
    controller.abort(new AttemptAbort(cause));
    if (cause === "TIMEOUT") finish(failure(`attempt ${attempt} timed out after ${spec.policy.timeoutMs}ms`, "TIMEOUT", true));
    else if (cause === "CANCELLED") finish(failure("aborted: saga cancelled", "CANCELLED", false));
    else finish(null);
  };

  const stepLogger = logger.child({ step: step.name, attempt, phase });
  const execute = async (): Promise<SagaInput> => {
    const action = registry.get(spec.action);
    if (!action) return failure(`action ${JSON.stringify(spec.action)} is not registered on this replica`, "UNKNOWN_ACTION", true);
    const outputs = sagaOutputs(saga);
    let config: JsonObject;
    try {
      config = renderTemplates(spec.config, { vars: saga.vars, outputs, saga: { id: saga.id, name: saga.name } });
    } catch (err) {
      if (err instanceof DomainError) return failure(err.message, "TEMPLATE_ERROR", false);
      throw err;
    }
    const ctx: ActionContext = {
      sagaId: saga.id,
      sagaName: saga.name,
      step: step.name,
      phase,
      attempt,
      idempotencyKey: phase === "action" ? `${saga.id}/${step.name}` : `${saga.id}/${step.name}/compensate`,
      config,
      vars: saga.vars,
      outputs,
      signal: controller.signal,
      logger: stepLogger,
    };
    const release = await deps.limiter.acquire(controller.signal);
    // Aborted before it began (a cancel reached a recovered attempt): the action is never called.
    if (controller.signal.aborted) {
      release();
      return failure("aborted before it started", "ABORTED", true);
    }
    if (spec.policy.timeoutMs > 0) cancelTimeout = clock.setTimer(spec.policy.timeoutMs, () => abort("TIMEOUT"));
    const startedAt = clock.now();
    let outcome: AttemptOutcome = "failed";
    try {
      const output = normalizeOutput(await action.run(ctx));
      outcome = "succeeded";
      return phase === "action"
        ? { type: "stepSucceeded", step: step.name, attempt, output }
        : { type: "compensationSucceeded", step: step.name, attempt };
    } catch (err) {
      const f = toActionFailure(err, controller.signal);
      const cause = controller.signal.reason instanceof AttemptAbort ? controller.signal.reason.reason : null;
      outcome = cause === "TIMEOUT" ? "timed_out" : cause === null ? "failed" : "cancelled";
      return failure(f.message, f.kind, f.retryable);
    } finally {
      release();
      deps.observer.attemptFinished(spec.action, phase, outcome, clock.now() - startedAt);
    }
  };
  execute().then(finish, (err: unknown) => {
    // Not the action failing (that is caught above) but the runner itself: a bug worth an error line.
    stepLogger.error({ err }, "attempt crashed");
    finish(failure(String(err), "ERROR", true));
  });
  return { phase, attempt, abort, done };
}
