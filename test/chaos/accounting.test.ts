import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EventType, SagaEventSchema, SagaSchema, SagaStatus, StepSchema, StepStatus, type SagaEvent } from "../../src/client/index.js";
import { accountSaga, FAILURE_COUNTERS, newAccounting, type SagaRecord } from "./accounting.js";
import type { Phase, TargetCall } from "./target.js";

/**
 * The harness's checks must catch what they claim to: each test builds a history and the calls a
 * target saw, breaks one thing, and expects exactly that counter to move.
 */
const ID = "11111111-1111-4111-8111-111111111111";
const T0 = 1_700_000_000_000;

function ev(sequence: number, type: EventType, step: string, attempt: number, extra: Pick<Partial<SagaEvent>, "errorKind" | "sagaStatus" | "stepStatus"> = {}): SagaEvent {
  return create(SagaEventSchema, {
    sequence: BigInt(sequence),
    type,
    step,
    attempt,
    time: timestampFromMs(T0 + sequence * 10),
    sagaStatus: SagaStatus.RUNNING,
    ...extra,
  });
}

function call(step: string, attempt: number, atSequence: number, status = 200, phase: Phase = "action"): TargetCall {
  return {
    phase,
    behaviour: status === 200 ? "ok" : "flaky",
    step,
    sagaId: ID,
    headerStep: step,
    attempt,
    idempotencyKey: phase === "action" ? `${ID}/${step}` : `${ID}/${step}/compensate`,
    replica: "r1",
    // Between the event numbered atSequence and the next one.
    receivedAtMs: T0 + atSequence * 10 + 5,
    status,
    delayMs: 1,
  };
}

/** a (flaky: 503 then 200) → b; both complete. */
function cleanRecord(): SagaRecord {
  const history = [
    ev(1, EventType.SAGA_CREATED, "", 0),
    ev(2, EventType.STEP_STARTED, "a", 1),
    ev(3, EventType.STEP_RETRY_SCHEDULED, "a", 1, { errorKind: "HTTP_5XX" }),
    ev(4, EventType.STEP_STARTED, "a", 2),
    ev(5, EventType.STEP_COMPLETED, "a", 2),
    ev(6, EventType.STEP_STARTED, "b", 1),
    ev(7, EventType.STEP_COMPLETED, "b", 1),
    ev(8, EventType.SAGA_STATUS_CHANGED, "", 0, { sagaStatus: SagaStatus.COMPLETED }),
  ];
  return {
    saga: create(SagaSchema, {
      id: ID,
      status: SagaStatus.COMPLETED,
      steps: [create(StepSchema, { name: "a", status: StepStatus.COMPLETED }), create(StepSchema, { name: "b", status: StepStatus.COMPLETED, dependsOn: ["a"] })],
    }),
    history,
    calls: [call("a", 1, 2, 503), call("a", 2, 4), call("b", 1, 6)],
    live: history.slice(1),
    createdSequence: 1n,
    expected: SagaStatus.COMPLETED,
  };
}

/** Runs the checks and returns the failure counters that moved. */
function failuresOf(r: SagaRecord) {
  const acc = newAccounting();
  accountSaga(acc, r);
  const moved = Object.fromEntries(FAILURE_COUNTERS.filter((c) => acc.failures[c] > 0).map((c) => [c, acc.failures[c]]));
  return { moved, acc };
}

