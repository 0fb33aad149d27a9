import { actionOf, attemptInFlight, type AttemptPhase } from "./attempt-phase.js";
import type { SagaState, StepState } from "./types.js";

/** Names one task: the attempt of one phase of one step. */
export interface TaskKey {
  stepIdx: number;
  phase: AttemptPhase;
  attempt: number;
}

/** How a task ended, as recorded on its row. */
export type TaskResult = "succeeded" | "failed" | "cancelled" | "timed_out" | "superseded";

/** A task the transition starts: a worker action's attempt that went in flight. */
export interface TaskOpen extends TaskKey {
  step: string;
  action: string;
  timeoutMs: number;
  heartbeatMs: number;
  scheduleMs: number;
  /**
   * Set by the dispatcher before the commit when a worker on this replica has a free slot: the
   * task is then written already offered to it (delivery 1), so no second statement stands
   * between the step becoming ready and the worker having it.
   */
  offer?: TaskOffer;
}

export interface TaskOffer {
  sessionId: string;
  worker: string;
  ackDeadline: number;
}

export interface TaskClose extends TaskKey {
  result: TaskResult;
  /** What was reported (see the result path), so a repeated report is told apart from another. */
  digest: string | null;
}

/** The result a transition records, when it records one of a task. */
export interface RecordedResult {
  key: TaskKey;
  result: TaskResult;
  digest: string | null;
}

/** The task rows a transition writes, in the same statement as the saga's. */
export interface TaskWrites {
  open: TaskOpen[];
  close: TaskClose[];
  /** Set when the saga starts cancelling: every open task of the saga is asked to stop. */
  cancel: string | null;
}

export const NO_TASK_WRITES: TaskWrites = Object.freeze({ open: [], close: [], cancel: null }) as TaskWrites;

function inFlightKey(step: StepState, stepIdx: number): (TaskKey & { action: string }) | null {
  const phase = attemptInFlight(step);
  return phase ? { stepIdx, phase, attempt: step.attempt, action: actionOf(step, phase) } : null;
}

const sameKey = (a: TaskKey, b: TaskKey) => a.stepIdx === b.stepIdx && a.phase === b.phase && a.attempt === b.attempt;

/**
 * What a decided transition does to task rows: a worker action's attempt that goes in flight opens
 * a task; one that leaves flight closes its task, with the recorded result when the transition is
 * that result, else as superseded (an operator, a timeout or a cancel moved the step on). Only the
 * steps the transition changed are looked at, so the in-process path pays nothing here.
 */
export function taskWrites(
  before: SagaState,
  after: SagaState,
  changedSteps: readonly number[],
  isWorkerAction: (action: string) => boolean,
  recorded: RecordedResult | null = null,
): TaskWrites {
  let writes: TaskWrites | null = null;
  const mutable = (): TaskWrites => (writes ??= { open: [], close: [], cancel: null });
  for (const idx of changedSteps) {
    const was = inFlightKey(before.steps[idx]!, idx);
    const now = inFlightKey(after.steps[idx]!, idx);
    if (was && now && sameKey(was, now)) continue;
    if (was && isWorkerAction(was.action)) {
      const own = recorded && sameKey(recorded.key, was) ? recorded : null;
      mutable().close.push({ ...stripAction(was), result: own?.result ?? "superseded", digest: own?.digest ?? null });
    }
    if (now && isWorkerAction(now.action)) {
      const step = after.steps[idx]!;
      const policy = now.phase === "action" ? step.retryPolicy : step.compensate!.retryPolicy;
      mutable().open.push({
        ...now,
        step: step.name,
        timeoutMs: policy.timeoutMs,
        heartbeatMs: policy.heartbeatTimeoutMs ?? 0,
        scheduleMs: policy.scheduleToStartMs ?? 0,
      });
    }
  }
  if (after.status === "CANCELLING" && before.status !== "CANCELLING") mutable().cancel = after.error ?? "saga cancelled";
  return writes ?? NO_TASK_WRITES;
}

function stripAction(key: TaskKey & { action: string }): TaskKey {
  return { stepIdx: key.stepIdx, phase: key.phase, attempt: key.attempt };
}
