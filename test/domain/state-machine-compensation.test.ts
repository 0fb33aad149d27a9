/**
 * `decide` undoing work: the COMPENSATE policy, reverse dependency order, compensation retries and
 * failures, RollbackSaga and CancelSaga.
 */
import { describe, expect, it } from "vitest";
import type { SagaStatus } from "../../src/domain/types.js";
import {
  Run,
  T0,
  brief,
  compensationsStarted,
  decideChecked,
  pendingSaga,
  retryPolicy,
  sagaStatusChanges,
  testEnv,
  type StepDef,
} from "./saga-fixtures.js";

/** a -> b -> c -> d; a, b, c can be undone; d is the one that fails. */
const CHAIN: StepDef[] = [
  { name: "a", compensate: true },
  { name: "b", dependsOn: ["a"], compensate: true },
  { name: "c", dependsOn: ["b"], compensate: true },
  { name: "d", dependsOn: ["c"] },
];

/** root -> left, right -> join; join is the one that fails. */
const FORK: StepDef[] = [
  { name: "root", compensate: true },
  { name: "left", dependsOn: ["root"], compensate: true },
  { name: "right", dependsOn: ["root"], compensate: true },
  { name: "join", dependsOn: ["left", "right"] },
];

function completeChainUpTo(run: Run, names: string[]): void {
  for (const n of names) run.succeed(n);
}

describe("failure policy COMPENSATE", () => {
  it("goes to COMPENSATING and undoes a chain in reverse order: c, then b, then a", () => {
    const run = Run.create(CHAIN, { failurePolicy: "COMPENSATE" });
    completeChainUpTo(run, ["a", "b", "c"]);
    run.now = T0 + 10;
    const failed = run.fail("d", { retryable: false });
    expect(brief(failed)).toEqual([
      "STEP_FAILED d=FAILED@1 RUNNING",
      "SAGA_STATUS_CHANGED COMPENSATING",
      "COMPENSATION_STARTED c=COMPENSATING@1 COMPENSATING",
    ]);
    expect(run.state.completedAt).toBeNull();

    expect(brief(run.compensated("c"))).toEqual([
      "COMPENSATION_COMPLETED c=COMPENSATED@1 COMPENSATING",
      "COMPENSATION_STARTED b=COMPENSATING@1 COMPENSATING",
    ]);
    expect(compensationsStarted(run.compensated("b"))).toEqual(["a"]);
    run.now = T0 + 20;
    expect(brief(run.compensated("a"))).toEqual([
      "COMPENSATION_COMPLETED a=COMPENSATED@1 COMPENSATING",
      "SAGA_STATUS_CHANGED COMPENSATED",
    ]);
    expect(run.statuses()).toEqual({ a: "COMPENSATED", b: "COMPENSATED", c: "COMPENSATED", d: "FAILED" });
    expect(run.state.completedAt).toBe(T0 + 20);
    expect(compensationsStarted(run.history)).toEqual(["c", "b", "a"]);
    expect(sagaStatusChanges(run.history)).toEqual(["RUNNING", "COMPENSATING", "COMPENSATED"]);
  });

  it("a middle step without a compensation does not let its upstream compensate early", () => {
    const run = Run.create(
      [
        { name: "a", compensate: true },
        { name: "b", dependsOn: ["a"] },
        { name: "c", dependsOn: ["b"], compensate: true },
        { name: "d", dependsOn: ["c"] },
      ],
      { failurePolicy: "COMPENSATE" },
    );
    completeChainUpTo(run, ["a", "b", "c"]);
    expect(compensationsStarted(run.fail("d", { retryable: false }))).toEqual(["c"]);
    expect(run.step("a").status).toBe("COMPLETED");
    expect(compensationsStarted(run.compensated("c"))).toEqual(["a"]);
    run.compensated("a");
    // b had nothing to undo: it stays COMPLETED and the saga is COMPENSATED.
    expect(run.statuses()).toEqual({ a: "COMPENSATED", b: "COMPLETED", c: "COMPENSATED", d: "FAILED" });
    expect(run.state.status).toBe("COMPENSATED");
  });

  it("parallel branches compensate together, their common upstream after both", () => {
    const run = Run.create(FORK, { failurePolicy: "COMPENSATE" });
    run.succeed("root");
    run.succeed("left");
    run.succeed("right");
    expect(compensationsStarted(run.fail("join", { retryable: false }))).toEqual(["left", "right"]);
    expect(run.last!.changedSteps).toEqual([1, 2, 3]);
    expect(compensationsStarted(run.compensated("right"))).toEqual([]);
    expect(run.step("root").status).toBe("COMPLETED");
    expect(compensationsStarted(run.compensated("left"))).toEqual(["root"]);
    run.compensated("root");
    expect(run.state.status).toBe("COMPENSATED");
  });

  it("waits for running siblings before compensating, and compensates what they completed", () => {
    const run = Run.create(
      [
        { name: "x", compensate: true },
        { name: "y", compensate: true },
        { name: "z", compensate: true },
      ],
      { failurePolicy: "COMPENSATE" },
    );
    run.succeed("x");
    expect(brief(run.fail("y", { retryable: false }))).toEqual(["STEP_FAILED y=FAILED@1 RUNNING"]);
    expect(run.state.status).toBe("RUNNING");
    expect(run.step("x").status).toBe("COMPLETED");
    const events = run.succeed("z");
    expect(sagaStatusChanges(events)).toEqual(["COMPENSATING"]);
    expect(compensationsStarted(events)).toEqual(["x", "z"]);
    expect(run.step("y").status).toBe("FAILED"); // a FAILED step is never compensated
  });

  it("abandons scheduled retries when compensation begins", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b" }, { name: "c" }], { failurePolicy: "COMPENSATE" });
    run.succeed("a");
    run.fail("b"); // RETRY_SCHEDULED
    const events = run.fail("c", { retryable: false });
    expect(brief(events)).toEqual([
      "STEP_FAILED c=FAILED@1 RUNNING",
      "SAGA_STATUS_CHANGED COMPENSATING",
      "STEP_CANCELLED b=CANCELLED@1 COMPENSATING",
      "COMPENSATION_STARTED a=COMPENSATING@1 COMPENSATING",
    ]);
    expect(run.step("b").nextAttemptAt).toBeNull();
    expect(run.apply({ type: "retryDue", step: "b" })).toEqual([]);
  });

  it("with nothing to undo, goes straight to COMPENSATED", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }], { failurePolicy: "COMPENSATE" });
    run.succeed("a");
    expect(sagaStatusChanges(run.fail("b", { retryable: false }))).toEqual(["COMPENSATING", "COMPENSATED"]);
  });
});

