import { EventType, SagaStatus, StepStatus, type Saga, type SagaEvent, type Step } from "../../gen/saga/v1/saga_pb.js";

/**
 * A saga as the page shows it: the last GetSaga snapshot with every later event applied on top,
 * and the whole history in order. Events move the DAG at once; the snapshot, re-fetched now and
 * then, brings what events do not carry (attempt budgets, task state, the saga's error…).
 */
export interface LiveState {
  /** The latest snapshot from GetSaga, as received. */
  readonly snapshot: Saga | undefined;
  /** Every event seen, by ascending sequence, each once. */
  readonly events: readonly SagaEvent[];
  /** The highest sequence applied; the stream resumes after it. 0 before any. */
  readonly lastSequence: bigint;
  /** `snapshot` with the events after its sequence applied: what the page draws. */
  readonly saga: Saga | undefined;
}

export const EMPTY_LIVE: LiveState = { snapshot: undefined, events: [], lastSequence: 0n, saga: undefined };

/** What applying a batch of events did. */
export interface EventsApplied {
  readonly state: LiveState;
  /**
   * Set when the batch skipped sequences: events after the gap were not applied, and the watch
   * must resume after `state.lastSequence` to fetch what is missing.
   */
  readonly gap?: { readonly expected: bigint; readonly got: bigint };
}

/**
 * Adds events from WatchSaga. The server sends them gap-free and in order; this still sorts the
 * batch, ignores what it has seen (a resumed stream may repeat the last event), and refuses to
 * apply past a gap, so a lost message can never leave the page silently wrong.
 */
export function applyEvents(state: LiveState, incoming: readonly SagaEvent[]): EventsApplied {
  const sorted = [...incoming].sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  const fresh: SagaEvent[] = [];
  let last = state.lastSequence;
  let gap: EventsApplied["gap"];
  for (const event of sorted) {
    if (event.sequence <= last) continue;
    if (event.sequence !== last + 1n) {
      gap = { expected: last + 1n, got: event.sequence };
      break;
    }
    fresh.push(event);
    last = event.sequence;
  }
  if (fresh.length === 0) return gap ? { state, gap } : { state };
  // A snapshot taken after some of these events already includes them: replaying those would
  // roll the saga back (GetSaga can answer before WatchSaga's history from sequence 0 arrives).
  const saga = state.saga ? applyToSaga(state.saga, eventsAfter(fresh, state.saga.sequence)) : undefined;
  const next: LiveState = { ...state, events: [...state.events, ...fresh], lastSequence: last, saga };
  return gap ? { state: next, gap } : { state: next };
}

/**
 * Takes a fresh GetSaga snapshot. Events newer than it (already received while the call was in
 * flight) are applied on top; events it already includes are not applied twice.
 */
export function applySnapshot(state: LiveState, snapshot: Saga): LiveState {
  // A late answer to an earlier call must not replace a newer snapshot.
  if (state.snapshot && snapshot.sequence < state.snapshot.sequence) return state;
  const newer = eventsAfter(state.events, snapshot.sequence);
  if (state.saga && snapshot.sequence < state.saga.sequence) {
    // Older than what the page shows: usable only if the history brings it all the way up again,
    // from the event right after it; otherwise the shown saga would step back.
    const bridged = newer.length > 0 && newer[0]!.sequence === snapshot.sequence + 1n && newer[newer.length - 1]!.sequence >= state.saga.sequence;
    if (!bridged) return state;
  }
  return { ...state, snapshot, saga: applyToSaga(snapshot, newer) };
}

/** The events with a sequence above `sequence`: a suffix of the ordered history. */
export function eventsAfter(events: readonly SagaEvent[], sequence: bigint): readonly SagaEvent[] {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.sequence <= sequence) lo = mid + 1;
    else hi = mid;
  }
  return events.slice(lo);
}

/** A step's status after an event of this type, for events that do not say (older servers). */
const STEP_STATUS_AFTER: Partial<Record<EventType, StepStatus>> = {
  [EventType.STEP_STARTED]: StepStatus.RUNNING,
  [EventType.STEP_RECOVERED]: StepStatus.RUNNING,
  [EventType.STEP_COMPLETED]: StepStatus.COMPLETED,
  [EventType.STEP_RETRY_SCHEDULED]: StepStatus.RETRY_SCHEDULED,
  [EventType.STEP_FAILED]: StepStatus.FAILED,
  [EventType.STEP_SKIPPED]: StepStatus.SKIPPED,
  [EventType.STEP_RESET]: StepStatus.PENDING,
  [EventType.STEP_CANCELLED]: StepStatus.CANCELLED,
  [EventType.COMPENSATION_STARTED]: StepStatus.COMPENSATING,
  [EventType.COMPENSATION_RETRY_SCHEDULED]: StepStatus.COMPENSATING,
  [EventType.COMPENSATION_COMPLETED]: StepStatus.COMPENSATED,
  [EventType.COMPENSATION_FAILED]: StepStatus.COMPENSATION_FAILED,
};

