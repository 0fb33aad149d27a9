import type { SagaEvent, SagaState } from "../domain/types.js";

/** How one attempt of an action or compensation ended, as seen by the replica that ran it. */
export type AttemptOutcome = "succeeded" | "failed" | "timed_out" | "cancelled" | "deferred";

/**
 * What the engine reports about its work, for metrics and anything else that must watch it
 * without being part of it. Calls happen after the fact (a commit is durable before `committed`
 * is called) and must not throw or block.
 */
export interface EngineObserver {
  /** This replica committed `events`, leaving the saga as `saga`. */
  committed(saga: SagaState, events: readonly SagaEvent[]): void;
  /** An attempt ran `action` for `durationMs` (from the call to its result); deferred attempts never called it. */
  attemptFinished(action: string, phase: "action" | "compensate", outcome: AttemptOutcome, durationMs: number): void;
}

/** For engines nobody watches (unit tests). */
export const NO_OBSERVER: EngineObserver = {
  committed() {},
  attemptFinished() {},
};
