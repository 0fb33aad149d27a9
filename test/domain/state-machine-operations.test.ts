/**
 * `decide` on operator operations that move a held saga forward: RetrySaga, RetryStep, SkipStep,
 * and their refusals (reason, and a message that names the state in the way).
 */
import { describe, expect, it } from "vitest";
import type { SagaStatus } from "../../src/domain/types.js";
import { Run, T0, brief, decideChecked, pendingSaga, sagaStatusChanges, started, testEnv } from "./saga-fixtures.js";

/** a -> b -> c, b fails for good after its 3 attempts; saga FAILED (HOLD). */
function failedChain(maxRetries = 2): Run {
  const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }, { name: "c", dependsOn: ["b"] }], { maxRetries });
  run.succeed("a");
  run.failForGood("b");
  expect(run.state.status).toBe("FAILED");
  return run;
}

/** A saga in `status`, reached through decide (COMPENSATE policy where compensation is needed). */
function sagaIn(status: SagaStatus): Run {
  const hold = status === "RUNNING" || status === "COMPLETED" || status === "FAILED" || status === "CANCELLING" || status === "CANCELLED";
  const run = Run.create([{ name: "a", compensate: true }, { name: "b" }], { failurePolicy: hold ? "HOLD" : "COMPENSATE" });
  run.succeed("a");
  switch (status) {
    case "RUNNING":
      break;
    case "COMPLETED":
      run.succeed("b");
      break;
    case "FAILED":
    case "COMPENSATING":
      run.fail("b", { retryable: false });
      break;
    case "COMPENSATED":
      run.fail("b", { retryable: false });
      run.compensated("a");
      break;
    case "COMPENSATION_FAILED":
      run.fail("b", { retryable: false });
      run.compensationFails("a", false);
      break;
    case "CANCELLING":
      run.apply({ type: "cancel", reason: "" }, "CancelSaga");
      break;
    case "CANCELLED":
      run.apply({ type: "cancel", reason: "" }, "CancelSaga");
      run.fail("b");
      run.compensated("a");
      break;
    case "PENDING":
      throw new Error("use pendingSaga()");
  }
  expect(run.state.status).toBe(status);
  return run;
}

const NOT_FAILED: SagaStatus[] = ["RUNNING", "COMPLETED", "COMPENSATING", "COMPENSATED", "COMPENSATION_FAILED", "CANCELLING", "CANCELLED"];

