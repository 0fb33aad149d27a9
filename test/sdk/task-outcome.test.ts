import { describe, expect, it } from "vitest";
import { ActionError, TaskAbortedError } from "../../src/sdk/index.js";
import { backoffMs } from "../../src/sdk/backoff.js";
import { taskOutcome } from "../../src/sdk/task-outcome.js";

describe("taskOutcome", () => {
  const failed = { ok: false as const, error: new Error("boom") };

  it("reports by why the signal fired when the handler fails after it", () => {
    expect(taskOutcome(failed, new TaskAbortedError("cancelled", "saga cancelled"))).toEqual({
      kind: "cancelled",
      message: "saga cancelled",
    });
    expect(taskOutcome(failed, new TaskAbortedError("timeout", "t"))).toMatchObject({ kind: "fail", errorKind: "TIMEOUT" });
    expect(taskOutcome(failed, new TaskAbortedError("shutdown", "s"))).toMatchObject({
      kind: "fail",
      errorKind: "WORKER_STOPPED",
      retryable: true,
    });
    expect(taskOutcome(failed, new TaskAbortedError("superseded", "x"))).toEqual({ kind: "drop" });
  });

  it("still completes a handler that succeeded after a cancel, but never one the server forgot", () => {
    const ok = { ok: true as const, value: { done: true } };
    expect(taskOutcome(ok, new TaskAbortedError("cancelled", "c"))).toEqual({ kind: "complete", output: { done: true } });
    expect(taskOutcome(ok, new TaskAbortedError("superseded", "x"))).toEqual({ kind: "drop" });
  });

  it("keeps an ActionError's retryAfterMs and leaves it out otherwise", () => {
    const err = new ActionError("slow down", { kind: "RATE_LIMITED", retryable: true, retryAfterMs: 2000 });
    expect(taskOutcome({ ok: false, error: err }, undefined)).toEqual({
      kind: "fail",
      errorKind: "RATE_LIMITED",
      message: "slow down",
      retryable: true,
      retryAfterMs: 2000,
    });
    expect(taskOutcome(failed, undefined)).toEqual({ kind: "fail", errorKind: "ERROR", message: "boom", retryable: true });
  });
});

describe("backoffMs", () => {
  const policy = { initialMs: 100, maxMs: 10_000 };

  it("doubles from the initial wait up to the cap, jittering within the upper half", () => {
    expect([1, 2, 3].map((n) => backoffMs(policy, n, () => 0))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((n) => backoffMs(policy, n, () => 0.999999))).toEqual([100, 200, 400]);
    expect(backoffMs(policy, 50, () => 0.999999)).toBe(10_000);
    expect(backoffMs(policy, 1_000_000, () => 0)).toBe(5_000);
  });
});
