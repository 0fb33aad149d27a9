import { describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type Saga } from "../../src/gen/saga/v1/saga_pb.js";
import { dagStepsFromSaga, roundAttempt, roundAttemptText } from "../../src/console/model/dag-model.js";
import { applyEvents, applySnapshot, EMPTY_LIVE, stepRounds, type LiveState } from "../../src/console/model/saga-live.js";
import { history, sagaOf } from "./saga-fixtures.js";

/** A checkout: reserve done, charge fails once, runs again, fails for good; the saga fails. */
const events = history([
  { type: EventType.SAGA_CREATED, at: 0, sagaStatus: SagaStatus.PENDING },
  { type: EventType.SAGA_STATUS_CHANGED, at: 1, sagaStatus: SagaStatus.RUNNING },
  { type: EventType.STEP_STARTED, at: 2, step: "reserve", stepStatus: StepStatus.RUNNING, attempt: 1 },
  { type: EventType.STEP_COMPLETED, at: 50, step: "reserve", stepStatus: StepStatus.COMPLETED, output: { id: "r-1" } },
  { type: EventType.STEP_STARTED, at: 60, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 1 },
  { type: EventType.STEP_RETRY_SCHEDULED, at: 90, step: "charge", stepStatus: StepStatus.RETRY_SCHEDULED, attempt: 1, error: "503 from bank", errorKind: "HTTP_5XX", nextAt: 1090 },
  { type: EventType.STEP_STARTED, at: 1090, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 2 },
  { type: EventType.STEP_FAILED, at: 1200, step: "charge", stepStatus: StepStatus.FAILED, attempt: 2, error: "card declined", errorKind: "HTTP_4XX" },
  { type: EventType.SAGA_STATUS_CHANGED, at: 1201, sagaStatus: SagaStatus.FAILED },
]);

const base = sagaOf(SagaStatus.PENDING, [
  { name: "reserve", status: StepStatus.PENDING, compensate: true },
  { name: "charge", status: StepStatus.PENDING },
  { name: "ship", status: StepStatus.PENDING },
]);

/** The saga as it truly was after event `n` (a GetSaga taken then). */
const truthAfter = (n: number): Saga => applyEvents(applySnapshot(EMPTY_LIVE, { ...base, sequence: 0n }), events.slice(0, n)).state.saga!;
const charge = (state: LiveState) => state.saga!.steps.find((s) => s.name === "charge")!;

describe("a GetSaga snapshot that answers before WatchSaga's history", () => {
  it("is never rolled back by replaying the events it already includes", () => {
    const N = 7;
    let state = applySnapshot(EMPTY_LIVE, truthAfter(N));
    const snapshot = state.saga!;
    // The stream from sequence 0 delivers 1..N one at a time, then N+1..end: the saga never steps back.
    for (const event of events.slice(0, N)) {
      state = applyEvents(state, [event]).state;
      expect(state.saga).toBe(snapshot);
      expect(state.saga!.sequence).toBe(BigInt(N));
      expect(charge(state).retryCount).toBe(2);
      expect(charge(state).error).toBe("503 from bank");
    }
    expect(state.events).toHaveLength(N); // all recorded in the history all the same
    state = applyEvents(state, events.slice(N)).state;
    expect(state.lastSequence).toBe(BigInt(events.length));
    expect(state.saga).toEqual(truthAfter(events.length));
    expect(state.saga!.status).toBe(SagaStatus.FAILED);
    expect(charge(state)).toMatchObject({ status: StepStatus.FAILED, retryCount: 2, error: "card declined" });
  });

  it("in one batch that straddles its sequence, applies only the events after it", () => {
    const state = applyEvents(applySnapshot(EMPTY_LIVE, truthAfter(5)), events).state;
    expect(state.events.map((e) => e.sequence)).toEqual(events.map((e) => e.sequence));
    expect(state.saga).toEqual(truthAfter(events.length));
  });
});