const FAILURES = new Set([
  EventType.STEP_RETRY_SCHEDULED,
  EventType.STEP_FAILED,
  EventType.COMPENSATION_RETRY_SCHEDULED,
  EventType.COMPENSATION_FAILED,
  EventType.STEP_DEFERRED,
]);

/**
 * The saga after `events`, using only what the events carry: statuses, attempt numbers, errors,
 * outputs and retry times. Steps no event touches keep their object, so views can skip them.
 */
export function applyToSaga(saga: Saga, events: readonly SagaEvent[]): Saga {
  if (events.length === 0) return saga;
  const index = new Map(saga.steps.map((s, i) => [s.name, i]));
  const steps = [...saga.steps];
  const copied = new Set<number>();
  let status = saga.status;
  let currentStep = saga.currentStep;
  const latest = events[events.length - 1]!;
  for (const event of events) {
    if (event.sagaStatus !== SagaStatus.UNSPECIFIED) status = event.sagaStatus;
    const i = event.step ? index.get(event.step) : undefined;
    if (i === undefined) continue;
    currentStep = event.step;
    if (!copied.has(i)) {
      steps[i] = { ...steps[i]! };
      copied.add(i);
    }
    applyToStep(steps[i] as Mutable<Step>, event);
  }
  return { ...saga, status, currentStep, steps, sequence: latest.sequence, ...(latest.time ? { updateTime: latest.time } : {}) };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function applyToStep(step: Mutable<Step>, event: SagaEvent): void {
  const after = event.stepStatus !== StepStatus.UNSPECIFIED ? event.stepStatus : STEP_STATUS_AFTER[event.type];
  if (after !== undefined) step.status = after;
  switch (event.type) {
    case EventType.STEP_STARTED:
    case EventType.STEP_RECOVERED:
    case EventType.COMPENSATION_STARTED:
      if (event.attempt > 0) step.retryCount = event.attempt;
      step.nextAttemptTime = undefined;
      if (event.type === EventType.STEP_STARTED && !step.startTime) step.startTime = event.time;
      break;
    case EventType.STEP_COMPLETED:
    case EventType.STEP_SKIPPED:
      if (event.output) step.output = event.output;
      step.error = "";
      step.errorKind = "";
      step.completeTime = event.time;
      step.nextAttemptTime = undefined;
      break;
    case EventType.STEP_RESET:
      step.error = "";
      step.errorKind = "";
      step.nextAttemptTime = undefined;
      // A reset starts a new round but does not renumber attempts: retry_count stays the overall
      // count, which the event carries (the new round's start; see stepRounds).
      if (event.attempt > 0) step.retryCount = event.attempt;
      break;
    case EventType.COMPENSATION_COMPLETED:
      step.nextAttemptTime = undefined;
      break;
    default:
      break;
  }
  if (FAILURES.has(event.type)) {
    if (event.error) step.error = event.error;
    if (event.errorKind) step.errorKind = event.errorKind;
    step.nextAttemptTime = event.nextAttemptTime;
    if (event.type === EventType.STEP_FAILED) step.completeTime = event.time;
  }
}

/**
 * The order in which steps began compensating (1 = first), which the DAG shows on undo nodes so
 * the reverse order can be read as it happens. A step compensated again later keeps its first place.
 */
export function compensationOrder(events: readonly SagaEvent[]): Map<string, number> {
  const order = new Map<string, number>();
  for (const event of events) {
    if (event.type === EventType.COMPENSATION_STARTED && event.step && !order.has(event.step)) {
      order.set(event.step, order.size + 1);
    }
  }
  return order;
}

/** Where a step's current round of attempts started, from the last event that started one. */
export interface StepRound {
  /** Whether the round counts compensation attempts. */
  readonly compensation: boolean;
  /** The (overall) attempt number the round started after: attempt n of the round is start + n. */
  readonly start: number;
}

/**
 * Each step's current round, as the History reads it (event-lines.ts): attempt numbers keep
 * growing across RetrySaga, RetryStep and rollbacks while the retry policy's budget is per round.
 * A STEP_RESET starts a round after the attempt it carries; the first COMPENSATION_STARTED starts
 * the compensation's count from 0. Steps with no such event are absent (their round starts at 0).
 */
export function stepRounds(events: readonly SagaEvent[]): Map<string, StepRound> {
  const rounds = new Map<string, StepRound>();
  for (const event of events) {
    if (!event.step) continue;
    if (event.type === EventType.STEP_RESET) {
      rounds.set(event.step, { compensation: event.stepStatus === StepStatus.COMPENSATING, start: event.attempt });
    } else if (event.type === EventType.COMPENSATION_STARTED && !rounds.get(event.step)?.compensation) {
      rounds.set(event.step, { compensation: true, start: 0 });
    }
  }
  return rounds;
}
