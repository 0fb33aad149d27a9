import { attemptInFlight, type AttemptPhase } from "../domain/attempt-phase.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { sagaOutputs } from "../domain/outputs.js";
import type { CircuitSnapshot } from "../engine/circuit-breakers.js";
import type { RetryPolicy as DomainRetryPolicy, SagaEvent as DomainEvent, SagaState, StepState } from "../domain/types.js";
import type { RawCreateSaga, RawRetryPolicy, RawStepSpec } from "../domain/validate-saga.js";
import {
  Backoff,
  CircuitSchema,
  CircuitState,
  CompensationSchema,
  EventType,
  FailurePolicy,
  RetryPolicySchema,
  SagaEventSchema,
  SagaSchema,
  SagaStatus,
  StepSchema,
  StepStatus,
  TaskState,
  type Circuit,
  type CreateSagaRequest,
  type RetryPolicy,
  type Saga,
  type SagaEvent,
  type StepSpec,
} from "../gen/saga/v1/saga_pb.js";

/**
 * The one place protobuf messages become domain values and back. Enums travel into the domain as
 * their names (protoc-gen-es drops the prefix: BACKOFF_FIXED is Backoff.FIXED); UNSPECIFIED is "",
 * and an unknown number becomes its decimal string, which validation rejects with the field's path.
 */
function enumName(names: Record<number, string | undefined>, value: number): string {
  if (value === 0) return "";
  return names[value] ?? String(value);
}

const backoffName = (value: Backoff) => enumName(Backoff, value);
export const failurePolicyName = (value: FailurePolicy) => enumName(FailurePolicy, value);

/**
 * Duration → milliseconds (may be negative or fractional: validation judges it). NaN for a message
 * that is not a Duration at all (nanos beyond ±999,999,999, or of the other sign than seconds; see
 * google/protobuf/duration.proto), so validation names the field instead of accepting a made-up sum.
 */
