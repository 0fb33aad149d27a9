/**
 * `decide` on attempts a circuit breaker refused: the attempt is given back (same number, same
 * budget), the step waits until the breaker's probe time, STEP_DEFERRED records it, and deferrals
 * that no longer apply change nothing. Every decision goes through the invariants of saga-fixtures.
 */
import { describe, expect, it } from "vitest";
import type { Deferral } from "../../src/domain/state-machine.js";
import { CIRCUIT_OPEN } from "../../src/domain/types.js";
import { Run, T0, brief, type StepDef } from "./saga-fixtures.js";

const REASON = 'circuit "pay" is open after 5 consecutive failures; next probe at 2023-11-14T22:13:30.000Z';
const UNTIL = T0 + 10_000;

function deferral(run: Run, step: string, o: Partial<Deferral> = {}): Deferral {
  const attempt = o.attempt ?? run.step(step).attempt;
  return { step, attempt, circuit: "pay", reason: REASON, until: UNTIL, ...o };
}

const ONE: StepDef[] = [{ name: "charge", retry: { maxAttempts: 2 } }];

describe("a deferred step attempt", () => {
  it("goes RETRY_SCHEDULED until the probe time, with the attempt given back and STEP_DEFERRED", () => {
    const run = Run.create(ONE);
    expect(run.step("charge")).toMatchObject({ status: "RUNNING", attempt: 1, startedAt: T0 });
    run.now = T0 + 5;
    const events = run.apply({ type: "stepDeferred", ...deferral(run, "charge") });
    expect(brief(events)).toEqual(["STEP_DEFERRED charge=RETRY_SCHEDULED@0 RUNNING"]);
    expect(events[0]).toMatchObject({
      error: REASON,
      errorKind: CIRCUIT_OPEN,
      nextAttemptAt: UNTIL,
      message: `attempt 1 of step charge deferred: ${REASON}`,
    });
    // Never called, so never started: attempt 0 and no start time.
    expect(run.step("charge")).toMatchObject({
      status: "RETRY_SCHEDULED",
      attempt: 0,
      roundStart: 0,
      nextAttemptAt: UNTIL,
      startedAt: null,
      error: REASON,
      errorKind: CIRCUIT_OPEN,
    });
    expect(run.state.status).toBe("RUNNING");
  });

  it("records who woke the wait early (the breaker's probe or release) on the next start", () => {
    const run = Run.create(ONE);
    run.apply({ type: "stepDeferred", ...deferral(run, "charge") });
    const [started] = run.apply({ type: "retryDue", step: "charge", why: 'released: circuit "pay" closed' });
    expect(started).toMatchObject({ type: "STEP_STARTED", attempt: 1, message: 'step charge attempt 1 started (released: circuit "pay" closed)' });
  });

  it("the retried attempt has the same number, and deferrals never use up the budget", () => {
    const run = Run.create(ONE); // two attempts in all
    for (let i = 0; i < 5; i++) {
      run.apply({ type: "stepDeferred", ...deferral(run, "charge") });
      const resumed = run.apply({ type: "retryDue", step: "charge" });
      expect(brief(resumed)).toEqual(["STEP_STARTED charge=RUNNING@1 RUNNING"]);
    }
    // The real attempt 1 fails: attempt 2 is still left.
    expect(brief(run.fail("charge"))).toEqual(["STEP_RETRY_SCHEDULED charge=RETRY_SCHEDULED@1 RUNNING"]);
    run.apply({ type: "retryDue", step: "charge" });
    expect(run.step("charge").attempt).toBe(2);
    // Attempt 2 is deferred, then runs as attempt 2 again, and its failure is the last one.
    expect(brief(run.apply({ type: "stepDeferred", ...deferral(run, "charge") }))).toEqual([
      "STEP_DEFERRED charge=RETRY_SCHEDULED@1 RUNNING",
    ]);
    expect(run.step("charge").startedAt).toBe(T0); // a later attempt keeps the first start time
    expect(brief(run.apply({ type: "retryDue", step: "charge" }))).toEqual(["STEP_STARTED charge=RUNNING@2 RUNNING"]);
    expect(brief(run.fail("charge"))).toEqual(["STEP_FAILED charge=FAILED@2 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
    expect(run.state.error).toContain("after 2 attempts");
  });

  it("after RetryStep, a deferral gives back into the new round without touching its budget", () => {
    const run = Run.create([{ name: "charge", retry: { maxAttempts: 1 } }]);
    run.fail("charge", { retryable: false });
    run.apply({ type: "retryStep", step: "charge", config: null }, "RetryStep");
    expect(run.step("charge")).toMatchObject({ status: "RUNNING", attempt: 2, roundStart: 1 });
    run.apply({ type: "stepDeferred", ...deferral(run, "charge") });
    expect(run.step("charge")).toMatchObject({ status: "RETRY_SCHEDULED", attempt: 1, roundStart: 1 });
    run.apply({ type: "retryDue", step: "charge" });
    expect(brief(run.succeed("charge"))).toEqual(["STEP_COMPLETED charge=COMPLETED@2 RUNNING", "SAGA_STATUS_CHANGED COMPLETED"]);
  });

  it("a probe time in the past is clamped to now", () => {
    const run = Run.create(ONE);
    run.now = T0 + 50;
    run.apply({ type: "stepDeferred", ...deferral(run, "charge", { until: T0 }) });
    expect(run.step("charge").nextAttemptAt).toBe(T0 + 50);
  });

  it("stale deferrals change nothing: wrong attempt, step not running, unknown step", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }]);
    expect(run.apply({ type: "stepDeferred", ...deferral(run, "a", { attempt: 2 }) })).toEqual([]);
    expect(run.apply({ type: "stepDeferred", ...deferral(run, "b", { attempt: 0 }) })).toEqual([]); // PENDING
    expect(run.apply({ type: "stepDeferred", ...deferral(run, "nope", { attempt: 1 }) })).toEqual([]);
    run.succeed("a");
    expect(run.apply({ type: "stepDeferred", ...deferral(run, "a", { attempt: 1 }) })).toEqual([]); // COMPLETED
    expect(run.step("a").status).toBe("COMPLETED");
    // A second report for an attempt already deferred (it is no longer RUNNING) is ignored too.
    const once = deferral(run, "b");
    expect(run.apply({ type: "stepDeferred", ...once })).toHaveLength(1);
    expect(run.apply({ type: "stepDeferred", ...once })).toEqual([]);
  });

  it("in a cancelling saga the step is cancelled instead of waiting", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }]);
    run.apply({ type: "cancel", reason: "" }, "CancelSaga");
    expect(run.state.status).toBe("CANCELLING");
    const events = run.apply({ type: "stepDeferred", ...deferral(run, "a") });
    expect(brief(events)).toEqual(["STEP_CANCELLED a=CANCELLED@0 CANCELLING"]);
    expect(events[0]!.errorKind).toBe(CIRCUIT_OPEN);
    expect(run.step("a").nextAttemptAt).toBeNull();
  });

  it("a deferral while another step failed for good keeps the step waiting, and the saga fails once nothing runs", () => {
    const run = Run.create([{ name: "a" }, { name: "b", retry: { maxAttempts: 1 } }]);
    run.fail("b", { retryable: false });
    expect(run.state.status).toBe("RUNNING"); // a still runs
    expect(brief(run.apply({ type: "stepDeferred", ...deferral(run, "a") }))).toEqual([
      "STEP_DEFERRED a=RETRY_SCHEDULED@0 RUNNING",
      "SAGA_STATUS_CHANGED FAILED",
    ]);
    // Like a scheduled retry: RetrySaga takes it up again at once.
    run.apply({ type: "retrySaga" }, "RetrySaga");
    expect(run.step("a")).toMatchObject({ status: "RETRY_SCHEDULED", nextAttemptAt: run.now });
  });
});