describe("compensation retries and failures", () => {
  it("a retryable compensation failure waits for its backoff, then retryDue runs attempt 2", () => {
    const run = Run.create(CHAIN, { failurePolicy: "COMPENSATE" });
    completeChainUpTo(run, ["a", "b", "c"]);
    run.fail("d", { retryable: false });
    run.now = T0 + 100;
    const events = run.compensationFails("c");
    expect(brief(events)).toEqual(["COMPENSATION_RETRY_SCHEDULED c=COMPENSATING@1 COMPENSATING"]);
    expect(events[0]).toMatchObject({ nextAttemptAt: T0 + 600, error: "undo c broke", errorKind: "UNAVAILABLE" });
    expect(run.step("c")).toMatchObject({ status: "COMPENSATING", attempt: 1, nextAttemptAt: T0 + 600 });

    // While it waits, a late report of attempt 1 changes nothing; recovery does not rerun it.
    expect(run.apply({ type: "compensationSucceeded", step: "c", attempt: 1 })).toEqual([]);
    expect(run.apply({ type: "recover" })).toEqual([]);

    expect(brief(run.apply({ type: "retryDue", step: "c" }))).toEqual(["COMPENSATION_STARTED c=COMPENSATING@2 COMPENSATING"]);
    expect(run.step("c").nextAttemptAt).toBeNull();
    // An in-flight compensation is recovered after a takeover.
    expect(brief(run.apply({ type: "recover" }))).toEqual(["STEP_RECOVERED c=COMPENSATING@2 COMPENSATING"]);
    expect(compensationsStarted(run.compensated("c"))).toEqual(["b"]);
  });

  it("a non-retryable compensation failure gives up at once", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"] }], { failurePolicy: "COMPENSATE" });
    run.succeed("a");
    run.fail("b", { retryable: false });
    expect(brief(run.compensationFails("a", false))).toEqual([
      "COMPENSATION_FAILED a=COMPENSATION_FAILED@1 COMPENSATING",
      "SAGA_STATUS_CHANGED COMPENSATION_FAILED",
    ]);
    expect(run.state.error).toContain("a");
  });

  it("nonRetryableErrors of the compensation's policy apply to compensation failures", () => {
    const run = Run.create(
      [
        { name: "a", compensate: { retryPolicy: retryPolicy({ maxAttempts: 5, nonRetryableErrors: ["GONE"] }) } },
        { name: "b", dependsOn: ["a"] },
      ],
      { failurePolicy: "COMPENSATE" },
    );
    run.succeed("a");
    run.fail("b", { retryable: false });
    run.apply({ type: "compensationFailed", step: "a", attempt: 1, error: "gone", errorKind: "GONE", retryable: true });
    expect(run.step("a").status).toBe("COMPENSATION_FAILED");
  });

  it("a compensation failing for good: step COMPENSATION_FAILED, saga only once the other branches finished", () => {
    const run = Run.create(FORK, { failurePolicy: "COMPENSATE" });
    run.succeed("root");
    run.succeed("left");
    run.succeed("right");
    run.fail("join", { retryable: false });
    expect(run.step("left").compensate!.retryPolicy.maxAttempts).toBe(2);

    run.compensationFails("left");
    run.apply({ type: "retryDue", step: "left" });
    const gaveUp = run.compensationFails("left");
    expect(brief(gaveUp)).toEqual(["COMPENSATION_FAILED left=COMPENSATION_FAILED@2 COMPENSATING"]);
    expect(run.state.status).toBe("COMPENSATING"); // right is still compensating
    expect(run.state.completedAt).toBeNull();

    run.now = T0 + 70;
    const rightDone = run.compensated("right");
    // root stays COMPLETED: a branch below it could not be undone.
    expect(brief(rightDone)).toEqual([
      "COMPENSATION_COMPLETED right=COMPENSATED@1 COMPENSATING",
      "SAGA_STATUS_CHANGED COMPENSATION_FAILED",
    ]);
    expect(run.statuses()).toEqual({ root: "COMPLETED", left: "COMPENSATION_FAILED", right: "COMPENSATED", join: "FAILED" });
    expect(run.state.completedAt).toBe(T0 + 70);
    expect(run.state.error).toContain("left");
  });

  it("rollback from COMPENSATION_FAILED resets those steps and compensates again to COMPENSATED", () => {
    const run = Run.create(FORK, { failurePolicy: "COMPENSATE" });
    run.succeed("root");
    run.succeed("left");
    run.succeed("right");
    run.fail("join", { retryable: false });
    run.compensationFailsForGood("left");
    run.compensated("right");
    expect(run.state.status).toBe("COMPENSATION_FAILED");

    run.now = T0 + 1000;
    const events = run.apply({ type: "rollback" }, "RollbackSaga");
    // left retries in place, with a fresh budget; its attempt numbers go on from the last one.
    expect(brief(events)).toEqual([
      "SAGA_STATUS_CHANGED COMPENSATING",
      "STEP_RESET left=COMPENSATING@2 COMPENSATING",
      "COMPENSATION_STARTED left=COMPENSATING@3 COMPENSATING",
    ]);
    expect(events.every((e) => e.actor === "RollbackSaga")).toBe(true);
    expect(run.state).toMatchObject({ status: "COMPENSATING", error: null, completedAt: null });
    expect(run.step("left")).toMatchObject({ error: null, errorKind: null, attempt: 3, roundStart: 2 });
    // A fresh budget: attempt 3 may fail once more and still be retried.
    expect(run.compensationFails("left")[0]!.type).toBe("COMPENSATION_RETRY_SCHEDULED");
    run.apply({ type: "retryDue", step: "left" });
    // The already compensated branch is not undone twice.
    expect(run.step("right").status).toBe("COMPENSATED");

    expect(compensationsStarted(run.compensated("left"))).toEqual(["root"]);
    run.compensated("root");
    expect(run.state.status).toBe("COMPENSATED");
  });
});