export function durationMs(d: Duration | undefined): number | null {
  if (!d) return null;
  const signsAgree = d.seconds === 0n || d.nanos === 0 || d.seconds > 0n === d.nanos > 0;
  if (Math.abs(d.nanos) > 999_999_999 || !signsAgree) return Number.NaN;
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

function durationFromMs(ms: number): Duration {
  return { $typeName: "google.protobuf.Duration", seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

function rawRetryPolicy(p: RetryPolicy | undefined): RawRetryPolicy | null {
  if (!p) return null;
  return {
    maxAttempts: p.maxAttempts,
    backoff: backoffName(p.backoff),
    initialIntervalMs: durationMs(p.initialInterval),
    maxIntervalMs: durationMs(p.maxInterval),
    multiplier: p.multiplier,
    jitter: p.jitter,
    timeoutMs: durationMs(p.timeout),
    nonRetryableErrors: [...p.nonRetryableErrors],
    scheduleToStartMs: durationMs(p.scheduleToStartTimeout),
    heartbeatTimeoutMs: durationMs(p.heartbeatTimeout),
  };
}

export function rawStep(s: StepSpec): RawStepSpec {
  return {
    name: s.name,
    action: s.action,
    config: s.config ?? null,
    dependsOn: [...s.dependsOn],
    compensate: s.compensate
      ? { action: s.compensate.action, config: s.compensate.config ?? null, retryPolicy: rawRetryPolicy(s.compensate.retryPolicy) }
      : null,
    retryPolicy: rawRetryPolicy(s.retryPolicy),
  };
}

export function rawCreateSaga(req: CreateSagaRequest): RawCreateSaga {
  return {
    name: req.name,
    steps: req.steps.map(rawStep),
    vars: { ...req.vars },
    labels: { ...req.labels },
    failurePolicy: failurePolicyName(req.failurePolicy),
    maxRetries: req.maxRetries,
    requestId: req.requestId,
    definition: req.definition,
    definitionRef: req.definitionRef ? { name: req.definitionRef.name, version: req.definitionRef.version } : null,
  };
}

/** Domain status name → proto enum; the generated enums use the same names with a prefix. */
export function sagaStatusToProto(status: SagaState["status"]): SagaStatus {
  return SagaStatus[status];
}

/** Proto enum → domain name, or null for UNSPECIFIED; an unknown number returns undefined. */
export function sagaStatusFromProto(value: SagaStatus): SagaState["status"] | null | undefined {
  if (value === SagaStatus.UNSPECIFIED) return null;
  return SagaStatus[value] as SagaState["status"] | undefined;
}

export function retryPolicyToProto(p: DomainRetryPolicy): RetryPolicy {
  return create(RetryPolicySchema, {
    maxAttempts: p.maxAttempts,
    backoff: Backoff[p.backoff],
    initialInterval: durationFromMs(p.initialIntervalMs),
    maxInterval: durationFromMs(p.maxIntervalMs),
    multiplier: p.multiplier,
    jitter: p.jitter,
    timeout: durationFromMs(p.timeoutMs),
    nonRetryableErrors: p.nonRetryableErrors,
    scheduleToStartTimeout: p.scheduleToStartMs ? durationFromMs(p.scheduleToStartMs) : undefined,
    heartbeatTimeout: p.heartbeatTimeoutMs ? durationFromMs(p.heartbeatTimeoutMs) : undefined,
  });
}

const ts = (ms: number | null) => (ms === null ? undefined : timestampFromMs(ms));

/** Where a worker step's attempt in flight is (GetSaga's sub-state), by step index. */
export interface StepTask {
  phase: AttemptPhase;
  attempt: number;
  state: "queued" | "offered" | "running";
  worker: string | null;
  requeues: number;
}

const TASK_STATES = { queued: TaskState.QUEUED, offered: TaskState.OFFERED, running: TaskState.RUNNING } as const;

function stepToProto(step: StepState, task: StepTask | undefined) {
  // Only the task of the attempt the state has in flight: the two were read one after the other.
  const current = task && attemptInFlight(step) === task.phase && step.attempt === task.attempt ? task : undefined;
  return create(StepSchema, {
    name: step.name,
    status: StepStatus[step.status],
    action: step.action,
    dependsOn: step.dependsOn,
    compensate: step.compensate
      ? create(CompensationSchema, {
          action: step.compensate.action,
          config: step.compensate.config,
          retryPolicy: retryPolicyToProto(step.compensate.retryPolicy),
        })
      : undefined,
    config: step.config,
    retryPolicy: retryPolicyToProto(step.retryPolicy),
    retryCount: step.attempt,
    output: step.output ?? undefined,
    error: step.error ?? "",
    errorKind: step.errorKind ?? "",
    startTime: ts(step.startedAt),
    completeTime: ts(step.completedAt),
    nextAttemptTime: ts(step.nextAttemptAt),
    taskState: current ? TASK_STATES[current.state] : TaskState.UNSPECIFIED,
    worker: current?.worker ?? "",
    taskRequeues: current?.requeues ?? 0,
  });
}

/**
 * A saga for the wire; `withSteps: false` (ListSagas) leaves steps and outputs out. `tasks` adds
 * the sub-state of worker steps in flight (GetSaga).
 */
export function sagaToProto(saga: SagaState, withSteps = true, tasks: ReadonlyMap<number, StepTask> = new Map()): Saga {
  return create(SagaSchema, {
    id: saga.id,
    name: saga.name,
    status: sagaStatusToProto(saga.status),
    currentStep: saga.currentStep ?? "",
    retryCount: saga.retryCount,
    maxRetries: saga.maxRetries,
    error: saga.error ?? "",
    steps: withSteps ? saga.steps.map((step, i) => stepToProto(step, tasks.get(i))) : [],
    outputs: withSteps ? sagaOutputs(saga) : {},
    vars: saga.vars,
    definition: saga.definition,
    labels: saga.labels,
    failurePolicy: FailurePolicy[saga.failurePolicy],
    sequence: BigInt(saga.sequence),
    createTime: ts(saga.createdAt),
    updateTime: ts(saga.updatedAt),
    completeTime: ts(saga.completedAt),
    requestId: saga.requestId ?? "",
    definitionName: saga.definitionRef?.name ?? "",
    definitionVersion: saga.definitionRef?.version ?? 0,
  });
}

export function eventToProto(event: DomainEvent): SagaEvent {
  return create(SagaEventSchema, {
    sequence: BigInt(event.sequence),
    type: EventType[event.type],
    time: timestampFromMs(event.at),
    sagaStatus: sagaStatusToProto(event.sagaStatus),
    step: event.step ?? "",
    stepStatus: event.stepStatus ? StepStatus[event.stepStatus] : StepStatus.UNSPECIFIED,
    attempt: event.attempt ?? 0,
    error: event.error ?? "",
    errorKind: event.errorKind ?? "",
    output: event.output ?? undefined,
    nextAttemptTime: ts(event.nextAttemptAt),
    actor: event.actor,
    tokenName: event.tokenName ?? "",
    reason: event.reason ?? "",
    message: event.message,
  });
}

/** A breaker of this replica for ListCircuits; the state names match the enum without its prefix. */
export function circuitToProto(c: CircuitSnapshot): Circuit {
  return create(CircuitSchema, {
    key: c.key,
    action: c.action,
    state: CircuitState[c.state],
    consecutiveFailures: c.consecutiveFailures,
    totalFailures: BigInt(c.totalFailures),
    totalSuccesses: BigInt(c.totalSuccesses),
    totalRejected: BigInt(c.totalRejected),
    waitingSteps: c.waitingSteps,
    openedTime: ts(c.openedAt),
    nextProbeTime: ts(c.nextProbeAt),
    lastError: c.lastError ?? "",
  });
}
