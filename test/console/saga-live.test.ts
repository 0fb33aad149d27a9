import { describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type SagaEvent } from "../../src/gen/saga/v1/saga_pb.js";
import {
  applyEvents,
  applySnapshot,
  compensationOrder,
  EMPTY_LIVE,
  eventsAfter,
  type LiveState,
} from "../../src/console/model/saga-live.js";
import { idempotencyKeyOf, stepAttempts } from "../../src/console/model/step-attempts.js";
import { history, sagaOf, T0 } from "./saga-fixtures.js";

/** A checkout that reserves, fails to charge twice and then charges, ships nothing yet. */
const events = history([
  { type: EventType.SAGA_CREATED, at: 0, sagaStatus: SagaStatus.PENDING },
  { type: EventType.SAGA_STATUS_CHANGED, at: 1, sagaStatus: SagaStatus.RUNNING },
  { type: EventType.STEP_STARTED, at: 2, step: "reserve", stepStatus: StepStatus.RUNNING, attempt: 1 },
  { type: EventType.STEP_COMPLETED, at: 50, step: "reserve", stepStatus: StepStatus.COMPLETED, output: { id: "r-1" } },
  { type: EventType.STEP_STARTED, at: 60, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 1 },
  { type: EventType.STEP_RETRY_SCHEDULED, at: 90, step: "charge", stepStatus: StepStatus.RETRY_SCHEDULED, error: "503 from bank", errorKind: "HTTP_5XX", nextAt: 1090 },
  { type: EventType.STEP_STARTED, at: 1090, step: "charge", stepStatus: StepStatus.RUNNING, attempt: 2 },
]);

const base = sagaOf(SagaStatus.PENDING, [
  { name: "reserve", status: StepStatus.PENDING, compensate: true },
  { name: "charge", status: StepStatus.PENDING },
  { name: "ship", status: StepStatus.PENDING },
]);

const withSnapshot = (sequence: bigint): LiveState => applySnapshot(EMPTY_LIVE, { ...base, sequence });
const statuses = (state: LiveState) => Object.fromEntries(state.saga!.steps.map((s) => [s.name, StepStatus[s.status]]));