describe("a stale snapshot arriving after newer events", () => {
  it("is brought up to date by the history, never shown as it was", () => {
    const live = applyEvents(applySnapshot(EMPTY_LIVE, { ...base, sequence: 0n }), events).state;
    const stale = { ...truthAfter(4), retryCount: 0, maxRetries: 3 };
    const state = applySnapshot(live, stale);
    expect(state.saga!.sequence).toBe(BigInt(events.length));
    expect(state.saga!.status).toBe(SagaStatus.FAILED);
    expect(charge(state)).toMatchObject({ status: StepStatus.FAILED, retryCount: 2, error: "card declined" });
  });

  it("is ignored when the history cannot bring it up to what is shown", () => {
    // A history that starts after the stale snapshot's sequence (a watch resumed after a later one).
    const shown = truthAfter(events.length);
    const live: LiveState = { snapshot: truthAfter(2), events: events.slice(5), lastSequence: BigInt(events.length), saga: shown };
    const state = applySnapshot(live, truthAfter(3));
    expect(state).toBe(live);
    expect(state.saga!.status).toBe(SagaStatus.FAILED);
  });

  it("still yields to a snapshot at or past what is shown", () => {
    const live = applyEvents(applySnapshot(EMPTY_LIVE, { ...base, sequence: 0n }), events.slice(0, 7)).state;
    const fresh = { ...truthAfter(7), maxRetries: 3 };
    expect(applySnapshot(live, fresh).saga!.maxRetries).toBe(3);
  });
});

/**
 * charge used 3 of 3 and failed; RetrySaga reset it (STEP_RESET carries attempt 3, the round's
 * start) and attempt 4 (the new round's first) started.
 */
const retried = history([
  { type: EventType.STEP_STARTED, at: 0, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 1 },
  { type: EventType.STEP_RETRY_SCHEDULED, at: 1, step: "charge", stepStatus: StepStatus.RETRY_SCHEDULED, attempt: 1, error: "503" },
  { type: EventType.STEP_STARTED, at: 2, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 2 },
  { type: EventType.STEP_RETRY_SCHEDULED, at: 3, step: "charge", stepStatus: StepStatus.RETRY_SCHEDULED, attempt: 2, error: "503" },
  { type: EventType.STEP_STARTED, at: 4, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 3 },
  { type: EventType.STEP_FAILED, at: 5, step: "charge", stepStatus: StepStatus.FAILED, attempt: 3, error: "503" },
  { type: EventType.SAGA_STATUS_CHANGED, at: 6, sagaStatus: SagaStatus.FAILED },
  { type: EventType.SAGA_STATUS_CHANGED, at: 7, sagaStatus: SagaStatus.RUNNING, actor: "RetrySaga" },
  { type: EventType.STEP_RESET, at: 8, step: "charge", stepStatus: StepStatus.PENDING, attempt: 3, actor: "RetrySaga" },
  { type: EventType.STEP_STARTED, at: 9, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 4 },
]);

const node = (state: LiveState, name: string) => {
  const saga = state.saga!;
  return dagStepsFromSaga(saga, new Map(), stepRounds(state.events)).find((s) => s.name === name)!;
};

