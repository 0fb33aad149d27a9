/**
 * `decide` driving sagas forward: creation, the DAG, retries, failure under HOLD, stale engine
 * reports, recovery, completedAt and purity. Every decision also goes through the invariant checks
 * in saga-fixtures.ts (sequences, replayable event statuses, legal hops, untouched input).
 */
import { describe, expect, it } from "vitest";
import { newSaga } from "../../src/domain/new-saga.js";
import { decide, type SagaInput } from "../../src/domain/state-machine.js";
import type { SagaState } from "../../src/domain/types.js";
import {
  ACTOR,
  Run,
  T0,
  brief,
  decideChecked,
  deepFreeze,
  draft,
  pendingSaga,
  sagaStatusChanges,
  started,
  testEnv,
  type StepDef,
} from "./saga-fixtures.js";

const DIAMOND: StepDef[] = [
  { name: "a" },
  { name: "b", dependsOn: ["a"] },
  { name: "c", dependsOn: ["a"] },
  { name: "d", dependsOn: ["b", "c"] },
];

describe("creating and advancing", () => {
  it("newSaga + advance starts only the root step of a diamond", () => {
    const { state, created } = newSaga("saga-1", draft(DIAMOND), T0, ACTOR);
    expect(state.status).toBe("PENDING");
    expect(state.sequence).toBe(1);
    expect(created).toMatchObject({ sequence: 1, type: "SAGA_CREATED", sagaStatus: "PENDING", step: null, actor: ACTOR });
    expect(state.steps.every((s) => s.status === "PENDING" && s.attempt === 0)).toBe(true);

    const d = decideChecked(state, { type: "advance" }, testEnv());
    expect(brief(d.events)).toEqual(["SAGA_STATUS_CHANGED RUNNING", "STEP_STARTED a=RUNNING@1 RUNNING"]);
    expect(d.events.map((e) => e.sequence)).toEqual([2, 3]);
    expect(d.state.sequence).toBe(3);
    expect(d.state.status).toBe("RUNNING");
    expect(d.state.steps.map((s) => s.status)).toEqual(["RUNNING", "PENDING", "PENDING", "PENDING"]);
    expect(d.state.steps[0]).toMatchObject({ attempt: 1, startedAt: T0, nextAttemptAt: null });
    expect(d.changedSteps).toEqual([0]);
  });

  it("a diamond starts b and c together in one decision, and d only after both", () => {
    const run = Run.create(DIAMOND);
    run.now = T0 + 100;
    const afterA = run.succeed("a", { id: "A" });
    expect(brief(afterA)).toEqual([
      "STEP_COMPLETED a=COMPLETED@1 RUNNING",
      "STEP_STARTED b=RUNNING@1 RUNNING",
      "STEP_STARTED c=RUNNING@1 RUNNING",
    ]);
    expect(afterA[0]!.output).toEqual({ id: "A" });
    expect(run.step("a")).toMatchObject({ status: "COMPLETED", output: { id: "A" }, completedAt: T0 + 100 });
    expect(run.step("b").startedAt).toBe(T0 + 100);
    expect(run.last!.changedSteps).toEqual([0, 1, 2]);

    expect(started(run.succeed("b"))).toEqual([]);
    expect(run.step("d").status).toBe("PENDING");
    expect(run.state.status).toBe("RUNNING");

    const afterC = run.succeed("c");
    expect(brief(afterC)).toEqual(["STEP_COMPLETED c=COMPLETED@1 RUNNING", "STEP_STARTED d=RUNNING@1 RUNNING"]);

    run.now = T0 + 500;
    const afterD = run.succeed("d");
    expect(brief(afterD)).toEqual(["STEP_COMPLETED d=COMPLETED@1 RUNNING", "SAGA_STATUS_CHANGED COMPLETED"]);
    expect(run.state).toMatchObject({ status: "COMPLETED", completedAt: T0 + 500, updatedAt: T0 + 500, error: null });

    // The whole history is gap-free from sequence 2 (SAGA_CREATED is 1).
    expect(run.history.map((e) => e.sequence)).toEqual(run.history.map((_, i) => i + 2));
    expect(run.state.sequence).toBe(run.history.length + 1);
  });

  it("starts every root at once and joins on all dependencies", () => {
    const run = Run.create([{ name: "x" }, { name: "y" }, { name: "z" }, { name: "join", dependsOn: ["x", "y", "z"] }]);
    expect(started(run.history)).toEqual(["x", "y", "z"]);
    run.succeed("x");
    run.succeed("z");
    expect(run.step("join").status).toBe("PENDING");
    expect(started(run.succeed("y"))).toEqual(["join"]);
  });

  it("numbers events from the state's own sequence, whatever it is", () => {
    const state: SagaState = { ...pendingSaga(DIAMOND), sequence: 41 };
    const d = decideChecked(state, { type: "advance" }, testEnv());
    expect(d.events.map((e) => e.sequence)).toEqual([42, 43]);
    expect(d.state.sequence).toBe(43);
  });

  it("records the env's time and actor on every event", () => {
    const state = pendingSaga(DIAMOND);
    const d = decideChecked(state, { type: "advance" }, testEnv(T0 + 7, "CreateSaga"));
    expect(d.events.map((e) => [e.at, e.actor])).toEqual([
      [T0 + 7, "CreateSaga"],
      [T0 + 7, "CreateSaga"],
    ]);
    expect(d.state.updatedAt).toBe(T0 + 7);
  });

  it("advance with nothing to do yields no events and no change", () => {
    const run = Run.create(DIAMOND);
    expect(run.apply({ type: "advance" })).toEqual([]);
    run.succeed("a");
    expect(run.apply({ type: "advance" })).toEqual([]);
    run.succeed("b");
    run.succeed("c");
    run.succeed("d");
    expect(run.state.status).toBe("COMPLETED");
    expect(run.apply({ type: "advance" })).toEqual([]);
  });
});