describe("a deferred compensation attempt", () => {
  const CHAIN: StepDef[] = [
    { name: "reserve", compensate: true },
    { name: "charge", dependsOn: ["reserve"], retry: { maxAttempts: 1 } },
  ];

  function compensating(): Run {
    const run = Run.create(CHAIN, { failurePolicy: "COMPENSATE" });
    run.succeed("reserve");
    run.fail("charge", { retryable: false });
    expect(run.step("reserve")).toMatchObject({ status: "COMPENSATING", attempt: 1, nextAttemptAt: null });
    return run;
  }

  it("stays COMPENSATING with the probe time as its next attempt, the attempt given back", () => {
    const run = compensating();
    const events = run.apply({ type: "compensationDeferred", ...deferral(run, "reserve") });
    expect(brief(events)).toEqual(["STEP_DEFERRED reserve=COMPENSATING@0 COMPENSATING"]);
    expect(events[0]).toMatchObject({ errorKind: CIRCUIT_OPEN, nextAttemptAt: UNTIL, message: `compensation attempt 1 of step reserve deferred: ${REASON}` });
    expect(run.step("reserve")).toMatchObject({ status: "COMPENSATING", attempt: 0, nextAttemptAt: UNTIL, errorKind: CIRCUIT_OPEN });
    expect(run.state.status).toBe("COMPENSATING");

    // retryDue runs attempt 1 again; the budget (2 attempts) is untouched by any number of deferrals.
    for (let i = 0; i < 3; i++) {
      expect(brief(run.apply({ type: "retryDue", step: "reserve" }))).toEqual(["COMPENSATION_STARTED reserve=COMPENSATING@1 COMPENSATING"]);
      run.apply({ type: "compensationDeferred", ...deferral(run, "reserve") });
    }
    run.apply({ type: "retryDue", step: "reserve" });
    expect(brief(run.compensationFails("reserve"))).toEqual(["COMPENSATION_RETRY_SCHEDULED reserve=COMPENSATING@1 COMPENSATING"]);
    run.apply({ type: "retryDue", step: "reserve" });
    expect(brief(run.compensated("reserve"))).toEqual([
      "COMPENSATION_COMPLETED reserve=COMPENSATED@2 COMPENSATING",
      "SAGA_STATUS_CHANGED COMPENSATED",
    ]);
  });

  it("stale compensation deferrals change nothing", () => {
    const run = compensating();
    expect(run.apply({ type: "compensationDeferred", ...deferral(run, "reserve", { attempt: 2 }) })).toEqual([]);
    // A step deferral for a compensating step is not a compensation deferral.
    expect(run.apply({ type: "stepDeferred", ...deferral(run, "reserve") })).toEqual([]);
    run.apply({ type: "compensationDeferred", ...deferral(run, "reserve") });
    // Already waiting: a second report for the same attempt is ignored.
    expect(run.apply({ type: "compensationDeferred", ...deferral(run, "reserve", { attempt: 1 }) })).toEqual([]);
  });
});
