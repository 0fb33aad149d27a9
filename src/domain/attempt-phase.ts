import type { StepState } from "./types.js";

/** Which of a step's actions an attempt runs. */
export type AttemptPhase = "action" | "compensate";

/**
 * The named sub-states of COMPENSATING. A compensating step either has an attempt of its
 * compensation in flight, or waits for its next one (a retry, or a breaker's probe time): the two
 * are told apart by whether a next attempt time is set, and every rule asks through these names.
 */
export function compensationRunning(step: StepState): boolean {
  return step.status === "COMPENSATING" && step.nextAttemptAt === null;
}

/** COMPENSATING and waiting for the next attempt of its compensation. */
export function compensationRetryScheduled(step: StepState): boolean {
  return step.status === "COMPENSATING" && step.nextAttemptAt !== null;
}

/** The phase whose attempt is in flight: the action while RUNNING, the compensation while it runs. */
export function attemptInFlight(step: StepState): AttemptPhase | null {
  if (step.status === "RUNNING") return "action";
  return compensationRunning(step) ? "compensate" : null;
}

/** The action an attempt of `phase` runs. */
export function actionOf(step: StepState, phase: AttemptPhase): string {
  return phase === "action" ? step.action : step.compensate!.action;
}

/**
 * The key other systems de-duplicate a step's side effect on: the same for every attempt of the
 * action (or of the compensation), on every replica and every worker.
 */
export function idempotencyKey(sagaId: string, step: string, phase: AttemptPhase): string {
  return phase === "action" ? `${sagaId}/${step}` : `${sagaId}/${step}/compensate`;
}