describe("retries", () => {
  it("a retryable failure schedules a retry at now + backoff; retryDue starts attempt 2", () => {
    const run = Run.create([{ name: "pay", retry: { backoff: "FIXED", initialIntervalMs: 1000 } }]);
    run.now = T0 + 50;
    const events = run.fail("pay", { error: "503 from bank", errorKind: "UNAVAILABLE" });
    expect(brief(events)).toEqual(["STEP_RETRY_SCHEDULED pay=RETRY_SCHEDULED@1 RUNNING"]);
    expect(events[0]).toMatchObject({ nextAttemptAt: T0 + 1050, error: "503 from bank", errorKind: "UNAVAILABLE" });
    expect(run.step("pay")).toMatchObject({ status: "RETRY_SCHEDULED", attempt: 1, nextAttemptAt: T0 + 1050, error: "503 from bank" });
    expect(run.state.status).toBe("RUNNING");

    run.now = T0 + 1050;
    expect(brief(run.apply({ type: "retryDue", step: "pay" }))).toEqual(["STEP_STARTED pay=RUNNING@2 RUNNING"]);
    expect(run.step("pay")).toMatchObject({ status: "RUNNING", attempt: 2, nextAttemptAt: null, startedAt: T0 });

    run.succeed("pay");
    expect(run.step("pay")).toMatchObject({ status: "COMPLETED", error: null, errorKind: null });
    expect(run.state.status).toBe("COMPLETED");
  });

  it("uses the step's backoff for each failed attempt (exponential, with jitter from env.random)", () => {
    const run = Run.create([
      { name: "exp", retry: { backoff: "EXPONENTIAL", initialIntervalMs: 100, multiplier: 3, maxAttempts: 4 } },
      { name: "jit", retry: { backoff: "FIXED", initialIntervalMs: 1000, jitter: 0.5 } },
    ]);
    run.fail("exp");
    expect(run.step("exp").nextAttemptAt).toBe(T0 + 100);
    run.apply({ type: "retryDue", step: "exp" });
    run.fail("exp");
    expect(run.step("exp").nextAttemptAt).toBe(T0 + 300);
    run.apply({ type: "retryDue", step: "exp" });
    run.fail("exp");
    expect(run.step("exp").nextAttemptAt).toBe(T0 + 900);
    // random() = 0.5 and jitter 0.5: 1000 × (1 - 0.25).
    run.fail("jit");
    expect(run.step("jit").nextAttemptAt).toBe(T0 + 750);
  });

  it("exhausting maxAttempts fails the step, and under HOLD the saga", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"], retry: { maxAttempts: 3 } }]);
    run.succeed("a");
    run.fail("b");
    run.apply({ type: "retryDue", step: "b" });
    run.fail("b");
    run.apply({ type: "retryDue", step: "b" });
    expect(run.step("b").attempt).toBe(3);
    run.now = T0 + 9000;
    const events = run.fail("b", { error: "still down" });
    expect(brief(events)).toEqual(["STEP_FAILED b=FAILED@3 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
    expect(events[0]).toMatchObject({ error: "still down", errorKind: "UNAVAILABLE", nextAttemptAt: null });
    expect(run.step("b")).toMatchObject({ status: "FAILED", attempt: 3, completedAt: T0 + 9000, error: "still down" });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.completedAt).toBe(T0 + 9000);
    expect(run.state.error).toContain("b");
    expect(run.state.error).toContain("still down");
    // Nothing was compensated or cancelled: HOLD waits for an operator.
    expect(run.statuses()).toEqual({ a: "COMPLETED", b: "FAILED" });
  });

  it("maxAttempts 1 means no retry at all", () => {
    const run = Run.create([{ name: "once", retry: { maxAttempts: 1 } }]);
    expect(brief(run.fail("once"))).toEqual(["STEP_FAILED once=FAILED@1 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
  });

  it("an error kind in nonRetryableErrors fails at once, other kinds still retry", () => {
    const run = Run.create([
      { name: "a", retry: { nonRetryableErrors: ["INVALID_CARD"] } },
      { name: "b", retry: { nonRetryableErrors: ["INVALID_CARD"] } },
    ]);
    expect(run.fail("b", { errorKind: "TIMEOUT" })[0]!.type).toBe("STEP_RETRY_SCHEDULED");
    const events = run.fail("a", { errorKind: "INVALID_CARD", retryable: true });
    expect(events[0]).toMatchObject({ type: "STEP_FAILED", step: "a", attempt: 1, errorKind: "INVALID_CARD" });
    expect(run.step("a").status).toBe("FAILED");
    expect(run.state.error).toContain("non-retryable");
  });

  it("retryable: false fails at once whatever attempts remain", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 10 } }]);
    const events = run.fail("a", { retryable: false, errorKind: "PERMISSION_DENIED" });
    expect(brief(events)).toEqual(["STEP_FAILED a=FAILED@1 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
    expect(run.step("a").errorKind).toBe("PERMISSION_DENIED");
  });

  it("a step failing for good while a sibling runs: the saga stays RUNNING until the sibling finishes", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }, { name: "after-b", dependsOn: ["b"] }]);
    const failA = run.fail("a", { retryable: false });
    expect(brief(failA)).toEqual(["STEP_FAILED a=FAILED@1 RUNNING"]);
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.completedAt).toBeNull();

    // b finishes; its dependent must not start (a failure stops new steps), and the saga fails.
    const succeedB = run.succeed("b");
    expect(brief(succeedB)).toEqual(["STEP_COMPLETED b=COMPLETED@1 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
    expect(run.statuses()).toEqual({ a: "FAILED", b: "COMPLETED", "after-b": "PENDING" });
  });

  it("a step failing for good while a sibling runs: the sibling's retry does not start, and the saga fails once nothing runs", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }, { name: "c" }]);
    run.fail("a", { retryable: false });
    run.fail("b"); // retry scheduled
    expect(run.state.status).toBe("RUNNING"); // c still runs
    expect(run.apply({ type: "retryDue", step: "b" })).toEqual([]);
    expect(sagaStatusChanges(run.fail("c", { retryable: false }))).toEqual(["FAILED"]);
    expect(run.statuses()).toEqual({ a: "FAILED", b: "RETRY_SCHEDULED", c: "FAILED" });
  });
});

