import { attemptInFlight, compensationRetryScheduled, compensationRunning, type AttemptPhase } from "./attempt-phase.js";
import { backoffDelayMs } from "./backoff.js";
import { compensationsReady } from "./compensation-order.js";
import { DomainError, failedPrecondition } from "./errors.js";
import {
  STEP_OPERATION_ALLOWED_IN,
  assertOperationAllowed,
  assertSagaTransition,
  assertStepTransition,
} from "./transitions.js";
import { CIRCUIT_OPEN, RESTING_SAGA_STATUSES } from "./types.js";
import type { EventType, JsonObject, RetryPolicy, SagaEvent, SagaState, SagaStatus, StepState, StepStatus } from "./types.js";

/** What can happen to a saga: results reported by the engine, and operator operations. */
export type SagaInput =
  | { type: "advance" }
  /** A replica took the saga over: its attempts in flight run again (all, or only `steps`). */
  | { type: "recover"; steps?: readonly string[] }
  | { type: "stepSucceeded"; step: string; attempt: number; output: JsonObject }
  | ({ type: "stepFailed" } & AttemptFailure)
  /** A worker running the attempt was lost; its task is offered again with the same attempt. */
  | { type: "taskRequeued"; step: string; phase: AttemptPhase; attempt: number; why: string }
  /** A scheduled retry is due; `why` says who woke it early (a circuit breaker's probe or release). */
  | { type: "retryDue"; step: string; why?: string }
  | { type: "compensationSucceeded"; step: string; attempt: number }
  | ({ type: "compensationFailed" } & AttemptFailure)
  | ({ type: "stepDeferred" } & Deferral)
  | ({ type: "compensationDeferred" } & Deferral)
  | { type: "retrySaga"; reason?: string }
  | { type: "retryStep"; step: string; config: JsonObject | null; reason?: string }
  | { type: "skipStep"; step: string; output: JsonObject; reason?: string }
  | { type: "rollback"; reason?: string }
  | { type: "cancel"; reason: string };

/** How an attempt failed; `retryAfterMs` (a worker's hint) is the least wait before the next one. */
export interface AttemptFailure {
  step: string;
  attempt: number;
  error: string;
  errorKind: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/**
 * The input reporting a failed attempt of `phase`, for every executor (embedded actions, workers,
 * the task sweeps). A `retryAfterMs` of 0 is left out: no hint.
 */
export function attemptFailed(phase: AttemptPhase, failure: AttemptFailure): SagaInput {
  const { retryAfterMs, ...rest } = failure;
  const reported = retryAfterMs ? { ...rest, retryAfterMs } : rest;
  return phase === "action" ? { type: "stepFailed", ...reported } : { type: "compensationFailed", ...reported };
}

/**
 * An attempt the engine did not make because the action's circuit breaker refused it. The attempt
 * is given back (the retried one has the same number and budget) and the step waits until `until`,
 * when the breaker lets a probe through; the replica holding the saga may wake it earlier.
 */
export interface Deferral {
  step: string;
  /** The attempt that was started in the state but never called. */
  attempt: number;
  /** The breaker's key, e.g. "http pay.example:443". */
  circuit: string;
  /** Why, for the step's error and the event: names the circuit and its next probe time. */
  reason: string;
  /** Epoch ms: the breaker's next probe time. */
  until: number;
}

export interface DecideEnv {
  now: number;
  /** Uniform in [0, 1); only jitter uses it. */
  random: () => number;
  /** Recorded on every event: "engine" or the operator operation. */
  actor: string;
  /** The API token behind an operator operation, recorded on its events; null or absent for the engine. */
  tokenName?: string | null;
  /** Names worker actions, so the history says an attempt waits for a worker; absent: none are. */
  isWorkerAction?: (action: string) => boolean;
}

/** The new state plus what to persist: the events (sequenced) and which step rows changed. */
export interface Decision {
  state: SagaState;
  events: SagaEvent[];
  changedSteps: number[];
}

/**
 * The one transition function. Pure: given a saga and an input it returns the next saga, the
 * events that explain the change (with the next per-saga sequences) and the step rows to write.
 * Engine results that no longer apply (a stale attempt, a step an operator moved on) yield a
 * decision with no events; operator operations that do not apply throw FAILED_PRECONDITION.
 * After every input the saga is advanced: ready steps start, finished phases settle.
 */
export function decide(state: SagaState, input: SagaInput, env: DecideEnv): Decision {
  const tx = new Transition(state, env);
  tx.apply(input);
  return tx.finish();
}

const OPERATOR_INPUTS: ReadonlySet<SagaInput["type"]> = new Set(["retrySaga", "retryStep", "skipStep", "rollback", "cancel"]);

const RESTING_AFTER_COMPENSATION = (saga: SagaState): SagaStatus => (saga.cancelRequested ? "CANCELLED" : "COMPENSATED");

class Transition {
  private readonly saga: SagaState;
  private readonly events: SagaEvent[] = [];
  private readonly changed = new Set<number>();
  private readonly index: Map<string, number>;
  private reason: string | null = null;