describe("attempt n/m across rounds", () => {
  const start = applySnapshot(EMPTY_LIVE, { ...base, sequence: 0n });
  const upTo = (n: number) => applyEvents(start, retried.slice(0, n)).state;

  it("counts the first round as it always did", () => {
    expect(node(upTo(5), "charge")).toMatchObject({ attempt: 3, maxAttempts: 3 });
    expect(node(upTo(5), "charge").overallAttempt).toBeUndefined();
  });

  it("shows no bogus 0/m right after a reset, and keeps retry_count the overall count", () => {
    const state = upTo(9);
    expect(charge(state).retryCount).toBe(3); // STEP_RESET does not renumber attempts
    const reset = node(state, "charge");
    expect(reset.attempt).toBeUndefined(); // drawn "–/3", not "0/3" or "3/3"
    expect(reset.maxAttempts).toBe(3);
    expect(roundAttemptText(roundAttempt(charge(state), stepRounds(state.events).get("charge")))).toBe("None yet, 3 allowed (3 in earlier rounds)");
  });

  it("numbers the new round's first attempt 1/3, with the overall number beside it", () => {
    const state = upTo(10);
    expect(node(state, "charge")).toMatchObject({ attempt: 1, maxAttempts: 3, overallAttempt: 4, status: StepStatus.RUNNING });
    const attempt = roundAttempt(charge(state), stepRounds(state.events).get("charge"));
    expect(attempt).toMatchObject({ inRound: 1, overall: 4, roundStart: 3, max: 3, compensation: false });
    expect(roundAttemptText(attempt)).toBe("1 of 3 (4th overall)");
  });

  it("gets the same answer when the snapshot came first (snapshot after the reset's round began)", () => {
    const snap = applySnapshot(EMPTY_LIVE, applyEvents(start, retried).state.saga!);
    const state = applyEvents(snap, retried).state;
    expect(node(state, "charge")).toMatchObject({ attempt: 1, maxAttempts: 3, overallAttempt: 4 });
  });

  it("counts a compensation against its own budget, from 0, and from a rollback's reset", () => {
    const comp = history([
      { type: EventType.STEP_STARTED, at: 0, step: "reserve", stepStatus: StepStatus.RUNNING, attempt: 1 },
      { type: EventType.STEP_COMPLETED, at: 1, step: "reserve", stepStatus: StepStatus.COMPLETED, attempt: 1 },
      { type: EventType.COMPENSATION_STARTED, at: 2, step: "reserve", stepStatus: StepStatus.COMPENSATING, attempt: 1 },
      { type: EventType.COMPENSATION_RETRY_SCHEDULED, at: 3, step: "reserve", stepStatus: StepStatus.COMPENSATING, attempt: 1, error: "x" },
      { type: EventType.COMPENSATION_STARTED, at: 4, step: "reserve", stepStatus: StepStatus.COMPENSATING, attempt: 2 },
      { type: EventType.COMPENSATION_FAILED, at: 5, step: "reserve", stepStatus: StepStatus.COMPENSATION_FAILED, attempt: 2, error: "x" },
      { type: EventType.STEP_RESET, at: 6, step: "reserve", stepStatus: StepStatus.COMPENSATING, attempt: 2, actor: "RollbackSaga" },
      { type: EventType.COMPENSATION_STARTED, at: 7, step: "reserve", stepStatus: StepStatus.COMPENSATING, attempt: 3 },
    ]);
    const at = (n: number) => applyEvents(start, comp.slice(0, n)).state;
    expect(node(at(5), "reserve")).toMatchObject({ attempt: 2, maxAttempts: 5 });
    expect(node(at(7), "reserve").attempt).toBeUndefined();
    expect(node(at(8), "reserve")).toMatchObject({ attempt: 1, maxAttempts: 5, overallAttempt: 3 });
  });

  it("says the overall attempt as an ordinal", () => {
    const text = (inRound: number, roundStart: number) =>
      roundAttemptText({ inRound, overall: inRound + roundStart, roundStart, max: 3, compensation: false });
    expect(text(2, 0)).toBe("2 of 3");
    expect(text(0, 0)).toBe("None yet, 3 allowed");
    expect(text(1, 10)).toBe("1 of 3 (11th overall)");
    expect(text(1, 21)).toBe("1 of 3 (22nd overall)");
    expect(text(2, 1)).toBe("2 of 3 (3rd overall)");
    expect(text(1, 12)).toBe("1 of 3 (13th overall)");
  });

  it("is one pass over a long history", () => {
    const many = history(
      Array.from({ length: 5000 }, (_, i) => ({ type: EventType.STEP_RESET, at: i, step: `s${i % 200}`, stepStatus: StepStatus.PENDING, attempt: i })),
    );
    const rounds = stepRounds(many);
    expect(rounds.size).toBe(200);
    expect(rounds.get("s0")).toEqual({ compensation: false, start: 4800 });
  });
});
