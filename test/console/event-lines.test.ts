import { describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/gen/saga/v1/saga_pb.js";
import { durationText } from "../../src/console/model/duration-text.js";
import { attemptBudgets, describeEvents, EventDescriber, isFailureEvent } from "../../src/console/model/event-lines.js";
import { history, sagaOf } from "./saga-fixtures.js";

const saga = sagaOf(SagaStatus.FAILED, [
  { name: "reserve", status: StepStatus.COMPLETED, compensate: true },
  { name: "charge", status: StepStatus.FAILED },
]);
const budgets = attemptBudgets(saga.steps);

describe("describeEvents", () => {
  it("says which attempt of how many failed, why, and when the next one starts", () => {
    const [line] = describeEvents(
      history([
        {
          type: EventType.STEP_RETRY_SCHEDULED,
          at: 1000,
          nextAt: 2200,
          step: "charge",
          attempt: 2,
          error: "POST https://pay.example/charge -> 503",
          errorKind: "HTTP_5XX",
        },
      ]),
      budgets,
    );
    expect(line).toMatchObject({
      type: "STEP_RETRY_SCHEDULED",
      text: "step charge: attempt 2/3 failed: POST https://pay.example/charge -> 503 (retry in 1.2 s)",
      errorKind: "HTTP_5XX",
      tone: "waiting",
      failure: true,
      step: "charge",
      sequence: 1,
    });
  });

  it("counts attempts within the round a reset started, and keeps the overall number", () => {
    const lines = describeEvents(
      history([
        { type: EventType.STEP_FAILED, at: 0, step: "charge", attempt: 3, error: "boom" },
        { type: EventType.STEP_RESET, at: 10, step: "charge", attempt: 3, stepStatus: StepStatus.PENDING, actor: "RetrySaga", message: "step charge reset by RetrySaga" },
        { type: EventType.STEP_STARTED, at: 20, step: "charge", attempt: 4, message: "step charge attempt 4 started" },
      ]),
      budgets,
    );
    expect(lines.map((l) => l.text)).toEqual([
      "step charge: attempt 3/3 failed for good: boom",
      "step charge reset by RetrySaga",
      "step charge: attempt 1/3 (#4 overall) started",
    ]);
  });

  it("numbers compensation attempts against the compensation's own budget", () => {
    const lines = describeEvents(
      history([
        { type: EventType.STEP_STARTED, at: 0, step: "reserve", attempt: 1, message: "step reserve attempt 1 started" },
        { type: EventType.STEP_COMPLETED, at: 5, step: "reserve", attempt: 1 },
        { type: EventType.COMPENSATION_STARTED, at: 10, step: "reserve", attempt: 1, message: "compensation of step reserve attempt 1 started" },
        { type: EventType.COMPENSATION_RETRY_SCHEDULED, at: 20, nextAt: 1020, step: "reserve", attempt: 1, error: "refused" },
        { type: EventType.COMPENSATION_FAILED, at: 2000, step: "reserve", attempt: 5, error: "refused" },
      ]),
      budgets,
    );
    expect(lines.map((l) => l.text)).toEqual([
      "step reserve: attempt 1/3 started",
      "step reserve: completed on attempt 1/3",
      "step reserve: compensation attempt 1/5 started",
      "step reserve: compensation attempt 1/5 failed: refused (retry in 1 s)",
      "step reserve: compensation attempt 5/5 failed for good: refused",
    ]);
  });

  it("keeps what the server adds to a start: why it started and the worker queue", () => {
    const [line] = describeEvents(
      history([{ type: EventType.STEP_STARTED, at: 0, step: "charge", attempt: 1, message: "step charge attempt 1 started (circuit probe); queued for a worker serving pay" }]),
      budgets,
    );
    expect(line!.text).toBe("step charge: attempt 1/3 started (circuit probe); queued for a worker serving pay");
  });

  it("names the operator, the operation and the reason, and none for the engine", () => {
    const [skip, engine] = describeEvents(
      history([
        { type: EventType.STEP_SKIPPED, at: 0, step: "charge", actor: "SkipStep", tokenName: "alice", reason: "charged by phone", output: { id: "ch_1" } },
        { type: EventType.STEP_STARTED, at: 1, step: "ship", attempt: 1, actor: "worker" },
      ]),
      budgets,
    );
    expect(skip).toMatchObject({ text: "step charge: skipped", by: "alice via SkipStep", reason: "charged by phone", detail: 'stand-in output {"id":"ch_1"}', failure: false });
    expect(engine!.by).toBeUndefined();
    expect(engine!.reason).toBeUndefined();
    // Without a budget for the step the line still reads, with no "/m".
    expect(engine!.text).toBe("step ship: attempt 1 started");
  });

  it("shows a status change with the status it came from", () => {
    const lines = describeEvents(
      history([
        { type: EventType.SAGA_CREATED, at: 0, sagaStatus: SagaStatus.PENDING, message: "saga checkout created with 2 steps" },
        { type: EventType.SAGA_STATUS_CHANGED, at: 1, sagaStatus: SagaStatus.RUNNING },
        { type: EventType.SAGA_STATUS_CHANGED, at: 2, sagaStatus: SagaStatus.FAILED },
      ]),
    );
    expect(lines.map((l) => [l.text, l.tone, l.failure])).toEqual([
      ["saga checkout created with 2 steps", "idle", false],
      ["saga PENDING → RUNNING", "active", false],
      ["saga RUNNING → FAILED", "failed", true],
    ]);
  });

  it("tells that a deferred attempt was never made, with the attempt it would have been", () => {
    const [line] = describeEvents(
      history([{ type: EventType.STEP_DEFERRED, at: 0, nextAt: 10_000, step: "charge", attempt: 1, error: "circuit http pay.example is open", errorKind: "CIRCUIT_OPEN" }]),
      budgets,
    );
    expect(line!.text).toBe("step charge: attempt 2/3 not made, circuit breaker open: circuit http pay.example is open (next try in 10 s)");
    expect(line!.failure).toBe(true);
  });

  it("keeps untrusted text as it is (the component renders it as text)", () => {
    const [line] = describeEvents(history([{ type: EventType.STEP_FAILED, at: 0, step: "charge", attempt: 1, error: "<script>alert(1)</script>" }]), budgets);
    expect(line!.text).toContain("<script>alert(1)</script>");
  });
});

describe("EventDescriber", () => {
  it("describes only what a growing history added, and starts over for another history", () => {
    const all = history([
      { type: EventType.STEP_FAILED, at: 0, step: "charge", attempt: 3, error: "boom" },
      { type: EventType.STEP_RESET, at: 10, step: "charge", attempt: 3, stepStatus: StepStatus.PENDING, message: "step charge reset by RetrySaga" },
      { type: EventType.STEP_STARTED, at: 20, step: "charge", attempt: 4 },
    ]);
    const describer = new EventDescriber();
    const first = describer.describe(all.slice(0, 2), budgets);
    const grown = describer.describe(all, budgets);
    expect(grown[0]).toBe(first[0]); // the earlier lines are kept, not made again
    expect(grown).toEqual(describeEvents(all, budgets));
    expect(grown[2]!.text).toBe("step charge: attempt 1/3 (#4 overall) started");
    expect(describer.describe(all, budgets)).toBe(grown);
    const other = history([{ type: EventType.STEP_STARTED, at: 0, step: "charge", attempt: 1 }]);
    expect(describer.describe(other, budgets).map((l) => l.text)).toEqual(["step charge: attempt 1/3 started"]);
  });
});

describe("isFailureEvent", () => {
  const one = (init: Parameters<typeof history>[0][number]) => isFailureEvent(history([init])[0]!);

  it("keeps failed attempts and failing rests, not cancellations or successes", () => {
    expect(one({ type: EventType.STEP_FAILED, at: 0 })).toBe(true);
    expect(one({ type: EventType.STEP_RETRY_SCHEDULED, at: 0 })).toBe(true);
    expect(one({ type: EventType.COMPENSATION_FAILED, at: 0 })).toBe(true);
    expect(one({ type: EventType.COMPENSATION_RETRY_SCHEDULED, at: 0 })).toBe(true);
    expect(one({ type: EventType.SAGA_STATUS_CHANGED, at: 0, sagaStatus: SagaStatus.COMPENSATION_FAILED })).toBe(true);
    expect(one({ type: EventType.SAGA_STATUS_CHANGED, at: 0, sagaStatus: SagaStatus.COMPENSATING })).toBe(false);
    expect(one({ type: EventType.STEP_CANCELLED, at: 0, error: "aborted" })).toBe(false);
    expect(one({ type: EventType.STEP_COMPLETED, at: 0 })).toBe(false);
    expect(one({ type: EventType.STEP_SKIPPED, at: 0 })).toBe(false);
  });
});

describe("durationText", () => {
  it("reads at a glance", () => {
    expect([350, 1200, 10_000, 42_400, 125_000, 3_600_000, 11_400_000, 90_000_000].map(durationText)).toEqual([
      "350 ms",
      "1.2 s",
      "10 s",
      "42 s",
      "2 min 5 s",
      "1 h",
      "3 h 10 min",
      "1 d 1 h",
    ]);
  });
});