  constructor(
    original: SagaState,
    private readonly env: DecideEnv,
  ) {
    this.saga = { ...original, steps: original.steps.slice() };
    this.index = new Map(original.steps.map((s, i) => [s.name, i]));
  }

  finish(): Decision {
    if (this.events.length > 0) this.saga.updatedAt = this.env.now;
    return { state: this.saga, events: this.events, changedSteps: [...this.changed].sort((a, b) => a - b) };
  }

  apply(input: SagaInput): void {
    // An operator's reason goes on every event its operation causes, the advance that follows included.
    if ("reason" in input && OPERATOR_INPUTS.has(input.type)) this.reason = input.reason || null;
    switch (input.type) {
      case "advance":
        if (this.saga.status === "PENDING") this.setSagaStatus("RUNNING");
        break;
      case "recover":
        this.saga.steps.forEach((step, i) => {
          if (attemptInFlight(step) && (input.steps === undefined || input.steps.includes(step.name))) {
            this.emit("STEP_RECOVERED", i, { message: `attempt ${step.attempt} runs again after a takeover` });
          }
        });
        break;
      case "taskRequeued":
        this.taskRequeued(input.step, input.phase, input.attempt, input.why);
        break;
      case "stepSucceeded":
        this.stepSucceeded(input.step, input.attempt, input.output);
        break;
      case "stepFailed":
        this.stepFailed(input);
        break;
      case "retryDue":
        this.retryDue(input.step, input.why);
        break;
      case "compensationSucceeded":
        this.compensationSucceeded(input.step, input.attempt);
        break;
      case "compensationFailed":
        this.compensationFailed(input);
        break;
      case "stepDeferred":
        this.stepDeferred(input);
        break;
      case "compensationDeferred":
        this.compensationDeferred(input);
        break;
      case "retrySaga":
        this.retrySaga();
        break;
      case "retryStep":
        this.retryStep(input.step, input.config);
        break;
      case "skipStep":
        this.skipStep(input.step, input.output);
        break;
      case "rollback":
        this.rollback();
        break;
      case "cancel":
        this.cancel(input.reason);
        break;
    }
    this.advance();
  }

  // ----- engine results -------------------------------------------------------------------------

  private stepSucceeded(name: string, attempt: number, output: JsonObject): void {
    const i = this.runningAttempt(name, attempt);
    if (i === undefined) return;
    this.setStep(i, "COMPLETED", { output, error: null, errorKind: null, completedAt: this.env.now });
    this.emit("STEP_COMPLETED", i, { output, message: `step ${name} completed` });
  }

  /** The attempt stays in flight (same number, same budget); only the history tells of the requeue. */
  private taskRequeued(name: string, phase: AttemptPhase, attempt: number, why: string): void {
    const i = phase === "action" ? this.runningAttempt(name, attempt) : this.compensationAttempt(name, attempt);
    if (i === undefined) return;
    const what = phase === "action" ? "attempt" : "compensation attempt";
    this.emit("STEP_RECOVERED", i, { message: `${what} ${attempt} of step ${name} offered again: ${why}` });
  }

