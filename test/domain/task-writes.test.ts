/** Which task rows a decided transition writes, and the state machine's inputs for worker tasks. */
import { describe, expect, it } from "vitest";
import { NO_TASK_WRITES, taskWrites, type RecordedResult } from "../../src/domain/task-writes.js";
import type { SagaInput } from "../../src/domain/state-machine.js";
import { decide } from "../../src/domain/state-machine.js";
import { Run, T0, brief, pendingSaga, testEnv } from "./saga-fixtures.js";

const workers = (a: string): boolean => a === "noop" || a === "undo";
const none = () => false;

/** Applies `input` to the run and returns the task writes of that transition. */
function step(run: Run, input: SagaInput, recorded: RecordedResult | null = null, isWorker = workers) {
  const before = run.state;
  run.apply(input);
  return taskWrites(before, run.state, run.last!.changedSteps, isWorker, recorded);
}

describe("taskWrites", () => {
  it("opens a task for each worker action's attempt that starts, with its policy's limits", () => {
    const pending = pendingSaga([{ name: "a", retry: { timeoutMs: 5_000, heartbeatTimeoutMs: 900, scheduleToStartMs: 300 } }]);
    const started = decide(pending, { type: "advance" }, testEnv());
    const created = taskWrites(pending, started.state, started.changedSteps, workers);
    expect(created.open).toEqual([{ stepIdx: 0, phase: "action", attempt: 1, step: "a", action: "noop", timeoutMs: 5_000, heartbeatMs: 900, scheduleMs: 300 }]);
    expect(created.close).toEqual([]);
    expect(created.cancel).toBeNull();
  });

  it("a result closes its task with what was recorded, and the next steps open theirs", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }, { name: "c", dependsOn: ["a"] }]);
    const recorded: RecordedResult = { key: { stepIdx: 0, phase: "action", attempt: 1 }, result: "succeeded", digest: "d1" };
    const w = step(run, { type: "stepSucceeded", step: "a", attempt: 1, output: {} }, recorded);
    expect(w.close).toEqual([{ stepIdx: 0, phase: "action", attempt: 1, result: "succeeded", digest: "d1" }]);
    expect(w.open.map((o) => [o.step, o.attempt])).toEqual([["b", 1], ["c", 1]]);
  });

  it("a task whose attempt ends by another hand is closed as superseded; a retry opens the next attempt", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 2 } }]);
    const failed = step(run, { type: "stepFailed", step: "a", attempt: 1, error: "x", errorKind: "TIMEOUT", retryable: true });
    expect(failed.close).toEqual([{ stepIdx: 0, phase: "action", attempt: 1, result: "superseded", digest: null }]);
    expect(failed.open).toEqual([]);
    const retried = step(run, { type: "retryDue", step: "a" });
    expect(retried.open.map((o) => [o.phase, o.attempt])).toEqual([["action", 2]]);
  });

  it("a compensation on a worker opens a compensate task with the compensation's policy", () => {
    const run = Run.create([{ name: "a", compensate: true }, { name: "b", dependsOn: ["a"] }], { failurePolicy: "COMPENSATE" });
    run.succeed("a");
    run.fail("b", { retryable: false });
    expect(run.step("a").status).toBe("COMPENSATING");
    const before = { ...run.state, status: "RUNNING" as const, steps: run.state.steps.map((s) => (s.name === "a" ? { ...s, status: "COMPLETED" as const, attempt: 1 } : s)) };
    const w = taskWrites(before, run.state, [0], workers);
    expect(w.open).toEqual([{ stepIdx: 0, phase: "compensate", attempt: 1, step: "a", action: "undo", timeoutMs: 0, heartbeatMs: 0, scheduleMs: 0 }]);
  });

  it("a cancel asks every open task to stop, and changes no task otherwise", () => {
    const run = Run.create([{ name: "a" }]);
    const w = step(run, { type: "cancel", reason: "customer left" });
    expect(w).toEqual({ open: [], close: [], cancel: "cancelled: customer left" });
  });

  it("writes nothing when no action is a worker's, and allocates nothing for it", () => {
    const run = Run.create([{ name: "a" }, { name: "b", dependsOn: ["a"] }]);
    expect(step(run, { type: "stepSucceeded", step: "a", attempt: 1, output: {} }, null, none)).toBe(NO_TASK_WRITES);
  });
});

describe("worker inputs of the state machine", () => {
  it("taskRequeued records STEP_RECOVERED and keeps the attempt in flight; a stale one is ignored", () => {
    const run = Run.create([{ name: "a" }]);
    const events = run.apply({ type: "taskRequeued", step: "a", phase: "action", attempt: 1, why: "worker w-1 stopped heartbeating (requeue 1 of at most 3)" });
    expect(brief(events)).toEqual(["STEP_RECOVERED a=RUNNING@1 RUNNING"]);
    expect(events[0]!.message).toBe("attempt 1 of step a offered again: worker w-1 stopped heartbeating (requeue 1 of at most 3)");
    expect(run.last!.changedSteps).toEqual([]);
    expect(run.apply({ type: "taskRequeued", step: "a", phase: "action", attempt: 2, why: "x" })).toEqual([]);
    expect(run.apply({ type: "taskRequeued", step: "a", phase: "compensate", attempt: 1, why: "x" })).toEqual([]);
  });

  it("retryAfterMs holds the next attempt back beyond the backoff, never brings it forward", () => {
    const run = Run.create([{ name: "a", retry: { maxAttempts: 3, initialIntervalMs: 1_000, backoff: "FIXED" } }]);
    run.apply({ type: "stepFailed", step: "a", attempt: 1, error: "slow down", errorKind: "RATE_LIMITED", retryable: true, retryAfterMs: 30_000 });
    expect(run.step("a").nextAttemptAt).toBe(T0 + 30_000);
    run.apply({ type: "retryDue", step: "a" });
    run.apply({ type: "stepFailed", step: "a", attempt: 2, error: "again", errorKind: "RATE_LIMITED", retryable: true, retryAfterMs: 10 });
    expect(run.step("a").nextAttemptAt).toBe(T0 + 1_000);
  });

  it("STEP_STARTED says an attempt is queued for a worker when the env names worker actions", () => {
    const pending = pendingSaga([{ name: "a" }]);
    const local = decide(pending, { type: "advance" }, testEnv());
    const remote = decide(pending, { type: "advance" }, { ...testEnv(), isWorkerAction: workers });
    expect(local.events.find((e) => e.type === "STEP_STARTED")!.message).toBe("step a attempt 1 started");
    expect(remote.events.find((e) => e.type === "STEP_STARTED")!.message).toBe("step a attempt 1 started; queued for a worker serving noop");
  });
});
