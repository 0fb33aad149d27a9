/**
 * Builders and a checked driver for state-machine tests. `Run` feeds inputs to `decide` one at a
 * time and, on every decision, checks the invariants every transition must keep (input untouched,
 * gap-free sequences, events whose statuses replay to the new state, legal hops only), so each
 * scenario test only has to assert what is specific to it.
 */
import { expect } from "vitest";
import { DomainError, type DomainErrorReason } from "../../src/domain/errors.js";
import { newSaga } from "../../src/domain/new-saga.js";
import { decide, type DecideEnv, type Decision, type SagaInput } from "../../src/domain/state-machine.js";
import { canTransitionSaga, canTransitionStep } from "../../src/domain/transitions.js";
import {
  RESTING_SAGA_STATUSES,
  type CompensationSpec,
  type FailurePolicy,
  type JsonObject,
  type RetryPolicy,
  type SagaEvent,
  type SagaState,
  type SagaStatus,
  type StepSpec,
  type StepState,
  type StepStatus,
} from "../../src/domain/types.js";
import type { ValidatedSaga } from "../../src/domain/validate-saga.js";

export const T0 = 1_700_000_000_000;
export const ACTOR = "engine";

export function testEnv(now = T0, actor = ACTOR): DecideEnv {
  return { now, random: () => 0.5, actor };
}

/** FIXED 1 s backoff, 3 attempts, no jitter: nextAttemptAt is easy to predict. */
export function retryPolicy(o: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    maxAttempts: 3,
    backoff: "FIXED",
    initialIntervalMs: 1000,
    maxIntervalMs: 60_000,
    multiplier: 2,
    jitter: 0,
    timeoutMs: 0,
    nonRetryableErrors: [],
    ...o,
  };
}

export interface StepDef {
  name: string;
  dependsOn?: string[];
  /** true: a compensation with 2 attempts and a FIXED 500 ms backoff. */
  compensate?: boolean | Partial<CompensationSpec>;
  retry?: Partial<RetryPolicy>;
  config?: JsonObject;
}

export function stepSpec(def: StepDef): StepSpec {
  let compensate: CompensationSpec | null = null;
  if (def.compensate) {
    const base: CompensationSpec = {
      action: "undo",
      config: { undo: def.name },
      retryPolicy: retryPolicy({ maxAttempts: 2, initialIntervalMs: 500 }),
    };
    compensate = def.compensate === true ? base : { ...base, ...def.compensate };
  }
  return {
    name: def.name,
    action: "noop",
    config: def.config ?? { step: def.name },
    dependsOn: def.dependsOn ?? [],
    compensate,
    retryPolicy: retryPolicy(def.retry),
  };
}

export interface SagaOptions {
  failurePolicy?: FailurePolicy;
  maxRetries?: number;
}

export function draft(steps: StepDef[], o: SagaOptions = {}): ValidatedSaga {
  return {
    name: "checkout",
    steps: steps.map(stepSpec),
    vars: { region: "eu" },
    labels: { team: "payments" },
    failurePolicy: o.failurePolicy ?? "HOLD",
    maxRetries: o.maxRetries ?? 2,
    requestId: null,
    definition: "",
  };
}

/** A PENDING saga exactly as newSaga makes it (sequence 1). */
export function pendingSaga(steps: StepDef[], o: SagaOptions = {}): SagaState {
  return newSaga("saga-1", draft(steps, o), T0, ACTOR).state;
}

/** Freezes every object reachable from `value`, so an in-place write throws (ESM is strict). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * `decide` plus the invariants of every decision: the input is neither mutated nor mutable-dependent,
 * events carry consecutive sequences after the state's, each event's sagaStatus/stepStatus is the
 * state right after it (replaying them reproduces the new state, one legal hop at a time), resting
 * states carry completedAt = now and others none, and a decision without events changes nothing.
 */
export function decideChecked(state: SagaState, input: SagaInput, env: DecideEnv): Decision {
  const before = JSON.stringify(state);
  deepFreeze(state);
  const decision = decide(state, input, env);
  expect(JSON.stringify(state)).toBe(before);
  checkDecision(state, decision, env);
  return decision;
}

function checkDecision(state: SagaState, d: Decision, env: DecideEnv): void {
  const { events } = d;
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => state.sequence + 1 + i));
  expect(d.state.sequence).toBe(state.sequence + events.length);
  for (const e of events) {
    expect(e.at).toBe(env.now);
    expect(e.actor).toBe(env.actor);
  }
  if (events.length === 0) {
    expect(d.state).toEqual(state);
    expect(d.changedSteps).toEqual([]);
    return;
  }
  expect(d.state.updatedAt).toBe(env.now);

  // Replay: every event shows the status right after it, and only legal hops happen.
  let sagaStatus: SagaStatus = state.status;
  const stepStatus = new Map<string, StepStatus>(state.steps.map((s) => [s.name, s.status]));
  for (const e of events) {
    if (e.type === "SAGA_STATUS_CHANGED") {
      expect(canTransitionSaga(sagaStatus, e.sagaStatus), `${sagaStatus} -> ${e.sagaStatus}`).toBe(true);
      expect(e.step).toBeNull();
      sagaStatus = e.sagaStatus;
    } else {
      expect(e.sagaStatus, `${e.type} ${e.step ?? ""} sagaStatus`).toBe(sagaStatus);
    }
    if (e.step !== null) {
      const prev = stepStatus.get(e.step);
      expect(prev, `event names unknown step ${e.step}`).toBeDefined();
      expect(e.stepStatus).not.toBeNull();
      if (e.stepStatus !== prev) {
        expect(canTransitionStep(prev!, e.stepStatus!), `step ${e.step}: ${prev} -> ${e.stepStatus}`).toBe(true);
      }
      stepStatus.set(e.step, e.stepStatus!);
    }
  }
  expect(d.state.status).toBe(sagaStatus);
  for (const s of d.state.steps) expect(`${s.name}:${s.status}`).toBe(`${s.name}:${stepStatus.get(s.name)}`);

  // Every step row that changed is reported for writing.
  state.steps.forEach((s, i) => {
    if (JSON.stringify(s) !== JSON.stringify(d.state.steps[i])) expect(d.changedSteps).toContain(i);
  });
  expect([...d.changedSteps].sort((a, b) => a - b)).toEqual(d.changedSteps);

  if (RESTING_SAGA_STATUSES.has(d.state.status)) {
    const statusChanged = events.some((e) => e.type === "SAGA_STATUS_CHANGED");
    expect(d.state.completedAt).toBe(statusChanged ? env.now : state.completedAt);
  } else {
    expect(d.state.completedAt).toBeNull();
  }
}