  private stepFailed(input: Extract<SagaInput, { type: "stepFailed" }>): void {
    const i = this.runningAttempt(input.step, input.attempt);
    if (i === undefined) return;
    const step = this.step(i);
    const failure = { error: input.error, errorKind: input.errorKind };
    if (this.saga.status === "CANCELLING") {
      this.setStep(i, "CANCELLED", { ...failure, completedAt: this.env.now });
      this.emit("STEP_CANCELLED", i, { ...failure, message: `step ${step.name} aborted by cancel` });
      return;
    }
    const retryable = input.retryable && !step.retryPolicy.nonRetryableErrors.includes(input.errorKind);
    const used = step.attempt - step.roundStart;
    if (retryable && used < step.retryPolicy.maxAttempts) {
      const nextAttemptAt = this.env.now + this.retryDelay(step.retryPolicy, used, input.retryAfterMs);
      this.setStep(i, "RETRY_SCHEDULED", { ...failure, nextAttemptAt });
      this.emit("STEP_RETRY_SCHEDULED", i, { ...failure, nextAttemptAt, message: `attempt ${step.attempt} failed` });
      return;
    }
    const why = retryable ? `after ${used} attempts` : "with a non-retryable error";
    this.setStep(i, "FAILED", { ...failure, completedAt: this.env.now });
    this.saga.error = `step ${step.name} failed ${why}: ${input.error}`;
    this.emit("STEP_FAILED", i, { ...failure, message: this.saga.error });
  }

  private retryDue(name: string, why: string | undefined): void {
    const i = this.index.get(name);
    if (i === undefined) return;
    const step = this.step(i);
    if (step.status === "RETRY_SCHEDULED" && this.saga.status === "RUNNING" && !this.halted()) {
      this.startAttempt(i, why);
    } else if (compensationRetryScheduled(step) && this.compensatingPhase()) {
      this.startCompensationAttempt(i, why);
    }
  }

  private compensationSucceeded(name: string, attempt: number): void {
    const i = this.compensationAttempt(name, attempt);
    if (i === undefined) return;
    this.setStep(i, "COMPENSATED", { error: null, errorKind: null });
    this.emit("COMPENSATION_COMPLETED", i, { message: `step ${name} compensated` });
  }

  private compensationFailed(input: Extract<SagaInput, { type: "compensationFailed" }>): void {
    const i = this.compensationAttempt(input.step, input.attempt);
    if (i === undefined) return;
    const step = this.step(i);
    const policy = step.compensate!.retryPolicy;
    const failure = { error: input.error, errorKind: input.errorKind };
    const retryable = input.retryable && !policy.nonRetryableErrors.includes(input.errorKind);
    const used = step.attempt - step.roundStart;
    if (retryable && used < policy.maxAttempts) {
      const nextAttemptAt = this.env.now + this.retryDelay(policy, used, input.retryAfterMs);
      this.patchStep(i, { ...failure, nextAttemptAt });
      this.emit("COMPENSATION_RETRY_SCHEDULED", i, { ...failure, nextAttemptAt, message: `compensation attempt ${step.attempt} failed` });
      return;
    }
    this.setStep(i, "COMPENSATION_FAILED", failure);
    this.saga.error = `compensation of step ${step.name} failed: ${input.error}`;
    this.emit("COMPENSATION_FAILED", i, { ...failure, message: this.saga.error });
  }

  /** The breaker refused the call: RETRY_SCHEDULED until its probe time, attempt and budget untouched. */
  private stepDeferred(input: Deferral): void {
    const i = this.runningAttempt(input.step, input.attempt);
    if (i === undefined) return;
    const step = this.step(i);
    const given = { attempt: input.attempt - 1, error: input.reason, errorKind: CIRCUIT_OPEN };
    if (this.saga.status === "CANCELLING") {
      this.setStep(i, "CANCELLED", { ...given, completedAt: this.env.now });
      this.emit("STEP_CANCELLED", i, { error: given.error, errorKind: given.errorKind, message: `step ${step.name} cancelled before its call` });
      return;
    }
    const nextAttemptAt = Math.max(input.until, this.env.now);
    // A first attempt that never ran leaves the step never started.
    const startedAt = given.attempt === 0 ? null : step.startedAt;
    this.setStep(i, "RETRY_SCHEDULED", { ...given, nextAttemptAt, startedAt });
    this.emit("STEP_DEFERRED", i, {
      error: given.error,
      errorKind: given.errorKind,
      nextAttemptAt,
      message: `attempt ${input.attempt} of step ${step.name} deferred: ${input.reason}`,
    });
  }