describe("stale engine reports change nothing", () => {
  const setup = () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }, { name: "r" }]);
    run.fail("r"); // r: RETRY_SCHEDULED after attempt 1
    run.apply({ type: "retryDue", step: "r" }); // r: RUNNING attempt 2
    run.fail("r"); // r: RETRY_SCHEDULED after attempt 2
    return run;
  };
  const stale: [string, SagaInput][] = [
    ["success of a wrong attempt", { type: "stepSucceeded", step: "a", attempt: 2, output: {} }],
    ["failure of a wrong attempt", { type: "stepFailed", step: "a", attempt: 0, error: "x", errorKind: "X", retryable: true }],
    ["success of a PENDING step", { type: "stepSucceeded", step: "b", attempt: 0, output: {} }],
    ["success of an earlier attempt of a step waiting for its retry", { type: "stepSucceeded", step: "r", attempt: 1, output: {} }],
    ["success of the last attempt of a step waiting for its retry", { type: "stepSucceeded", step: "r", attempt: 2, output: {} }],
    ["failure of a step waiting for its retry", { type: "stepFailed", step: "r", attempt: 2, error: "x", errorKind: "X", retryable: false }],
    ["success of an unknown step", { type: "stepSucceeded", step: "ghost", attempt: 1, output: {} }],
    ["retryDue of a RUNNING step", { type: "retryDue", step: "a" }],
    ["retryDue of a PENDING step", { type: "retryDue", step: "b" }],
    ["retryDue of an unknown step", { type: "retryDue", step: "ghost" }],
    ["compensation result for a step not compensating", { type: "compensationSucceeded", step: "a", attempt: 1 }],
    [
      "compensation failure for a step not compensating",
      { type: "compensationFailed", step: "a", attempt: 1, error: "x", errorKind: "X", retryable: true },
    ],
  ];
  it.each(stale)("%s", (_, input) => {
    const run = setup();
    const before = run.state;
    expect(run.apply(input)).toEqual([]);
    expect(run.state).toEqual(before);
    expect(run.last!.changedSteps).toEqual([]);
  });

  it("a duplicate success report is ignored", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }]);
    const report: SagaInput = { type: "stepSucceeded", step: "a", attempt: 1, output: { n: 1 } };
    expect(run.apply(report)).toHaveLength(2);
    const after = run.state;
    expect(run.apply({ ...report, output: { n: 2 } })).toEqual([]);
    expect(run.state).toEqual(after);
    expect(run.step("a").output).toEqual({ n: 1 });
  });

  it("a report of a finished saga is ignored", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }]);
    run.fail("a", { retryable: false });
    run.succeed("b");
    expect(run.state.status).toBe("FAILED");
    expect(run.apply({ type: "stepSucceeded", step: "a", attempt: 1, output: {} })).toEqual([]);
    expect(run.apply({ type: "stepSucceeded", step: "b", attempt: 1, output: {} })).toEqual([]);
  });
});