describe("chaos accounting", () => {
  it("a clean history with a retried flaky step passes every check", () => {
    const { moved, acc } = failuresOf(cleanRecord());
    expect(moved).toEqual({});
    expect(acc.failureKinds).toEqual({ HTTP_5XX: 1 });
    expect(acc.calls).toBe(3);
  });

  it("a call after the step's STEP_COMPLETED is a duplicate", () => {
    const r = cleanRecord();
    r.calls.push(call("a", 2, 5));
    const { moved } = failuresOf(r);
    expect(moved.duplicates).toBe(1);
  });

  it("a same-attempt re-run is allowed only with a STEP_RECOVERED for it", () => {
    const r = cleanRecord();
    r.calls.push(call("b", 1, 6));
    expect(failuresOf(r).moved).toEqual({ unexplainedReruns: 1 });

    r.history.splice(6, 0, ev(7, EventType.STEP_RECOVERED, "b", 1, { stepStatus: StepStatus.RUNNING }));
    r.history.forEach((e, i) => (e.sequence = BigInt(i + 1)));
    r.live = r.history.slice(1);
    const { moved, acc } = failuresOf(r);
    expect(moved).toEqual({});
    expect(acc.recoveredReruns).toBe(1);
    expect(acc.recoveries).toBe(1);
  });

  it("a call for an attempt that was never started is unaccounted", () => {
    const r = cleanRecord();
    r.calls.push(call("b", 2, 7));
    expect(failuresOf(r).moved).toMatchObject({ unaccountedCalls: 1 });
  });

  it("a completion without a call that answered 2xx is a result without a call", () => {
    const r = cleanRecord();
    r.calls = r.calls.filter((c) => c.step !== "b");
    expect(failuresOf(r).moved).toEqual({ resultsWithoutCall: 1 });
    const flaky = cleanRecord();
    flaky.calls[1] = { ...flaky.calls[1]!, status: 503 };
    expect(failuresOf(flaky).moved).toEqual({ resultsWithoutCall: 1 });
  });

  it("an attempt that was started and never concluded is unfinished", () => {
    const r = cleanRecord();
    r.history.splice(6, 1); // drop STEP_COMPLETED of b
    r.history.forEach((e, i) => (e.sequence = BigInt(i + 1)));
    r.live = r.history.slice(1);
    expect(failuresOf(r).moved).toMatchObject({ unfinishedAttempts: 1 });
  });

  it("a deferral concludes an attempt without a call", () => {
    const r = cleanRecord();
    r.history.splice(5, 0, ev(6, EventType.STEP_STARTED, "b", 1), ev(7, EventType.STEP_DEFERRED, "b", 0, { stepStatus: StepStatus.RETRY_SCHEDULED }));
    r.history.forEach((e, i) => (e.sequence = BigInt(i + 1)));
    r.live = r.history.slice(1);
    const { moved, acc } = failuresOf(r);
    expect(moved).toEqual({});
    expect(acc.deferrals).toBe(1);
  });

  it("a wrong Idempotency-Key, a history gap, a watcher's gap and a wrong status are each caught", () => {
    const key = cleanRecord();
    key.calls[2] = { ...key.calls[2]!, idempotencyKey: `${ID}/a` };
    expect(failuresOf(key).moved).toEqual({ badKeys: 1 });

    const gap = cleanRecord();
    gap.history[3]!.sequence = 40n;
    expect(failuresOf(gap).moved).toMatchObject({ historyGaps: 1 });

    const live = cleanRecord();
    live.live = live.history.slice(1).filter((e) => e.sequence !== 4n);
    expect(failuresOf(live).moved).toEqual({ liveMismatches: 1 });

    const status = cleanRecord();
    status.expected = SagaStatus.COMPENSATED;
    expect(failuresOf(status).moved).toEqual({ wrongStatus: 1 });
  });

  it("a COMPENSATED saga must have compensated its completed steps, dependents first", () => {
    const r = cleanRecord();
    r.saga.status = SagaStatus.COMPENSATED;
    r.expected = SagaStatus.COMPENSATED;
    r.saga.steps[0]!.compensate = { $typeName: "saga.v1.Compensation", action: "http", retryPolicy: undefined };
    r.saga.steps[1]!.compensate = { $typeName: "saga.v1.Compensation", action: "http", retryPolicy: undefined };
    r.saga.steps[0]!.status = StepStatus.COMPENSATED;
    r.saga.steps[1]!.status = StepStatus.COMPENSATED;
    const comp = (seq: number, type: EventType, step: string) => ev(seq, type, step, 1, { stepStatus: StepStatus.COMPENSATING });
    r.history = [
      ...r.history.slice(0, 7),
      comp(8, EventType.COMPENSATION_STARTED, "b"),
      comp(9, EventType.COMPENSATION_COMPLETED, "b"),
      comp(10, EventType.COMPENSATION_STARTED, "a"),
      comp(11, EventType.COMPENSATION_COMPLETED, "a"),
    ];
    r.live = r.history.slice(1);
    r.calls.push(call("b", 1, 8, 200, "compensate"), call("a", 1, 10, 200, "compensate"));
    expect(failuresOf(r).moved).toEqual({});

    const early = structuredClone(r);
    early.calls[4] = call("a", 1, 7, 200, "compensate"); // a's undo before b's finished
    expect(failuresOf(early).moved).toMatchObject({ compensationOrder: 1 });

    const missed = structuredClone(r);
    missed.saga.steps[0]!.status = StepStatus.COMPLETED;
    expect(failuresOf(missed).moved).toMatchObject({ missedCompensations: 1 });
  });
});