describe("RetrySaga", () => {
  it("resets the FAILED steps, starts them with a fresh attempt budget, and counts the retry", () => {
    const run = failedChain();
    expect(run.step("b").attempt).toBe(3);
    run.now = T0 + 500;
    const events = run.apply({ type: "retrySaga" }, "RetrySaga");
    // Attempt numbers never repeat within a phase (a target tells a new attempt from a replay);
    // the new round starts after the 3 attempts already made.
    expect(brief(events)).toEqual([
      "SAGA_STATUS_CHANGED RUNNING",
      "STEP_RESET b=PENDING@3 RUNNING",
      "STEP_STARTED b=RUNNING@4 RUNNING",
    ]);
    expect(events.every((e) => e.actor === "RetrySaga" && e.at === T0 + 500)).toBe(true);
    expect(run.state).toMatchObject({ status: "RUNNING", retryCount: 1, error: null, completedAt: null });
    expect(run.step("b")).toMatchObject({ status: "RUNNING", attempt: 4, roundStart: 3, error: null, errorKind: null, completedAt: null });
    expect(run.step("a")).toMatchObject({ status: "COMPLETED", attempt: 1 }); // completed work is kept

    // The reset step gets its full set of attempts again: 4 and 5 are retried, 6 is the last.
    run.fail("b");
    expect(run.step("b")).toMatchObject({ status: "RETRY_SCHEDULED", nextAttemptAt: T0 + 1500 });
    run.apply({ type: "retryDue", step: "b" });
    run.fail("b");
    expect(run.step("b").status).toBe("RETRY_SCHEDULED");
    run.apply({ type: "retryDue", step: "b" });
    expect(run.step("b").attempt).toBe(6);
    run.succeed("b");
    expect(started(run.last!.events)).toEqual(["c"]);
    run.succeed("c");
    expect(run.state.status).toBe("COMPLETED");
  });

  it("a reset round fails after its own maxAttempts, not the step's lifetime total", () => {
    const run = failedChain();
    run.apply({ type: "retrySaga" }, "RetrySaga");
    run.failForGood("b");
    expect(run.step("b")).toMatchObject({ status: "FAILED", attempt: 6, roundStart: 3 });
    expect(run.history.filter((e) => e.type === "STEP_STARTED" && e.step === "b").map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.state.error).toContain("3 attempts");
  });

  it("restarts the backoff with the new round", () => {
    const run = Run.create([{ name: "a", retry: { backoff: "EXPONENTIAL", initialIntervalMs: 100, multiplier: 10, maxAttempts: 3 } }]);
    run.failForGood("a");
    run.apply({ type: "retrySaga" }, "RetrySaga");
    run.now = T0 + 1;
    run.fail("a");
    expect(run.step("a").nextAttemptAt).toBe(T0 + 1 + 100);
    run.apply({ type: "retryDue", step: "a" });
    run.fail("a");
    expect(run.step("a").nextAttemptAt).toBe(T0 + 1 + 1000);
  });

  it("resets and starts every FAILED step", () => {
    const run = Run.create([{ name: "x" }, { name: "y" }, { name: "z" }]);
    run.fail("x", { retryable: false });
    run.succeed("y");
    run.fail("z", { retryable: false });
    expect(run.state.status).toBe("FAILED");
    const events = run.apply({ type: "retrySaga" }, "RetrySaga");
    expect(events.filter((e) => e.type === "STEP_RESET").map((e) => e.step)).toEqual(["x", "z"]);
    expect(started(events)).toEqual(["x", "z"]);
    expect(run.statuses()).toEqual({ x: "RUNNING", y: "COMPLETED", z: "RUNNING" });
  });

  it("makes a retry that was waiting in the FAILED saga due now", () => {
    const run = Run.create([{ name: "x" }, { name: "y" }]);
    run.fail("x", { retryable: false });
    run.now = T0 + 10;
    run.fail("y"); // y waits for T0 + 1010; nothing runs: FAILED
    expect(run.state.status).toBe("FAILED");
    run.now = T0 + 20;
    run.apply({ type: "retrySaga" }, "RetrySaga");
    expect(run.step("y")).toMatchObject({ status: "RETRY_SCHEDULED", nextAttemptAt: T0 + 20 });
    expect(run.last!.changedSteps).toContain(1);
    expect(started(run.apply({ type: "retryDue", step: "y" }))).toEqual(["y"]);
  });

  it("refuses with RETRY_LIMIT_REACHED once retryCount == maxRetries", () => {
    const run = failedChain(2);
    run.apply({ type: "retrySaga" }, "RetrySaga");
    run.failForGood("b");
    run.apply({ type: "retrySaga" }, "RetrySaga");
    run.failForGood("b");
    expect(run.state).toMatchObject({ status: "FAILED", retryCount: 2, maxRetries: 2 });
    const err = run.refuse({ type: "retrySaga" }, "RETRY_LIMIT_REACHED");
    expect(err.message).toContain("2");
    // Other operations still apply.
    expect(run.apply({ type: "skipStep", step: "b", output: {} }, "SkipStep").length).toBeGreaterThan(0);
  });

  it("refuses at once when maxRetries is 0", () => {
    const run = failedChain(0);
    run.refuse({ type: "retrySaga" }, "RETRY_LIMIT_REACHED");
  });

  it.each(NOT_FAILED)("is refused with FAILED_PRECONDITION in %s, naming the state", (status) => {
    const run = sagaIn(status);
    const err = run.refuse({ type: "retrySaga" }, "FAILED_PRECONDITION");
    expect(err.message).toContain(status);
    expect(err.metadata.state).toBe(status);
  });

  it("is refused with FAILED_PRECONDITION in PENDING", () => {
    const run = new Run(pendingSaga([{ name: "a" }]));
    expect(run.refuse({ type: "retrySaga" }, "FAILED_PRECONDITION").message).toContain("PENDING");
  });

  it("checks the state before the retry budget (a RUNNING saga out of retries is FAILED_PRECONDITION)", () => {
    const run = Run.create([{ name: "a" }], { maxRetries: 0 });
    run.refuse({ type: "retrySaga" }, "FAILED_PRECONDITION");
  });
});

