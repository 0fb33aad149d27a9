/**
 * The saga model shared by every layer. Plain data only: the store persists it as rows, the API
 * converts it to and from protobuf, the engine drives it through `decide` (state-machine.ts).
 * Times are epoch milliseconds so the model stays serialisable and clock-injectable.
 */

/** JSON as it is stored in configs, outputs and vars. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const SAGA_STATUSES = [
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "COMPENSATING",
  "COMPENSATED",
  "COMPENSATION_FAILED",
  "CANCELLING",
  "CANCELLED",
] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

/** Statuses in which no work happens until an operator acts (or ever, for terminal ones). */
export const RESTING_SAGA_STATUSES: ReadonlySet<SagaStatus> = new Set([
  "COMPLETED",
  "FAILED",
  "COMPENSATED",
  "COMPENSATION_FAILED",
  "CANCELLED",
]);

/** Statuses a replica must drive (and hold a lease for). */
export const ACTIVE_SAGA_STATUSES: readonly SagaStatus[] = ["PENDING", "RUNNING", "COMPENSATING", "CANCELLING"];

export const STEP_STATUSES = [
  "PENDING",
  "RUNNING",
  "RETRY_SCHEDULED",
  "COMPLETED",
  "FAILED",
  "SKIPPED",
  "COMPENSATING",
  "COMPENSATED",
  "COMPENSATION_FAILED",
  "CANCELLED",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export type FailurePolicy = "HOLD" | "COMPENSATE";
export type BackoffKind = "FIXED" | "LINEAR" | "EXPONENTIAL";

/** Retry policy with every default filled in; durations in milliseconds (0 timeout = none). */
export interface RetryPolicy {
  maxAttempts: number;
  backoff: BackoffKind;
  initialIntervalMs: number;
  maxIntervalMs: number;
  multiplier: number;
  jitter: number;
  timeoutMs: number;
  nonRetryableErrors: string[];
  /** Worker actions: how long an attempt may wait for a worker to acknowledge it; absent or 0: no limit. */
  scheduleToStartMs?: number;
  /** Worker actions: longest gap between heartbeats listing a running task; absent or 0: none. */
  heartbeatTimeoutMs?: number;
}

export interface CompensationSpec {
  action: string;
  config: JsonObject;
  retryPolicy: RetryPolicy;
}

/** A step as defined by the caller, defaults applied. */
export interface StepSpec {
  name: string;
  action: string;
  config: JsonObject;
  dependsOn: string[];
  compensate: CompensationSpec | null;
  retryPolicy: RetryPolicy;
}

/**
 * A step's definition plus its run state. `attempt` numbers the attempts of the current phase
 * (action, then compensation) and never restarts within it: an operator retry starts a new round
 * with a fresh budget at `roundStart`, so a target can tell a new attempt from a replay.
 */
export interface StepState extends StepSpec {
  status: StepStatus;
  attempt: number;
  /** Attempts made before the current round; `attempt - roundStart` is what the budget counts. */
  roundStart: number;
  output: JsonObject | null;
  error: string | null;
  errorKind: string | null;
  startedAt: number | null;
  completedAt: number | null;
  nextAttemptAt: number | null;
}

export interface SagaState {
  id: string;
  name: string;
  status: SagaStatus;
  failurePolicy: FailurePolicy;
  vars: Record<string, string>;
  labels: Record<string, string>;
  definition: string;
  /** The registered definition version it was started from; null for an inline create. */
  definitionRef: DefinitionRef | null;
  requestId: string | null;
  maxRetries: number;
  retryCount: number;
  error: string | null;
  currentStep: string | null;
  /** Set by CancelSaga: compensation ends in CANCELLED instead of COMPENSATED. */
  cancelRequested: boolean;
  /** The sequence of the last event; also the optimistic-concurrency version of the saga. */
  sequence: number;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  steps: StepState[];
}

export const EVENT_TYPES = [
  "SAGA_CREATED",
  "SAGA_STATUS_CHANGED",
  "STEP_STARTED",
  "STEP_COMPLETED",
  "STEP_RETRY_SCHEDULED",
  "STEP_FAILED",
  "STEP_SKIPPED",
  "STEP_RESET",
  "COMPENSATION_STARTED",
  "COMPENSATION_COMPLETED",
  "COMPENSATION_RETRY_SCHEDULED",
  "COMPENSATION_FAILED",
  "STEP_CANCELLED",
  "STEP_RECOVERED",
  "STEP_DEFERRED",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The error kind of a step whose attempt was deferred (not made) because its circuit breaker is
 * open; such a step is RETRY_SCHEDULED, or COMPENSATING with a next attempt time.
 */
export const CIRCUIT_OPEN = "CIRCUIT_OPEN";

/** One entry of a saga's history; `sequence` is per saga and gap-free. */
export interface SagaEvent {
  sequence: number;
  type: EventType;
  at: number;
  sagaStatus: SagaStatus;
  step: string | null;
  stepStatus: StepStatus | null;
  attempt: number | null;
  error: string | null;
  errorKind: string | null;
  output: JsonObject | null;
  nextAttemptAt: number | null;
  actor: string;
  /** The API token (its name, never its secret) whose request caused the event; null for the engine. */
  tokenName: string | null;
  /** The operator's reason for the operation that caused the event; null for the engine's own. */
  reason: string | null;
  message: string;
}

/** A definition version a saga was started from. Versions are immutable, so this pins its plan. */
export interface DefinitionRef {
  name: string;
  version: number;
}