  /** As `stepDeferred`, for a compensation: it stays COMPENSATING and waits for the probe time. */
  private compensationDeferred(input: Deferral): void {
    const i = this.compensationAttempt(input.step, input.attempt);
    if (i === undefined) return;
    const nextAttemptAt = Math.max(input.until, this.env.now);
    this.patchStep(i, { attempt: input.attempt - 1, error: input.reason, errorKind: CIRCUIT_OPEN, nextAttemptAt });
    this.emit("STEP_DEFERRED", i, {
      error: input.reason,
      errorKind: CIRCUIT_OPEN,
      nextAttemptAt,
      message: `compensation attempt ${input.attempt} of step ${input.step} deferred: ${input.reason}`,
    });
  }

  // ----- operator operations --------------------------------------------------------------------

  private retrySaga(): void {
    assertOperationAllowed("RetrySaga", this.saga.status);
    if (this.saga.retryCount >= this.saga.maxRetries) {
      throw new DomainError(
        "RETRY_LIMIT_REACHED",
        `RetrySaga does not apply: the saga used ${this.saga.retryCount} of ${this.saga.maxRetries} retries`,
        [],
        { state: this.saga.status },
      );
    }
    this.saga.retryCount += 1;
    this.saga.error = null;
    this.setSagaStatus("RUNNING");
    this.saga.steps.forEach((step, i) => {
      if (step.status === "FAILED") {
        this.setStep(i, "PENDING", { roundStart: step.attempt, error: null, errorKind: null, completedAt: null });
        this.emit("STEP_RESET", i, { message: `step ${step.name} reset by RetrySaga` });
      } else if (step.status === "RETRY_SCHEDULED") {
        this.patchStep(i, { nextAttemptAt: this.env.now });
      }
    });
  }

  private retryStep(name: string, config: JsonObject | null): void {
    assertOperationAllowed("RetryStep", this.saga.status);
    const i = this.stepForOperation("RetryStep", name);
    this.saga.error = null;
    const roundStart = this.step(i).attempt;
    this.patchStep(i, { roundStart, error: null, errorKind: null, completedAt: null, ...(config ? { config } : {}) });
    this.emit("STEP_RESET", i, { message: `step ${name} reset by RetryStep${config ? " with a new config" : ""}` });
    this.setSagaStatus("RUNNING");
    this.startAttempt(i);
  }

  private skipStep(name: string, output: JsonObject): void {
    assertOperationAllowed("SkipStep", this.saga.status);
    const i = this.stepForOperation("SkipStep", name);
    this.setStep(i, "SKIPPED", { output, nextAttemptAt: null, completedAt: this.env.now });
    this.emit("STEP_SKIPPED", i, { output, message: `step ${name} skipped` });
    if (this.saga.status === "FAILED" && !this.halted()) {
      this.saga.error = null;
      this.setSagaStatus("RUNNING");
    }
  }

  private rollback(): void {
    assertOperationAllowed("RollbackSaga", this.saga.status);
    this.saga.error = null;
    this.setSagaStatus("COMPENSATING");
    this.saga.steps.forEach((step, i) => {
      // Its downstream steps were all settled before it first started, so it may go again now.
      if (step.status === "COMPENSATION_FAILED") {
        this.setStep(i, "COMPENSATING", { roundStart: step.attempt, error: null, errorKind: null });
        this.emit("STEP_RESET", i, { message: `compensation of step ${step.name} will be retried` });
        this.startCompensationAttempt(i);
      }
    });
    this.abandonScheduledRetries("saga is rolling back");
  }