describe("recover", () => {
  it("emits STEP_RECOVERED for RUNNING steps only, with the attempt unchanged", () => {
    const run = Run.create([{ name: "done" }, { name: "running" }, { name: "waiting" }, { name: "later", dependsOn: ["done", "waiting"] }]);
    run.succeed("done");
    run.fail("running");
    run.apply({ type: "retryDue", step: "running" }); // attempt 2, RUNNING
    run.fail("waiting"); // RETRY_SCHEDULED
    const before = run.state;
    run.now = T0 + 60_000;
    const events = run.apply({ type: "recover" }, "engine");
    expect(brief(events)).toEqual(["STEP_RECOVERED running=RUNNING@2 RUNNING"]);
    expect(run.step("running").attempt).toBe(2);
    // Nothing but the sequence and updatedAt changes: the same attempt is run again.
    expect({ ...run.state, sequence: 0, updatedAt: 0 }).toEqual({ ...before, sequence: 0, updatedAt: 0 });
    expect(run.last!.changedSteps).toEqual([]);
  });

  it("recovers every RUNNING step of a fan-out", () => {
    const run = Run.create(DIAMOND);
    run.succeed("a");
    expect(run.apply({ type: "recover" }).map((e) => [e.type, e.step, e.attempt])).toEqual([
      ["STEP_RECOVERED", "b", 1],
      ["STEP_RECOVERED", "c", 1],
    ]);
  });

  it("emits nothing when nothing is running", () => {
    const run = Run.create([{ name: "a" }]);
    run.fail("a");
    expect(run.apply({ type: "recover" })).toEqual([]);
    run.apply({ type: "retryDue", step: "a" });
    run.succeed("a");
    expect(run.apply({ type: "recover" })).toEqual([]);
  });
});

