import { DomainError } from "./errors.js";
import type { SagaStatus, StepStatus } from "./types.js";

/**
 * Every saga status change the engine may make. `decide` routes each change through
 * `assertSagaTransition`, so this table is the single source of truth the README documents.
 */
export const SAGA_TRANSITIONS: Readonly<Record<SagaStatus, readonly SagaStatus[]>> = {
  PENDING: ["RUNNING", "CANCELLING"],
  RUNNING: ["COMPLETED", "FAILED", "COMPENSATING", "CANCELLING"],
  FAILED: ["RUNNING", "COMPENSATING", "CANCELLING"],
  COMPENSATING: ["COMPENSATED", "COMPENSATION_FAILED", "CANCELLED"],
  COMPENSATION_FAILED: ["COMPENSATING"],
  CANCELLING: ["CANCELLED", "COMPENSATION_FAILED"],
  COMPLETED: [],
  COMPENSATED: [],
  CANCELLED: [],
};

/** Every step status change; SKIPPED and the reset of FAILED steps are operator-driven. */
export const STEP_TRANSITIONS: Readonly<Record<StepStatus, readonly StepStatus[]>> = {
  PENDING: ["RUNNING", "SKIPPED"],
  RUNNING: ["COMPLETED", "RETRY_SCHEDULED", "FAILED", "CANCELLED"],
  RETRY_SCHEDULED: ["RUNNING", "SKIPPED", "CANCELLED"],
  FAILED: ["PENDING", "RUNNING", "SKIPPED"],
  COMPLETED: ["COMPENSATING"],
  COMPENSATING: ["COMPENSATED", "COMPENSATION_FAILED"],
  COMPENSATION_FAILED: ["COMPENSATING"],
  SKIPPED: [],
  COMPENSATED: [],
  CANCELLED: [],
};

export function canTransitionSaga(from: SagaStatus, to: SagaStatus): boolean {
  return SAGA_TRANSITIONS[from].includes(to);
}

export function canTransitionStep(from: StepStatus, to: StepStatus): boolean {
  return STEP_TRANSITIONS[from].includes(to);
}

/** A refused transition here is a bug in the engine, never a user error. */
export function assertSagaTransition(from: SagaStatus, to: SagaStatus): void {
  if (!canTransitionSaga(from, to)) {
    throw new DomainError("FAILED_PRECONDITION", `illegal saga transition ${from} -> ${to}`, [], { state: from });
  }
}

export function assertStepTransition(step: string, from: StepStatus, to: StepStatus): void {
  if (!canTransitionStep(from, to)) {
    throw new DomainError("FAILED_PRECONDITION", `illegal transition of step ${step}: ${from} -> ${to}`, [], {
      state: from,
    });
  }
}

/** Operator operations and the saga statuses they apply in; anything else is FAILED_PRECONDITION. */
export const OPERATION_ALLOWED_IN = {
  RetrySaga: ["FAILED"],
  RollbackSaga: ["FAILED", "COMPENSATION_FAILED"],
  CancelSaga: ["PENDING", "RUNNING", "FAILED"],
  RetryStep: ["FAILED"],
  SkipStep: ["PENDING", "RUNNING", "FAILED"],
  DeleteSaga: ["COMPLETED", "COMPENSATED", "CANCELLED", "FAILED", "COMPENSATION_FAILED"],
} as const satisfies Record<string, readonly SagaStatus[]>;

export type Operation = keyof typeof OPERATION_ALLOWED_IN;

/** Step statuses each step-level operation accepts. */
export const STEP_OPERATION_ALLOWED_IN = {
  RetryStep: ["FAILED"],
  SkipStep: ["FAILED", "PENDING", "RETRY_SCHEDULED"],
} as const satisfies Record<string, readonly StepStatus[]>;

export function assertOperationAllowed(operation: Operation, status: SagaStatus): void {
  const allowed: readonly SagaStatus[] = OPERATION_ALLOWED_IN[operation];
  if (!allowed.includes(status)) {
    throw new DomainError(
      "FAILED_PRECONDITION",
      `${operation} does not apply: saga is ${status} (needs ${allowed.join(" or ")})`,
      [],
      { state: status, operation },
    );
  }
}