  private cancel(reason: string): void {
    assertOperationAllowed("CancelSaga", this.saga.status);
    this.saga.cancelRequested = true;
    this.saga.error = reason ? `cancelled: ${reason}` : "cancelled";
    this.setSagaStatus("CANCELLING");
    this.abandonScheduledRetries("saga was cancelled");
  }

  // ----- advancing ------------------------------------------------------------------------------

  /** Starts whatever may start now and settles the saga when its phase is over. */
  private advance(): void {
    if (this.saga.status === "RUNNING") this.advanceRunning();
    if (this.compensatingPhase()) this.advanceCompensation();
  }

  private advanceRunning(): void {
    const steps = this.saga.steps;
    const running = steps.some((s) => s.status === "RUNNING");
    if (this.halted()) {
      if (running) return;
      if (this.saga.failurePolicy === "COMPENSATE") {
        this.setSagaStatus("COMPENSATING");
        this.abandonScheduledRetries("saga is compensating");
      } else {
        this.saga.error ??= this.firstStepError("FAILED");
        this.setSagaStatus("FAILED");
      }
      return;
    }
    if (steps.every((s) => s.status === "COMPLETED" || s.status === "SKIPPED")) {
      this.setSagaStatus("COMPLETED");
      return;
    }
    // A skipped step satisfies its dependents only once its own upstream is satisfied too, so
    // skipping ahead never lets a step run before the steps whose outputs it may read.
    const satisfied = new Map<string, boolean>();
    const done = (name: string): boolean => {
      let known = satisfied.get(name);
      if (known === undefined) {
        const step = this.step(this.index.get(name)!);
        known = step.status === "COMPLETED" || (step.status === "SKIPPED" && step.dependsOn.every(done));
        satisfied.set(name, known);
      }
      return known;
    };
    steps.forEach((step, i) => {
      if (step.status === "PENDING" && step.dependsOn.every(done)) this.startAttempt(i);
    });
  }

  private advanceCompensation(): void {
    const steps = this.saga.steps;
    if (steps.some((s) => s.status === "RUNNING")) return; // cancel waits for aborted attempts
    for (const i of compensationsReady(steps)) {
      this.setStep(i, "COMPENSATING", { attempt: 0, roundStart: 0, error: null, errorKind: null });
      this.startCompensationAttempt(i);
    }
    if (steps.some((s) => s.status === "COMPENSATING")) return;
    const failed = steps.some((s) => s.status === "COMPENSATION_FAILED");
    if (failed) this.saga.error ??= this.firstStepError("COMPENSATION_FAILED");
    this.setSagaStatus(failed ? "COMPENSATION_FAILED" : RESTING_AFTER_COMPENSATION(this.saga));
  }

  private startAttempt(i: number, why?: string): void {
    const step = this.step(i);
    this.setStep(i, "RUNNING", {
      attempt: step.attempt + 1,
      nextAttemptAt: null,
      startedAt: step.startedAt ?? this.env.now,
    });
    const because = why ? ` (${why})` : "";
    const queued = this.env.isWorkerAction?.(step.action) ? `; queued for a worker serving ${step.action}` : "";
    this.emit("STEP_STARTED", i, { message: `step ${step.name} attempt ${step.attempt + 1} started${because}${queued}` });
  }

  private startCompensationAttempt(i: number, why?: string): void {
    const step = this.step(i);
    this.patchStep(i, { attempt: step.attempt + 1, nextAttemptAt: null });
    const because = why ? ` (${why})` : "";
    const action = step.compensate!.action;
    const queued = this.env.isWorkerAction?.(action) ? `; queued for a worker serving ${action}` : "";
    this.emit("COMPENSATION_STARTED", i, { message: `compensation of step ${step.name} attempt ${step.attempt + 1} started${because}${queued}` });
  }

  private abandonScheduledRetries(why: string): void {
    this.saga.steps.forEach((step, i) => {
      if (step.status === "RETRY_SCHEDULED") {
        this.setStep(i, "CANCELLED", { nextAttemptAt: null, completedAt: this.env.now });
        this.emit("STEP_CANCELLED", i, { message: `retry of step ${step.name} abandoned: ${why}` });
      }
    });
  }