describe("RollbackSaga", () => {
  it("compensates a FAILED (HOLD) saga in reverse order", () => {
    const run = Run.create(CHAIN);
    completeChainUpTo(run, ["a", "b", "c"]);
    run.failForGood("d");
    expect(run.state.status).toBe("FAILED");
    expect(compensationsStarted(run.history)).toEqual([]);

    const events = run.apply({ type: "rollback" }, "RollbackSaga");
    expect(brief(events)).toEqual(["SAGA_STATUS_CHANGED COMPENSATING", "COMPENSATION_STARTED c=COMPENSATING@1 COMPENSATING"]);
    expect(run.state.error).toBeNull();
    run.compensated("c");
    run.compensated("b");
    run.compensated("a");
    expect(run.state.status).toBe("COMPENSATED");
    expect(compensationsStarted(run.history)).toEqual(["c", "b", "a"]);
  });

  it("abandons a retry that was waiting in the FAILED saga", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b" }, { name: "c", dependsOn: ["a"] }]);
    run.fail("b", { retryable: false });
    run.fail("a"); // a RETRY_SCHEDULED; nothing runs: saga FAILED
    expect(run.state.status).toBe("FAILED");
    const events = run.apply({ type: "rollback" }, "RollbackSaga");
    expect(brief(events)).toEqual([
      "SAGA_STATUS_CHANGED COMPENSATING",
      "STEP_CANCELLED a=CANCELLED@1 COMPENSATING",
      "SAGA_STATUS_CHANGED COMPENSATED",
    ]);
  });

  it.each<SagaStatus>(["RUNNING", "COMPLETED", "COMPENSATED"])("is refused in %s, naming the state", (status) => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"] }], { failurePolicy: "COMPENSATE" });
    if (status !== "RUNNING") run.succeed("a");
    if (status === "COMPLETED") run.succeed("b");
    if (status === "COMPENSATED") {
      run.fail("b", { retryable: false });
      run.compensated("a");
    }
    expect(run.state.status).toBe(status);
    const err = run.refuse({ type: "rollback" }, "FAILED_PRECONDITION");
    expect(err.message).toContain(status);
  });
});

