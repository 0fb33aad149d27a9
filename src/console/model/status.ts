import { SagaStatus, StepStatus } from "../../gen/saga/v1/saga_pb.js";

/**
 * How a status looks everywhere in the console: one tone per meaning, so a glance at a list, a
 * DAG or a timeline reads the same. Compensation has tones of its own (it is undoing, not failing),
 * and a saga held FAILED waits for an operator, which is what red means here.
 */
export type Tone = "idle" | "active" | "waiting" | "done" | "failed" | "skipped" | "undoing" | "undone" | "stopped";

export interface StatusLook {
  /** The enum name without its prefix, as the CLI and API print it ("RETRY_SCHEDULED"). */
  readonly label: string;
  readonly tone: Tone;
  /** Whether something is happening right now (drawn with a running indicator). */
  readonly live: boolean;
}

const SAGA: Record<SagaStatus, StatusLook> = {
  [SagaStatus.UNSPECIFIED]: { label: "UNSPECIFIED", tone: "idle", live: false },
  [SagaStatus.PENDING]: { label: "PENDING", tone: "idle", live: false },
  [SagaStatus.RUNNING]: { label: "RUNNING", tone: "active", live: true },
  [SagaStatus.COMPLETED]: { label: "COMPLETED", tone: "done", live: false },
  [SagaStatus.FAILED]: { label: "FAILED", tone: "failed", live: false },
  [SagaStatus.COMPENSATING]: { label: "COMPENSATING", tone: "undoing", live: true },
  [SagaStatus.COMPENSATED]: { label: "COMPENSATED", tone: "undone", live: false },
  [SagaStatus.COMPENSATION_FAILED]: { label: "COMPENSATION_FAILED", tone: "failed", live: false },
  [SagaStatus.CANCELLING]: { label: "CANCELLING", tone: "undoing", live: true },
  [SagaStatus.CANCELLED]: { label: "CANCELLED", tone: "stopped", live: false },
};

const STEP: Record<StepStatus, StatusLook> = {
  [StepStatus.UNSPECIFIED]: { label: "UNSPECIFIED", tone: "idle", live: false },
  [StepStatus.PENDING]: { label: "PENDING", tone: "idle", live: false },
  [StepStatus.RUNNING]: { label: "RUNNING", tone: "active", live: true },
  [StepStatus.RETRY_SCHEDULED]: { label: "RETRY_SCHEDULED", tone: "waiting", live: true },
  [StepStatus.COMPLETED]: { label: "COMPLETED", tone: "done", live: false },
  [StepStatus.FAILED]: { label: "FAILED", tone: "failed", live: false },
  [StepStatus.SKIPPED]: { label: "SKIPPED", tone: "skipped", live: false },
  [StepStatus.COMPENSATING]: { label: "COMPENSATING", tone: "undoing", live: true },
  [StepStatus.COMPENSATED]: { label: "COMPENSATED", tone: "undone", live: false },
  [StepStatus.COMPENSATION_FAILED]: { label: "COMPENSATION_FAILED", tone: "failed", live: false },
  [StepStatus.CANCELLED]: { label: "CANCELLED", tone: "stopped", live: false },
};

export function sagaStatusLook(status: SagaStatus): StatusLook {
  return SAGA[status] ?? SAGA[SagaStatus.UNSPECIFIED];
}

export function stepStatusLook(status: StepStatus): StatusLook {
  return STEP[status] ?? STEP[StepStatus.UNSPECIFIED];
}

/** A saga in one of these statuses changes only when an operator acts (or never). */
export function sagaIsResting(status: SagaStatus): boolean {
  return !sagaStatusLook(status).live && status !== SagaStatus.PENDING;
}
