import type { SagaEvent, SagaState } from "./types.js";
import type { ValidatedSaga } from "./validate-saga.js";

/**
 * A just-created saga and its first event (sequence 1, SAGA_CREATED). The caller decides the
 * `advance` input on it before inserting, so a saga is created and its first steps started in one
 * commit.
 */
export function newSaga(
  id: string,
  draft: ValidatedSaga,
  now: number,
  actor: string,
  tokenName: string | null = null,
): { state: SagaState; created: SagaEvent } {
  const state: SagaState = {
    id,
    name: draft.name,
    status: "PENDING",
    failurePolicy: draft.failurePolicy,
    vars: draft.vars,
    labels: draft.labels,
    definition: draft.definition,
    definitionRef: draft.definitionRef ?? null,
    requestId: draft.requestId,
    maxRetries: draft.maxRetries,
    retryCount: 0,
    error: null,
    currentStep: null,
    cancelRequested: false,
    sequence: 1,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
    steps: draft.steps.map((spec) => ({
      ...spec,
      status: "PENDING",
      attempt: 0,
      roundStart: 0,
      output: null,
      error: null,
      errorKind: null,
      startedAt: null,
      completedAt: null,
      nextAttemptAt: null,
    })),
  };
  const created: SagaEvent = {
    sequence: 1,
    type: "SAGA_CREATED",
    at: now,
    sagaStatus: "PENDING",
    step: null,
    stepStatus: null,
    attempt: null,
    error: null,
    errorKind: null,
    output: null,
    nextAttemptAt: null,
    actor,
    tokenName,
    reason: null,
    message: `saga ${draft.name} created with ${draft.steps.length} steps${draft.definitionRef ? ` from definition ${draft.definitionRef.name} version ${draft.definitionRef.version}` : ""}`,
  };
  return { state, created };
}
