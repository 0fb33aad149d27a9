import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventType, type SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import type { Tone } from "./status.js";

/** What an attempt was for: the step's action, or its compensation. */
export type AttemptPhase = "action" | "compensation";

/** One attempt of a step as the step drawer lists it, read from the history. */
export interface AttemptRow {
  readonly phase: AttemptPhase;
  /** The attempt number the events carry. */
  readonly attempt: number;
  readonly startMs: number;
  /** When it ended; absent while it runs. */
  readonly endMs?: number;
  /** "running", "completed", "failed", "failed, retry scheduled", "cancelled", "skipped". */
  readonly outcome: string;
  readonly tone: Tone;
  readonly error?: string;
  readonly errorKind?: string;
  /** For a failure that will be retried: when. */
  readonly nextAttemptMs?: number;
  /** A replica took this attempt over after another one stopped (same attempt, same key). */
  readonly recovered: boolean;
}

interface Ending {
  readonly outcome: string;
  readonly tone: Tone;
  readonly phase: AttemptPhase;
}

const ENDINGS: Partial<Record<EventType, Ending>> = {
  [EventType.STEP_COMPLETED]: { outcome: "completed", tone: "done", phase: "action" },
  [EventType.STEP_RETRY_SCHEDULED]: { outcome: "failed, retry scheduled", tone: "waiting", phase: "action" },
  [EventType.STEP_FAILED]: { outcome: "failed", tone: "failed", phase: "action" },
  [EventType.STEP_CANCELLED]: { outcome: "cancelled", tone: "stopped", phase: "action" },
  [EventType.STEP_SKIPPED]: { outcome: "skipped", tone: "skipped", phase: "action" },
  [EventType.COMPENSATION_COMPLETED]: { outcome: "compensated", tone: "undone", phase: "compensation" },
  [EventType.COMPENSATION_RETRY_SCHEDULED]: { outcome: "failed, retry scheduled", tone: "waiting", phase: "compensation" },
  [EventType.COMPENSATION_FAILED]: { outcome: "failed", tone: "failed", phase: "compensation" },
};

type Draft = { -readonly [K in keyof AttemptRow]: AttemptRow[K] };

/**
 * Every attempt of one step, oldest first: each STARTED event opens one, the next ending event of
 * the same phase closes it. A recovery (STEP_RECOVERED) continues the same attempt, as the engine
 * does; an ending with no open attempt (a skip of a failed step) adds nothing.
 */
export function stepAttempts(events: readonly SagaEvent[], step: string): AttemptRow[] {
  const rows: Draft[] = [];
  let open: Draft | undefined;
  for (const event of events) {
    if (event.step !== step) continue;
    const at = event.time ? timestampMs(event.time) : 0;
    if (event.type === EventType.STEP_STARTED || event.type === EventType.COMPENSATION_STARTED) {
      const phase: AttemptPhase = event.type === EventType.STEP_STARTED ? "action" : "compensation";
      open = { phase, attempt: event.attempt, startMs: at, outcome: "running", tone: phase === "action" ? "active" : "undoing", recovered: false };
      rows.push(open);
      continue;
    }
    if (event.type === EventType.STEP_RECOVERED) {
      if (open) open.recovered = true;
      continue;
    }
    const ending = ENDINGS[event.type];
    if (!ending || !open || open.phase !== ending.phase) continue;
    open.endMs = at;
    open.outcome = ending.outcome;
    open.tone = ending.tone;
    if (event.error) open.error = event.error;
    if (event.errorKind) open.errorKind = event.errorKind;
    if (event.nextAttemptTime) open.nextAttemptMs = timestampMs(event.nextAttemptTime);
    open = undefined;
  }
  return rows;
}

/**
 * The idempotency key the engine hands the action (README "Actions"; src/domain/attempt-phase.ts
 * `idempotencyKey`): the same for every attempt of a phase. The API does not return it, so the
 * console derives it the same way.
 */
export function idempotencyKeyOf(sagaId: string, step: string, phase: AttemptPhase): string {
  return phase === "action" ? `${sagaId}/${step}` : `${sagaId}/${step}/compensate`;
}