describe("applyEvents", () => {
  it("applies events in sequence order to the steps, whatever order a batch holds", () => {
    const shuffled = [events[3]!, events[0]!, events[6]!, events[2]!, events[5]!, events[1]!, events[4]!];
    const { state, gap } = applyEvents(withSnapshot(0n), shuffled);
    expect(gap).toBeUndefined();
    expect(state.events.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(state.lastSequence).toBe(7n);
    expect(state.saga!.status).toBe(SagaStatus.RUNNING);
    expect(statuses(state)).toEqual({ reserve: "COMPLETED", charge: "RUNNING", ship: "PENDING" });
    const charge = state.saga!.steps[1]!;
    expect(charge.retryCount).toBe(2);
    expect(charge.error).toBe("503 from bank");
    expect(charge.nextAttemptTime).toBeUndefined(); // the retry has started
    expect(state.saga!.steps[0]!.output).toEqual({ id: "r-1" });
    expect(state.saga!.sequence).toBe(7n);
  });

  it("ignores events it has already seen, so a resumed stream that repeats one changes nothing", () => {
    const first = applyEvents(withSnapshot(0n), events.slice(0, 5)).state;
    const again = applyEvents(first, events.slice(3, 7));
    expect(again.gap).toBeUndefined();
    expect(again.state.events.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    const same = applyEvents(again.state, events.slice(0, 7));
    expect(same.state).toBe(again.state);
  });

  it("resumes after the last sequence applied", () => {
    const state = applyEvents(EMPTY_LIVE, events.slice(0, 4)).state;
    expect(state.lastSequence).toBe(4n);
    expect(applyEvents(state, []).state.lastSequence).toBe(4n);
  });

  it("stops at a gap and says what is missing", () => {
    const { state, gap } = applyEvents(withSnapshot(0n), [events[0]!, events[1]!, events[4]!, events[5]!]);
    expect(gap).toEqual({ expected: 3n, got: 5n });
    expect(state.lastSequence).toBe(2n);
    expect(state.events).toHaveLength(2);
    expect(statuses(state).charge).toBe("PENDING"); // nothing past the gap was applied
    // Filling the gap afterwards brings everything in.
    const filled = applyEvents(state, events.slice(2, 7));
    expect(filled.gap).toBeUndefined();
    expect(filled.state.lastSequence).toBe(7n);
  });

  it("keeps the objects of steps no event touched", () => {
    const start = withSnapshot(0n);
    const { state } = applyEvents(start, events.slice(0, 4));
    expect(state.saga!.steps[2]).toBe(start.saga!.steps[2]);
    expect(state.saga!.steps[0]).not.toBe(start.saga!.steps[0]);
  });

  it("uses the event type when an event carries no step status", () => {
    const comp = history([
      { type: EventType.COMPENSATION_STARTED, at: 0, step: "reserve", attempt: 1 },
      { type: EventType.COMPENSATION_COMPLETED, at: 5, step: "reserve" },
    ]);
    const { state } = applyEvents(withSnapshot(0n), comp);
    expect(statuses(state).reserve).toBe("COMPENSATED");
  });
});

describe("applySnapshot", () => {
  it("applies on top of a snapshot only the events it does not include yet", () => {
    const streamed = applyEvents(EMPTY_LIVE, events).state;
    expect(streamed.saga).toBeUndefined(); // events alone have nothing to draw on
    // The snapshot was taken after event 5: reserve done, charge running its first attempt.
    const snap = { ...base, sequence: 5n, status: SagaStatus.RUNNING };
    snap.steps = snap.steps.map((s) => ({ ...s, status: s.name === "reserve" ? StepStatus.COMPLETED : s.name === "charge" ? StepStatus.RUNNING : s.status, retryCount: s.name === "charge" ? 1 : s.retryCount }));
    const state = applySnapshot(streamed, snap);
    expect(statuses(state)).toEqual({ reserve: "COMPLETED", charge: "RUNNING", ship: "PENDING" });
    expect(state.saga!.steps[1]!.retryCount).toBe(2); // event 7 applied on top
    expect(state.saga!.steps[1]!.error).toBe("503 from bank"); // event 6 too
  });

  it("ignores a late answer older than the snapshot it has", () => {
    const newer = applySnapshot(EMPTY_LIVE, { ...base, sequence: 9n, name: "newer" });
    expect(applySnapshot(newer, { ...base, sequence: 4n, name: "older" }).saga!.name).toBe("newer");
  });
});

describe("eventsAfter", () => {
  it("returns the suffix above a sequence", () => {
    expect(eventsAfter(events, 5n).map((e) => e.sequence)).toEqual([6n, 7n]);
    expect(eventsAfter(events, 0n)).toHaveLength(7);
    expect(eventsAfter(events, 7n)).toHaveLength(0);
  });
});

describe("compensationOrder", () => {
  it("numbers steps in the order their compensation started", () => {
    const comp = history([
      { type: EventType.COMPENSATION_STARTED, at: 0, step: "ship", attempt: 1 },
      { type: EventType.COMPENSATION_COMPLETED, at: 1, step: "ship" },
      { type: EventType.COMPENSATION_STARTED, at: 2, step: "reserve", attempt: 1 },
      { type: EventType.COMPENSATION_RETRY_SCHEDULED, at: 3, step: "reserve", error: "x" },
      { type: EventType.COMPENSATION_STARTED, at: 4, step: "reserve", attempt: 2 },
    ]);
    expect([...compensationOrder(comp)]).toEqual([["ship", 1], ["reserve", 2]]);
  });
});

describe("stepAttempts", () => {
  it("lists each attempt with its start, end, outcome and error", () => {
    const rows = stepAttempts(events, "charge");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ phase: "action", attempt: 1, startMs: T0 + 60, endMs: T0 + 90, outcome: "failed, retry scheduled", error: "503 from bank", errorKind: "HTTP_5XX", nextAttemptMs: T0 + 1090 });
    expect(rows[1]).toMatchObject({ attempt: 2, outcome: "running", tone: "active" });
    expect(rows[1]!.endMs).toBeUndefined();
  });

  it("keeps compensation attempts apart and marks a recovered attempt", () => {
    const more: SagaEvent[] = history([
      { type: EventType.STEP_STARTED, at: 0, step: "reserve", attempt: 1 },
      { type: EventType.STEP_RECOVERED, at: 10, step: "reserve", attempt: 1 },
      { type: EventType.STEP_COMPLETED, at: 20, step: "reserve" },
      { type: EventType.COMPENSATION_STARTED, at: 30, step: "reserve", attempt: 1 },
      { type: EventType.COMPENSATION_COMPLETED, at: 40, step: "reserve" },
    ]);
    const rows = stepAttempts(more, "reserve");
    expect(rows.map((r) => [r.phase, r.outcome, r.recovered])).toEqual([
      ["action", "completed", true],
      ["compensation", "compensated", false],
    ]);
  });
});

describe("idempotencyKeyOf", () => {
  it("matches the engine's key for each phase", () => {
    expect(idempotencyKeyOf("s-1", "charge", "action")).toBe("s-1/charge");
    expect(idempotencyKeyOf("s-1", "charge", "compensation")).toBe("s-1/charge/compensate");
  });
});