describe("RetryStep", () => {
  it("with a new config replaces the config and starts the step at once, even with another step FAILED", () => {
    const run = Run.create([{ name: "a", config: { amount: 1 } }, { name: "b" }, { name: "after-a", dependsOn: ["a"] }]);
    run.fail("a", { retryable: false });
    run.fail("b", { retryable: false });
    expect(run.state.status).toBe("FAILED");
    const retryCount = run.state.retryCount;

    run.now = T0 + 30;
    const events = run.apply({ type: "retryStep", step: "a", config: { amount: 2 } }, "RetryStep");
    expect(brief(events)).toEqual([
      "STEP_RESET a=FAILED@1 FAILED",
      "SAGA_STATUS_CHANGED RUNNING",
      "STEP_STARTED a=RUNNING@2 RUNNING",
    ]);
    expect(run.step("a")).toMatchObject({ status: "RUNNING", attempt: 2, roundStart: 1, config: { amount: 2 }, error: null, completedAt: null });
    expect(run.step("b").status).toBe("FAILED");
    expect(run.state).toMatchObject({ status: "RUNNING", completedAt: null, retryCount });

    // b is still FAILED: when a ends the saga is FAILED again and a's dependent does not start.
    run.now = T0 + 40;
    const done = run.succeed("a");
    expect(brief(done)).toEqual(["STEP_COMPLETED a=COMPLETED@2 RUNNING", "SAGA_STATUS_CHANGED FAILED"]);
    expect(run.step("after-a").status).toBe("PENDING");
    expect(run.state.completedAt).toBe(T0 + 40);

    // Retrying b without a config keeps its config, and now the dependent of a starts too.
    const bConfig = run.step("b").config;
    const retryB = run.apply({ type: "retryStep", step: "b", config: null }, "RetryStep");
    expect(started(retryB)).toEqual(["b", "after-a"]);
    expect(run.step("b").config).toEqual(bConfig);
  });

  it("a saga that returns to FAILED still says why (the other FAILED step's error)", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }]);
    run.fail("a", { retryable: false, error: "card declined" });
    run.fail("b", { retryable: false, error: "warehouse offline" });
    expect(run.state.error).toContain("warehouse offline");
    run.apply({ type: "retryStep", step: "a", config: null }, "RetryStep");
    run.succeed("a");
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).not.toBeNull();
    expect(run.state.error).toContain("b");
    expect(run.state.error).toContain("warehouse offline");
  });

  it("gives the step its full retry policy again, numbering attempts on from the last", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 2 } }]);
    run.failForGood("a");
    run.apply({ type: "retryStep", step: "a", config: null }, "RetryStep");
    expect(run.step("a").attempt).toBe(3);
    expect(run.fail("a")[0]!.type).toBe("STEP_RETRY_SCHEDULED");
    run.apply({ type: "retryDue", step: "a" });
    expect(run.fail("a")[0]!.type).toBe("STEP_FAILED");
    expect(run.step("a").attempt).toBe(4);
  });

  it("refuses a step that is not FAILED, naming the step's state", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }, { name: "c", dependsOn: ["a"] }]);
    run.succeed("a");
    run.fail("b", { retryable: false });
    run.succeed("c");
    expect(run.state.status).toBe("FAILED");
    const err = run.refuse({ type: "retryStep", step: "a", config: null }, "FAILED_PRECONDITION");
    expect(err.message).toContain("COMPLETED");
    expect(err.message).toContain("a");
    expect(err.metadata.state).toBe("COMPLETED");
  });

  it("refuses an unknown step with NOT_FOUND", () => {
    const run = failedChain();
    const err = run.refuse({ type: "retryStep", step: "nope", config: null }, "NOT_FOUND");
    expect(err.message).toContain("nope");
  });

  it.each(NOT_FAILED)("is refused in a %s saga, naming the saga's state", (status) => {
    const run = sagaIn(status);
    const err = run.refuse({ type: "retryStep", step: "b", config: null }, "FAILED_PRECONDITION");
    expect(err.message).toContain(status);
  });
});