/** Short, readable form of events for whole-sequence assertions: "TYPE step=STATUS@attempt saga". */
export function brief(events: readonly SagaEvent[]): string[] {
  return events.map((e) =>
    e.step === null ? `${e.type} ${e.sagaStatus}` : `${e.type} ${e.step}=${e.stepStatus}@${e.attempt} ${e.sagaStatus}`,
  );
}

/** A saga being driven through inputs; keeps the state and full history between decisions. */
export class Run {
  now = T0;
  last: Decision | undefined;
  readonly history: SagaEvent[] = [];

  constructor(public state: SagaState) {}

  static create(steps: StepDef[], o: SagaOptions = {}): Run {
    const run = new Run(pendingSaga(steps, o));
    run.apply({ type: "advance" });
    return run;
  }

  apply(input: SagaInput, actor = ACTOR): SagaEvent[] {
    const d = decideChecked(this.state, input, testEnv(this.now, actor));
    this.last = d;
    this.state = d.state;
    this.history.push(...d.events);
    return d.events;
  }

  /** Expects `input` to be refused with `reason`, leaving the state untouched; returns the error. */
  refuse(input: SagaInput, reason: DomainErrorReason): DomainError {
    const before = JSON.stringify(this.state);
    deepFreeze(this.state);
    let caught: unknown;
    try {
      decide(this.state, input, testEnv(this.now));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DomainError);
    const err = caught as DomainError;
    expect(err.reason).toBe(reason);
    expect(JSON.stringify(this.state)).toBe(before);
    return err;
  }

  step(name: string): StepState {
    const s = this.state.steps.find((x) => x.name === name);
    if (!s) throw new Error(`no step ${name}`);
    return s;
  }

  statuses(): Record<string, StepStatus> {
    return Object.fromEntries(this.state.steps.map((s) => [s.name, s.status]));
  }

  // Engine reports for the step's current attempt.
  succeed(name: string, output: JsonObject = { ok: name }): SagaEvent[] {
    return this.apply({ type: "stepSucceeded", step: name, attempt: this.step(name).attempt, output });
  }

  fail(name: string, o: { retryable?: boolean; errorKind?: string; error?: string } = {}): SagaEvent[] {
    return this.apply({
      type: "stepFailed",
      step: name,
      attempt: this.step(name).attempt,
      error: o.error ?? `${name} broke`,
      errorKind: o.errorKind ?? "UNAVAILABLE",
      retryable: o.retryable ?? true,
    });
  }

  /** Fails the step's current and every remaining attempt (retries due at once). */
  failForGood(name: string): void {
    for (;;) {
      this.fail(name);
      if (this.step(name).status !== "RETRY_SCHEDULED") break;
      this.apply({ type: "retryDue", step: name });
    }
    expect(this.step(name).status).toBe("FAILED");
  }

  compensated(name: string): SagaEvent[] {
    return this.apply({ type: "compensationSucceeded", step: name, attempt: this.step(name).attempt });
  }

  compensationFails(name: string, retryable = true): SagaEvent[] {
    return this.apply({
      type: "compensationFailed",
      step: name,
      attempt: this.step(name).attempt,
      error: `undo ${name} broke`,
      errorKind: "UNAVAILABLE",
      retryable,
    });
  }

  /** Fails the compensation's current and every remaining attempt. */
  compensationFailsForGood(name: string): void {
    for (;;) {
      this.compensationFails(name);
      if (this.step(name).status !== "COMPENSATING") break;
      this.apply({ type: "retryDue", step: name });
    }
    expect(this.step(name).status).toBe("COMPENSATION_FAILED");
  }
}

/** Names of steps started (STEP_STARTED) or compensations started, in event order. */
export function started(events: readonly SagaEvent[]): string[] {
  return events.filter((e) => e.type === "STEP_STARTED").map((e) => e.step!);
}

export function compensationsStarted(events: readonly SagaEvent[]): string[] {
  return events.filter((e) => e.type === "COMPENSATION_STARTED").map((e) => e.step!);
}

export function sagaStatusChanges(events: readonly SagaEvent[]): SagaStatus[] {
  return events.filter((e) => e.type === "SAGA_STATUS_CHANGED").map((e) => e.sagaStatus);
}