describe("completedAt", () => {
  it("is set on each resting state and cleared when the saga leaves it", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 1 } }], { maxRetries: 1 });
    expect(run.state.completedAt).toBeNull();
    run.now = T0 + 10;
    run.fail("a");
    expect(run.state).toMatchObject({ status: "FAILED", completedAt: T0 + 10 });
    run.now = T0 + 20;
    run.apply({ type: "retrySaga" }, "RetrySaga");
    expect(run.state).toMatchObject({ status: "RUNNING", completedAt: null });
    run.now = T0 + 30;
    run.fail("a");
    expect(run.state).toMatchObject({ status: "FAILED", completedAt: T0 + 30 });
    run.now = T0 + 40;
    run.apply({ type: "skipStep", step: "a", output: {} }, "SkipStep");
    expect(run.state).toMatchObject({ status: "COMPLETED", completedAt: T0 + 40 });
  });

  it("is not moved by a decision that leaves a resting saga where it is", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 1 } }, { name: "b", retry: { maxAttempts: 1 } }]);
    run.fail("a");
    run.now = T0 + 5;
    run.fail("b");
    expect(run.state.completedAt).toBe(T0 + 5);
    run.now = T0 + 99;
    run.apply({ type: "skipStep", step: "a", output: {} }, "SkipStep"); // b still FAILED: saga stays FAILED
    expect(run.state).toMatchObject({ status: "FAILED", completedAt: T0 + 5, updatedAt: T0 + 99 });
  });
});

describe("purity", () => {
  it("never mutates its (deep-frozen) input, across a whole saga", () => {
    // Run's decideChecked deep-freezes every input state and compares its JSON before and after.
    const run = Run.create(
      [
        { name: "a", compensate: true },
        { name: "b", dependsOn: ["a"], compensate: true },
        { name: "c", dependsOn: ["a"], retry: { maxAttempts: 2 } },
      ],
      { maxRetries: 1 },
    );
    run.succeed("a");
    run.succeed("b");
    run.failForGood("c");
    run.apply({ type: "retrySaga" }, "RetrySaga");
    run.failForGood("c");
    run.apply({ type: "retryStep", step: "c", config: { v: 2 } }, "RetryStep");
    run.failForGood("c");
    run.apply({ type: "rollback" }, "RollbackSaga");
    run.compensationFailsForGood("b");
    run.apply({ type: "rollback" }, "RollbackSaga");
    run.compensated("b");
    run.compensated("a");
    expect(run.state.status).toBe("COMPENSATED");
  });

  it("refused operations leave the frozen input untouched too", () => {
    const state = deepFreeze(pendingSaga(DIAMOND));
    const before = JSON.stringify(state);
    expect(() => decide(state, { type: "retrySaga" }, testEnv())).toThrow();
    expect(() => decide(state, { type: "skipStep", step: "ghost", output: {} }, testEnv())).toThrow();
    expect(JSON.stringify(state)).toBe(before);
  });

  it("is deterministic: the same state and input give the same decision", () => {
    const run = Run.create(DIAMOND);
    const input: SagaInput = { type: "stepSucceeded", step: "a", attempt: 1, output: { x: 1 } };
    const one = decide(run.state, input, testEnv(T0 + 1));
    const two = decide(run.state, input, testEnv(T0 + 1));
    expect(two).toEqual(one);
  });

  it("does not share the mutable parts of the new state with the input", () => {
    const run = Run.create(DIAMOND);
    const before = run.state;
    run.succeed("a");
    expect(run.state).not.toBe(before);
    expect(run.state.steps).not.toBe(before.steps);
    expect(run.state.steps[0]).not.toBe(before.steps[0]);
    expect(before.steps[0]!.status).toBe("RUNNING");
  });
});