describe("reports from an earlier round", () => {
  it("after RetrySaga, a late report of the failed round's attempt is ignored", () => {
    const run = failedChain();
    run.apply({ type: "retrySaga" }, "RetrySaga");
    for (const attempt of [1, 2, 3]) {
      expect(run.apply({ type: "stepSucceeded", step: "b", attempt, output: { stale: true } }), `attempt ${attempt}`).toEqual([]);
    }
    expect(run.step("b")).toMatchObject({ status: "RUNNING", attempt: 4 });
  });

  it("after RetryStep, a late failure of the previous attempt is ignored", () => {
    const run = Run.create([{ name: "a" }]);
    run.fail("a", { retryable: false });
    run.apply({ type: "retryStep", step: "a", config: null }, "RetryStep");
    const late = run.apply({ type: "stepFailed", step: "a", attempt: 1, error: "late", errorKind: "X", retryable: false });
    expect(late).toEqual([]);
    expect(run.step("a").status).toBe("RUNNING");
  });

  it("after RollbackSaga, a late result of the given-up compensation attempt is ignored", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"] }], { failurePolicy: "COMPENSATE" });
    run.succeed("a");
    run.fail("b", { retryable: false });
    run.compensationFailsForGood("a");
    run.apply({ type: "rollback" }, "RollbackSaga");
    expect(run.apply({ type: "compensationSucceeded", step: "a", attempt: 2 })).toEqual([]);
    expect(run.apply({ type: "compensationSucceeded", step: "a", attempt: 1 })).toEqual([]);
    expect(run.step("a")).toMatchObject({ status: "COMPENSATING", attempt: 3 });
    run.compensated("a");
    expect(run.state.status).toBe("COMPENSATED");
  });
});