describe("CancelSaga", () => {
  it("while a step runs: CANCELLING, the aborted attempt is CANCELLED, then completed steps compensate → CANCELLED", () => {
    const run = Run.create([
      { name: "a", compensate: true },
      { name: "b", compensate: true },
      { name: "c", dependsOn: ["a", "b"], compensate: true },
    ]);
    run.succeed("a");
    run.now = T0 + 5;
    const cancelled = run.apply({ type: "cancel", reason: "customer changed their mind" }, "CancelSaga");
    expect(brief(cancelled)).toEqual(["SAGA_STATUS_CHANGED CANCELLING"]);
    expect(run.state).toMatchObject({ status: "CANCELLING", cancelRequested: true, completedAt: null });
    expect(run.state.error).toContain("customer changed their mind");
    // Compensation waits for the aborted attempt to report.
    expect(run.step("a").status).toBe("COMPLETED");
    expect(run.step("b").status).toBe("RUNNING");

    const aborted = run.fail("b", { error: "aborted", errorKind: "CANCELLED", retryable: true });
    expect(brief(aborted)).toEqual([
      "STEP_CANCELLED b=CANCELLED@1 CANCELLING",
      "COMPENSATION_STARTED a=COMPENSATING@1 CANCELLING",
    ]);
    expect(run.step("b").nextAttemptAt).toBeNull();

    run.now = T0 + 9;
    expect(brief(run.compensated("a"))).toEqual([
      "COMPENSATION_COMPLETED a=COMPENSATED@1 CANCELLING",
      "SAGA_STATUS_CHANGED CANCELLED",
    ]);
    expect(run.statuses()).toEqual({ a: "COMPENSATED", b: "CANCELLED", c: "PENDING" });
    expect(run.state.completedAt).toBe(T0 + 9);
  });

  it("a running step that still succeeds after the cancel is compensated too", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", compensate: true }, { name: "c", dependsOn: ["a", "b"] }]);
    run.succeed("a");
    run.apply({ type: "cancel", reason: "" }, "CancelSaga");
    expect(run.state.error).toBe("cancelled");
    const events = run.succeed("b");
    expect(compensationsStarted(events)).toEqual(["a", "b"]);
    expect(run.step("c").status).toBe("PENDING"); // nothing new starts
    run.compensated("a");
    run.compensated("b");
    expect(run.state.status).toBe("CANCELLED");
  });

  it("cancels a scheduled retry at once", () => {
    const run = Run.create([{ name: "a" }]);
    run.fail("a");
    const events = run.apply({ type: "cancel", reason: "stop" }, "CancelSaga");
    expect(brief(events)).toEqual([
      "SAGA_STATUS_CHANGED CANCELLING",
      "STEP_CANCELLED a=CANCELLED@1 CANCELLING",
      "SAGA_STATUS_CHANGED CANCELLED",
    ]);
    expect(run.apply({ type: "retryDue", step: "a" })).toEqual([]);
  });

  it("a PENDING saga is cancelled without starting anything", () => {
    const d = decideChecked(pendingSaga(CHAIN), { type: "cancel", reason: "x" }, testEnv(T0 + 3, "CancelSaga"));
    expect(brief(d.events)).toEqual(["SAGA_STATUS_CHANGED CANCELLING", "SAGA_STATUS_CHANGED CANCELLED"]);
    expect(d.state.steps.every((s) => s.status === "PENDING")).toBe(true);
    expect(d.state.completedAt).toBe(T0 + 3);
  });

  it("cancel of a FAILED saga compensates its completed steps and ends CANCELLED", () => {
    const run = Run.create(CHAIN);
    completeChainUpTo(run, ["a", "b", "c"]);
    run.failForGood("d");
    expect(run.state.completedAt).not.toBeNull();
    const events = run.apply({ type: "cancel", reason: "give up" }, "CancelSaga");
    expect(brief(events)).toEqual(["SAGA_STATUS_CHANGED CANCELLING", "COMPENSATION_STARTED c=COMPENSATING@1 CANCELLING"]);
    expect(run.state.completedAt).toBeNull();
    run.compensated("c");
    run.compensated("b");
    run.compensated("a");
    expect(run.state.status).toBe("CANCELLED");
    expect(compensationsStarted(run.history)).toEqual(["c", "b", "a"]);
    expect(run.step("d").status).toBe("FAILED");
  });

  it("a compensation failing during cancel ends COMPENSATION_FAILED; rollback then finishes as CANCELLED", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"] }]);
    run.succeed("a");
    run.apply({ type: "cancel", reason: "stop" }, "CancelSaga");
    run.fail("b", { error: "aborted" });
    run.compensationFailsForGood("a");
    expect(run.state.status).toBe("COMPENSATION_FAILED");
    run.apply({ type: "rollback" }, "RollbackSaga");
    expect(run.state.status).toBe("COMPENSATING");
    expect(sagaStatusChanges(run.compensated("a"))).toEqual(["CANCELLED"]);
  });

  it("is refused in COMPLETED, naming the state", () => {
    const run = Run.create([{ name: "a" }]);
    run.succeed("a");
    expect(run.state.status).toBe("COMPLETED");
    const err = run.refuse({ type: "cancel", reason: "late" }, "FAILED_PRECONDITION");
    expect(err.message).toContain("COMPLETED");
    expect(err.metadata.state).toBe("COMPLETED");
  });

  it.each<SagaStatus>(["COMPENSATING", "CANCELLING", "CANCELLED", "COMPENSATION_FAILED", "COMPENSATED"])(
    "is refused in %s",
    (status) => {
      const run = Run.create([{ name: "a", compensate: true }, { name: "b" }], { failurePolicy: "COMPENSATE" });
      run.succeed("a");
      if (status === "CANCELLING" || status === "CANCELLED") {
        run.apply({ type: "cancel", reason: "" }, "CancelSaga");
        if (status === "CANCELLED") {
          run.fail("b");
          run.compensated("a");
        }
      } else {
        run.fail("b", { retryable: false });
        if (status === "COMPENSATED") run.compensated("a");
        if (status === "COMPENSATION_FAILED") run.compensationFails("a", false);
      }
      expect(run.state.status).toBe(status);
      const err = run.refuse({ type: "cancel", reason: "again" }, "FAILED_PRECONDITION");
      expect(err.message).toContain(status);
    },
  );
});
