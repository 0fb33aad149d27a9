import { describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/gen/saga/v1/saga_pb.js";
import { timeAxis } from "../../src/console/model/time-axis.js";
import { buildTimeline, roundSpan, rowBars, TimelineBuilder, type Timeline } from "../../src/console/model/timeline.js";
import { history, sagaOf, T0 } from "./saga-fixtures.js";

const rel = (ms: number) => ms - T0;

describe("buildTimeline", () => {
  it("draws a bar per attempt from its start to its outcome, and the retry wait between them", () => {
    const saga = sagaOf(SagaStatus.COMPLETED, [{ name: "charge", status: StepStatus.COMPLETED }]);
    const timeline = buildTimeline(
      saga,
      history([
        { type: EventType.STEP_STARTED, at: 100, step: "charge", attempt: 1 },
        { type: EventType.STEP_RETRY_SCHEDULED, at: 400, nextAt: 1400, step: "charge", attempt: 1, error: "503" },
        { type: EventType.STEP_STARTED, at: 1450, step: "charge", attempt: 2 },
        { type: EventType.STEP_COMPLETED, at: 1600, step: "charge", attempt: 2 },
      ]),
      T0 + 60_000,
    );
    const bars = rowBars(timeline.rows[0]!).map((b) => [b.kind, rel(b.startMs), rel(b.endMs), b.tone, b.open, b.attempt]);
    expect(bars).toEqual([
      ["attempt", 100, 400, "failed", false, 1],
      ["wait", 400, 1450, "waiting", false, 1],
      ["attempt", 1450, 1600, "done", false, 2],
    ]);
    expect(rowBars(timeline.rows[0]!)[0]!.outcome).toBe("attempt 1 failed: 503");
    // A resting saga's chart ends at its last event, not at `now`.
    expect(rel(timeline.startMs)).toBe(0);
    expect(rel(timeline.endMs)).toBe(1600);
    expect(timeline.live).toBe(false);
  });

  it("extends open bars to now while the saga moves, and a wait to its due time when later", () => {
    const saga = sagaOf(SagaStatus.RUNNING, [
      { name: "reserve", status: StepStatus.RUNNING },
      { name: "charge", status: StepStatus.RETRY_SCHEDULED },
      { name: "ship", status: StepStatus.PENDING },
    ]);
    const timeline = buildTimeline(
      saga,
      history([
        { type: EventType.STEP_STARTED, at: 0, step: "reserve", attempt: 1 },
        { type: EventType.STEP_STARTED, at: 0, step: "charge", attempt: 1 },
        { type: EventType.STEP_RETRY_SCHEDULED, at: 200, nextAt: 9000, step: "charge", attempt: 1 },
      ]),
      T0 + 5000,
    );
    const [reserve, charge, ship] = timeline.rows;
    expect(rowBars(reserve!)).toMatchObject([{ kind: "attempt", open: true, tone: "active" }]);
    expect(rel(rowBars(reserve!)[0]!.endMs)).toBe(5000);
    expect(rowBars(charge!).map((b) => [b.kind, rel(b.endMs), b.open])).toEqual([
      ["attempt", 200, false],
      ["wait", 9000, true],
    ]);
    expect(rowBars(ship!)).toEqual([]);
    // A live chart reaches the due time, and ends a round margin past it.
    expect(rel(timeline.reachedMs)).toBe(9000);
    expect(rel(timeline.endMs)).toBe(10_000);
    expect(timeline.live).toBe(true);
  });

  it("draws compensation attempts as their own kind, after the step's own bar", () => {
    const saga = sagaOf(SagaStatus.COMPENSATED, [{ name: "reserve", status: StepStatus.COMPENSATED, compensate: true }]);
    const timeline = buildTimeline(
      saga,
      history([
        { type: EventType.STEP_STARTED, at: 0, step: "reserve", attempt: 1 },
        { type: EventType.STEP_COMPLETED, at: 50, step: "reserve", attempt: 1 },
        { type: EventType.COMPENSATION_STARTED, at: 300, step: "reserve", attempt: 1 },
        { type: EventType.COMPENSATION_RETRY_SCHEDULED, at: 350, nextAt: 850, step: "reserve", attempt: 1 },
        { type: EventType.COMPENSATION_STARTED, at: 900, step: "reserve", attempt: 2 },
        { type: EventType.COMPENSATION_COMPLETED, at: 950, step: "reserve", attempt: 2 },
      ]),
      T0 + 10_000,
    );
    expect(rowBars(timeline.rows[0]!).map((b) => [b.kind, b.tone])).toEqual([
      ["attempt", "done"],
      ["compensation", "failed"],
      ["compensation-wait", "waiting"],
      ["compensation", "undone"],
    ]);
  });

  it("ends a wait at a skip or a cancel and marks the operator's act", () => {
    const saga = sagaOf(SagaStatus.CANCELLED, [
      { name: "charge", status: StepStatus.SKIPPED },
      { name: "ship", status: StepStatus.CANCELLED },
    ]);
    const timeline = buildTimeline(
      saga,
      history([
        { type: EventType.STEP_STARTED, at: 0, step: "charge", attempt: 1 },
        { type: EventType.STEP_RETRY_SCHEDULED, at: 100, nextAt: 60_000, step: "charge", attempt: 1 },
        { type: EventType.STEP_SKIPPED, at: 500, step: "charge", actor: "SkipStep", tokenName: "alice", reason: "paid by phone" },
        { type: EventType.STEP_STARTED, at: 600, step: "ship", attempt: 1 },
        { type: EventType.STEP_CANCELLED, at: 700, step: "ship", attempt: 1, message: "step ship aborted by cancel" },
      ]),
      T0 + 120_000,
    );
    const [charge, ship] = timeline.rows;
    expect(rowBars(charge!).map((b) => [b.kind, rel(b.endMs), b.open])).toEqual([
      ["attempt", 100, false],
      ["wait", 500, false],
    ]);
    expect(charge!.marks).toEqual([{ atMs: T0 + 500, type: "STEP_SKIPPED", label: "skipped by alice (paid by phone)" }]);
    expect(rowBars(ship!).map((b) => [b.kind, b.tone])).toEqual([["attempt", "stopped"]]);
    expect(ship!.marks.map((m) => m.type)).toEqual(["STEP_CANCELLED"]);
    expect(rel(timeline.endMs)).toBe(700);
  });

  it("turns an attempt the breaker refused into a wait for the probe time", () => {
    const saga = sagaOf(SagaStatus.RUNNING, [{ name: "charge", status: StepStatus.RETRY_SCHEDULED }]);
    const timeline = buildTimeline(
      saga,
      history([
        { type: EventType.STEP_STARTED, at: 0, step: "charge", attempt: 2 },
        { type: EventType.STEP_DEFERRED, at: 1, nextAt: 3000, step: "charge", attempt: 1, errorKind: "CIRCUIT_OPEN" },
      ]),
      T0 + 1000,
    );
    expect(rowBars(timeline.rows[0]!).map((b) => [b.kind, b.tone, rel(b.endMs), b.open])).toEqual([
      ["attempt", "waiting", 1, false],
      ["wait", "waiting", 3000, true],
    ]);
  });
});

/** A timeline of one row with bars at these [start, end] offsets from T0. */
function chart(bars: [number, number][], endMs = bars.at(-1)![1]): Timeline {
  return {
    startMs: T0,
    endMs: T0 + endMs,
    reachedMs: T0 + endMs,
    live: false,
    rows: [{ step: "a", status: StepStatus.COMPLETED, marks: [], done: bars.map(([a, b]) => ({ kind: "attempt", startMs: T0 + a, endMs: T0 + b, open: false, tone: "done", attempt: 1, outcome: "" })) }],
  };
}

describe("TimelineBuilder", () => {
  it("reads only new events, and hands out unchanged rows again", () => {
    const saga = sagaOf(SagaStatus.RUNNING, [
      { name: "reserve", status: StepStatus.COMPLETED },
      { name: "charge", status: StepStatus.RUNNING },
    ]);
    const events = history([
      { type: EventType.STEP_STARTED, at: 0, step: "reserve", attempt: 1 },
      { type: EventType.STEP_COMPLETED, at: 100, step: "reserve", attempt: 1 },
      { type: EventType.STEP_STARTED, at: 100, step: "charge", attempt: 1 },
    ]);
    const builder = new TimelineBuilder();
    const before = builder.update(saga, events.slice(0, 2), T0 + 500);
    const after = builder.update(saga, events, T0 + 1000);
    expect(after.rows[0]).toBe(before.rows[0]);
    expect(rowBars(after.rows[1]!)).toMatchObject([{ kind: "attempt", open: true }]);
    expect(rel(rowBars(after.rows[1]!)[0]!.endMs)).toBe(1000);
    // Time passing moves only the open bar's row.
    const later = builder.update(saga, events, T0 + 2000);
    expect(later.rows[0]).toBe(before.rows[0]);
    expect(rel(rowBars(later.rows[1]!)[0]!.endMs)).toBe(2000);
    expect(later.rows[1]!.done).toBe(after.rows[1]!.done);
    expect(builder.update(saga, events, T0 + 2000)).toEqual(buildTimeline(saga, events, T0 + 2000));
  });

  it("gives a live chart a round span with room past now", () => {
    expect([900, 1000, 5900, 7300, 8000, 61_000].map(roundSpan)).toEqual([1000, 1500, 8000, 10_000, 10_000, 80_000]);
  });
});

describe("timeAxis", () => {
  it("picks a round interval that keeps the ticks few, starting at zero", () => {
    const axis = timeAxis(chart([[0, 9_500]]));
    expect(axis.ticks.map((t) => t.ms)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(axis.ticks[1]!.at).toBeCloseTo(2000 / 9500);
    expect(timeAxis(chart([[0, 3 * 3_600_000]])).ticks.map((t) => t.ms / 3_600_000)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    expect(timeAxis(chart([[0, 40]])).ticks.length).toBeLessThanOrEqual(8);
    expect(axis.gaps).toEqual([]);
  });

  it("cuts a long idle stretch short, and keeps true proportions when asked", () => {
    // 2 s of work, an hour held FAILED, then 1 s of work after the operator acted.
    const timeline = chart([
      [0, 2000],
      [3_602_000, 3_603_000],
    ]);
    const cut = timeAxis(timeline, { cutIdle: true });
    expect(cut.gaps).toHaveLength(1);
    expect(cut.gaps[0]!.idleMs).toBe(3_600_000);
    expect(cut.gaps[0]!.to - cut.gaps[0]!.from).toBeCloseTo(0.04);
    // The work on either side keeps its share: 2 s before the gap is two thirds of the rest.
    expect(cut.at(T0 + 2000)).toBeCloseTo((0.96 * 2) / 3);
    expect(cut.at(T0 + 3_603_000)).toBeCloseTo(1);
    expect(cut.at(T0 + 3_602_500)).toBeGreaterThan(cut.gaps[0]!.to);
    // No tick lands inside the cut.
    expect(cut.ticks.every((t) => t.at <= cut.gaps[0]!.from || t.at >= cut.gaps[0]!.to)).toBe(true);

    const real = timeAxis(timeline, { cutIdle: false });
    expect(real.gaps).toEqual([]);
    expect(real.at(T0 + 2000)).toBeCloseTo(2000 / 3_603_000);
  });

  it("leaves short pauses alone", () => {
    const axis = timeAxis(chart([[0, 1000], [1500, 2500]]), { cutIdle: true });
    expect(axis.gaps).toEqual([]);
    expect(axis.at(T0 + 1500)).toBeCloseTo(0.6);
  });
});
