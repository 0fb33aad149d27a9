import type { Logger } from "pino";
import { toActionFailure, normalizeOutput, type Action, type ActionContext } from "../actions/action.js";
import type { ActionRegistry } from "../actions/registry.js";
import { circuitKeyFor, type CallVerdict, type CircuitBreakers, type Refusal } from "./circuit-breakers.js";
import type { ConcurrencyLimiter } from "./concurrency-limiter.js";
import type { AttemptOutcome, EngineObserver } from "./engine-observer.js";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import { sagaOutputs } from "../domain/outputs.js";
import { idempotencyKey } from "../domain/attempt-phase.js";
import { attemptFailed, type SagaInput } from "../domain/state-machine.js";
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
  circuits: CircuitBreakers;
}

/** An attempt's result and what it says about the target, for its circuit breaker. */
type Judged = CallVerdict & { input: SagaInput };

/** Rejects when `signal` fires, so a call can be raced with it; dispose() drops the listener. */
function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => undefined); // a race that was already won must not leave an unhandled rejection
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/**
 * Runs one attempt of a step's action or compensation: renders its config, asks the circuit
 * breaker of its target, waits for a concurrency slot, enforces the attempt timeout (from when the
 * action starts, not from the queue) through the abort signal, and turns whatever happens into a
 * SagaInput. A timeout or cancel reports the failure at once, without waiting for an action that
 * ignores its signal. A call the breaker refuses is never made and reports a deferral, which gives
 * the attempt back.
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
  const failure = (error: string, errorKind: string, retryable: boolean, retryAfterMs?: number): SagaInput =>
    attemptFailed(phase, { step: step.name, attempt, error, errorKind, retryable, retryAfterMs });

  const abort = (cause: AbortCause) => {
    if (settled) return;
    controller.abort(new AttemptAbort(cause));
    if (cause === "TIMEOUT") finish(failure(`attempt ${attempt} timed out after ${spec.policy.timeoutMs}ms`, "TIMEOUT", true));
    else if (cause === "CANCELLED") finish(failure("aborted: saga cancelled", "CANCELLED", false));
    else finish(null);
  };

  // Made on first use: most attempts never log, and a pino child per attempt shows in profiles.
  let childLogger: Logger | undefined;
  const stepLogger = (): Logger => (childLogger ??= logger.child({ step: step.name, attempt, phase }));
  const deferral = (refusal: Refusal): SagaInput => {
    stepLogger().debug({ circuit: refusal.circuit, until: new Date(refusal.until).toISOString() }, "attempt deferred: circuit breaker refused the call");
    deps.observer.attemptFinished(spec.action, phase, "deferred", 0);
    const deferred = { step: step.name, attempt, circuit: refusal.circuit, reason: refusal.reason, until: refusal.until };
    return phase === "action" ? { type: "stepDeferred", ...deferred } : { type: "compensationDeferred", ...deferred };
  };

  /** The action call itself, as the breaker sees it: settles when the attempt's signal fires, at the latest. */
  const call = async (action: Action, ctx: ActionContext, release: () => void): Promise<Judged> => {
    if (spec.policy.timeoutMs > 0) cancelTimeout = clock.setTimer(spec.policy.timeoutMs, () => abort("TIMEOUT"));
    const startedAt = clock.now();
    let outcome: AttemptOutcome = "failed";
    const running = (async () => action.run(ctx))();
    // The slot stays taken while the action really runs, even one that ignores its signal.
    running.then(release, release);
    const aborted = whenAborted(controller.signal);
    try {
      const output = normalizeOutput(await Promise.race([running, aborted.promise]));
      outcome = "succeeded";
      const input: SagaInput = phase === "action"
        ? { type: "stepSucceeded", step: step.name, attempt, output }
        : { type: "compensationSucceeded", step: step.name, attempt };
      return { verdict: "success", input };
    } catch (err) {
      const f = toActionFailure(err, controller.signal);
      const cause = controller.signal.reason instanceof AttemptAbort ? controller.signal.reason.reason : null;
      outcome = cause === "TIMEOUT" ? "timed_out" : cause === null ? "failed" : "cancelled";
      const input = failure(f.message, f.kind, f.retryable, f.retryAfterMs);
      // What counts against the target: it failed (retryably) or did not answer in time.
      if (cause === "TIMEOUT") return { verdict: "failure", error: f.message, input };
      if (cause !== null) return { verdict: "neutral", input };
      return f.retryable ? { verdict: "failure", error: f.message, input } : { verdict: "success", input };
    } finally {
      aborted.dispose();
      deps.observer.attemptFinished(spec.action, phase, outcome, clock.now() - startedAt);
    }
  };

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
    const circuit = circuitKeyFor(action, config);
    // Refused before queueing for a slot: a step waiting for a breaker must not hold up others.
    const early = deps.circuits.check(circuit, spec.action);
    if (early) return deferral(early);
    const ctx: ActionContext = {
      sagaId: saga.id,
      sagaName: saga.name,
      step: step.name,
      phase,
      attempt,
      idempotencyKey: idempotencyKey(saga.id, step.name, phase),
      config,
      vars: saga.vars,
      outputs,
      signal: controller.signal,
      get logger() {
        return stepLogger();
      },
    };
    const release = await deps.limiter.acquire(controller.signal);
    // Aborted before it began (a cancel reached a recovered attempt): the action is never called.
    if (controller.signal.aborted) {
      release();
      return failure("aborted before it started", "ABORTED", true);
    }
    // Asked again: the breaker may have opened while this attempt waited for its slot.
    const admitted = deps.circuits.call(circuit, spec.action, () => call(action, ctx, release));
    if ("refused" in admitted) {
      release();
      return deferral(admitted.refused);
    }
    return (await admitted.result).input;
  };
  execute().then(finish, (err: unknown) => {
    // Not the action failing (that is caught above) but the runner itself: a bug worth an error line.
    stepLogger().error({ err }, "attempt crashed");
    finish(failure(String(err), "ERROR", true));
  });
  return { phase, attempt, abort, done };
}