  // ----- helpers --------------------------------------------------------------------------------

  /** The backoff wait, or longer if the worker asked for more (a rate limit's Retry-After). */
  private retryDelay(policy: RetryPolicy, failedAttempts: number, retryAfterMs: number | undefined): number {
    return Math.max(backoffDelayMs(policy, failedAttempts, this.env.random), retryAfterMs ?? 0);
  }

  /** Why the saga rests, when the operation that woke it cleared the error: a step still in `status`. */
  private firstStepError(status: StepStatus): string {
    const step = this.saga.steps.find((s) => s.status === status)!;
    const what = status === "FAILED" ? "step" : "compensation of step";
    return `${what} ${step.name} failed: ${step.error ?? "unknown error"}`;
  }

  /** A step failed for good: no new step starts until an operator acts. */
  private halted(): boolean {
    return this.saga.steps.some((s) => s.status === "FAILED");
  }

  private compensatingPhase(): boolean {
    return this.saga.status === "COMPENSATING" || this.saga.status === "CANCELLING";
  }

  private step(i: number): StepState {
    return this.saga.steps[i]!;
  }

  private runningAttempt(name: string, attempt: number): number | undefined {
    const i = this.index.get(name);
    if (i === undefined) return undefined;
    const step = this.step(i);
    return step.status === "RUNNING" && step.attempt === attempt ? i : undefined;
  }

  private compensationAttempt(name: string, attempt: number): number | undefined {
    const i = this.index.get(name);
    if (i === undefined) return undefined;
    const step = this.step(i);
    return compensationRunning(step) && step.attempt === attempt ? i : undefined;
  }

  private stepForOperation(operation: keyof typeof STEP_OPERATION_ALLOWED_IN, name: string): number {
    const i = this.index.get(name);
    if (i === undefined) {
      throw new DomainError("NOT_FOUND", `saga ${this.saga.id} has no step ${JSON.stringify(name)}`, [], { step: name });
    }
    const status = this.step(i).status;
    const allowed: readonly StepStatus[] = STEP_OPERATION_ALLOWED_IN[operation];
    if (!allowed.includes(status)) {
      throw failedPrecondition(
        `${operation} does not apply: step ${name} is ${status} (needs ${allowed.join(" or ")})`,
        status,
      );
    }
    return i;
  }

  private setSagaStatus(to: SagaStatus): void {
    const from = this.saga.status;
    if (from === to) return;
    assertSagaTransition(from, to);
    this.saga.status = to;
    this.saga.completedAt = RESTING_SAGA_STATUSES.has(to) ? this.env.now : null;
    this.emit("SAGA_STATUS_CHANGED", null, { message: `saga ${from} -> ${to}` });
  }

  private setStep(i: number, to: StepStatus, patch: Partial<StepState>): void {
    const step = this.step(i);
    if (step.status !== to) assertStepTransition(step.name, step.status, to);
    this.patchStep(i, { ...patch, status: to });
  }

  private patchStep(i: number, patch: Partial<StepState>): void {
    this.saga.steps[i] = { ...this.step(i), ...patch };
    this.changed.add(i);
    this.saga.currentStep = this.step(i).name;
  }

  private emit(
    type: EventType,
    stepIndex: number | null,
    extra: Partial<Pick<SagaEvent, "error" | "errorKind" | "output" | "nextAttemptAt" | "message">>,
  ): void {
    const step = stepIndex === null ? null : this.step(stepIndex);
    this.saga.sequence += 1;
    this.events.push({
      sequence: this.saga.sequence,
      type,
      at: this.env.now,
      sagaStatus: this.saga.status,
      step: step?.name ?? null,
      stepStatus: step?.status ?? null,
      attempt: step ? step.attempt : null,
      error: extra.error ?? null,
      errorKind: extra.errorKind ?? null,
      output: extra.output ?? null,
      nextAttemptAt: extra.nextAttemptAt ?? null,
      actor: this.env.actor,
      tokenName: this.env.tokenName ?? null,
      reason: this.reason,
      message: extra.message ?? "",
    });
  }
}