describe("SkipStep", () => {
  it("skips a FAILED step with the given output; its dependents start and the saga runs on", () => {
    const run = failedChain();
    run.now = T0 + 77;
    const events = run.apply({ type: "skipStep", step: "b", output: { manual: true } }, "SkipStep");
    expect(brief(events)).toEqual([
      "STEP_SKIPPED b=SKIPPED@3 FAILED",
      "SAGA_STATUS_CHANGED RUNNING",
      "STEP_STARTED c=RUNNING@1 RUNNING",
    ]);
    expect(events[0]!.output).toEqual({ manual: true });
    expect(run.step("b")).toMatchObject({ status: "SKIPPED", output: { manual: true }, completedAt: T0 + 77 });
    expect(run.state).toMatchObject({ status: "RUNNING", error: null, completedAt: null });
    run.succeed("c");
    expect(run.state.status).toBe("COMPLETED");
  });

  it("skipping the last FAILED step of an otherwise finished saga completes it", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }]);
    run.succeed("a");
    run.fail("b", { retryable: false });
    expect(sagaStatusChanges(run.apply({ type: "skipStep", step: "b", output: {} }, "SkipStep"))).toEqual(["RUNNING", "COMPLETED"]);
  });

  it("leaves the saga FAILED while another step is still FAILED", () => {
    const run = Run.create([{ name: "a" }, { name: "b" }, { name: "c", dependsOn: ["a"] }]);
    run.fail("a", { retryable: false });
    run.fail("b", { retryable: false });
    const events = run.apply({ type: "skipStep", step: "a", output: {} }, "SkipStep");
    expect(brief(events)).toEqual(["STEP_SKIPPED a=SKIPPED@1 FAILED"]);
    expect(run.step("c").status).toBe("PENDING");
    expect(run.state.status).toBe("FAILED");
  });

  it("skips a PENDING step of a RUNNING saga; its dependents treat it as done but still wait for its upstream", () => {
    // c reads {{steps.a.output}} through b (allowed: a is a transitive dependency). Skipping b
    // while a still runs must not start c before a is done: c would run out of DAG order and
    // its template would find no output of a.
    const run = Run.create([
      { name: "a" },
      { name: "b", dependsOn: ["a"] },
      { name: "c", dependsOn: ["b"], config: { id: "{{steps.a.output.id}}" } },
      { name: "d", dependsOn: ["a", "b"] },
    ]);
    const events = run.apply({ type: "skipStep", step: "b", output: { stub: 1 } }, "SkipStep");
    expect(brief(events)).toEqual(["STEP_SKIPPED b=SKIPPED@0 RUNNING"]);
    expect(run.statuses()).toEqual({ a: "RUNNING", b: "SKIPPED", c: "PENDING", d: "PENDING" });
    expect(started(run.succeed("a", { id: "A" }))).toEqual(["c", "d"]);
    run.succeed("c");
    run.succeed("d");
    expect(run.state.status).toBe("COMPLETED");
    expect(run.step("b")).toMatchObject({ status: "SKIPPED", attempt: 0, output: { stub: 1 } });
  });

  it("skips a step waiting for its retry: the retry never happens", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }]);
    run.fail("a");
    const events = run.apply({ type: "skipStep", step: "a", output: {} }, "SkipStep");
    expect(brief(events)).toEqual(["STEP_SKIPPED a=SKIPPED@1 RUNNING", "STEP_STARTED b=RUNNING@1 RUNNING"]);
    expect(run.step("a").nextAttemptAt).toBeNull();
    expect(run.apply({ type: "retryDue", step: "a" })).toEqual([]);
  });

  it("a SKIPPED step is never compensated", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"], compensate: true }, { name: "c", dependsOn: ["b"] }]);
    run.succeed("a");
    run.fail("b", { retryable: false });
    run.apply({ type: "skipStep", step: "b", output: {} }, "SkipStep");
    run.fail("c", { retryable: false });
    run.apply({ type: "rollback" }, "RollbackSaga");
    expect(run.step("b").status).toBe("SKIPPED");
    run.compensated("a");
    expect(run.state.status).toBe("COMPENSATED");
    expect(run.history.filter((e) => e.type === "COMPENSATION_STARTED").map((e) => e.step)).toEqual(["a"]);
  });

  it("refuses a COMPLETED step with FAILED_PRECONDITION naming the step state", () => {
    const run = failedChain();
    const err = run.refuse({ type: "skipStep", step: "a", output: {} }, "FAILED_PRECONDITION");
    expect(err.message).toContain("COMPLETED");
    expect(err.message).toContain("a");
    expect(err.metadata.state).toBe("COMPLETED");
  });

  it("refuses a RUNNING step", () => {
    const run = Run.create([{ name: "a" }]);
    const err = run.refuse({ type: "skipStep", step: "a", output: {} }, "FAILED_PRECONDITION");
    expect(err.message).toContain("RUNNING");
    expect(err.metadata.state).toBe("RUNNING");
  });

  it("refuses an unknown step with NOT_FOUND", () => {
    const run = failedChain();
    const err = run.refuse({ type: "skipStep", step: "ghost", output: {} }, "NOT_FOUND");
    expect(err.message).toContain("ghost");
  });

  it.each<SagaStatus>(["COMPLETED", "COMPENSATING", "COMPENSATED", "COMPENSATION_FAILED", "CANCELLING", "CANCELLED"])(
    "is refused in a %s saga, naming the saga's state",
    (status) => {
      const run = sagaIn(status);
      const err = run.refuse({ type: "skipStep", step: "b", output: {} }, "FAILED_PRECONDITION");
      expect(err.message).toContain(status);
    },
  );

  it("applies to a PENDING saga, which then starts without the skipped step", () => {
    const d1 = decideChecked(pendingSaga([{ name: "a" }, { name: "b", dependsOn: ["a"] }]), { type: "skipStep", step: "a", output: {} }, testEnv(T0, "SkipStep"));
    expect(brief(d1.events)).toEqual(["STEP_SKIPPED a=SKIPPED@0 PENDING"]);
    const d2 = decideChecked(d1.state, { type: "advance" }, testEnv());
    expect(brief(d2.events)).toEqual(["SAGA_STATUS_CHANGED RUNNING", "STEP_STARTED b=RUNNING@1 RUNNING"]);
  });
});
