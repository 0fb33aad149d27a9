import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type Saga, type SagaClient } from "../../src/client/index.js";
import { ONE_ATTEMPT, expectCode, ms } from "../helpers/rpc.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { RESTING, waitForStatus } from "../helpers/wait.js";

const stepStatus = (saga: Saga, name: string) => StepStatus[saga.steps.find((s) => s.name === name)!.status];

/** Waits for the saga to rest in FAILED (HOLD policy) and checks that it did. */
async function heldFailed(client: SagaClient, id: string): Promise<Saga> {
  const saga = await waitForStatus(client, id, [SagaStatus.FAILED, SagaStatus.COMPLETED]);
  expect(SagaStatus[saga.status]).toBe("FAILED");
  return saga;
}

describe("operator operations on a saga held in FAILED", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol: "grpc" });
  });
  afterAll(() => srv.close());

  it("RetrySaga resumes from the failed step and never reruns completed steps", async () => {
    const { saga } = await client.createSaga({
      name: "retry-saga",
      steps: [
        { name: "a", action: "record" },
        // Round 1: attempts 1 and 2 fail. After RetrySaga, a fresh budget of two: 3 fails, 4 succeeds.
        { name: "b", action: "flaky", config: { failTimes: 3 }, dependsOn: ["a"], retryPolicy: { maxAttempts: 2, initialInterval: ms(10) } },
        { name: "c", action: "record", dependsOn: ["b"] },
      ],
    });
    const id = saga!.id;
    const failed = await heldFailed(client, id);
    expect(stepStatus(failed, "b")).toBe("FAILED");
    expect(callsFor(t.calls, id, "c")).toHaveLength(0);

    const { saga: answer } = await client.retrySaga({ id });
    expect(SagaStatus[answer!.status]).toBe("RUNNING");
    expect(answer!.retryCount).toBe(1);
    expect(answer!.error).toBe("");
    expect(stepStatus(answer!, "a")).toBe("COMPLETED");
    expect(["PENDING", "RUNNING"]).toContain(stepStatus(answer!, "b"));

    const after = await waitForStatus(client, id, RESTING);
    expect(callsFor(t.calls, id, "a"), "completed step a was run again").toHaveLength(1);
    // A new call after RetrySaga is a new attempt: (idempotency key, attempt) must not repeat one
    // that was already made, or a de-duplicating target would replay attempt 1's failure.
    const bCalls = callsFor(t.calls, id, "b");
    expect(bCalls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
    expect(SagaStatus[after.status], after.error).toBe("COMPLETED");
    // retry_count is "attempts started so far": four were.
    expect(after.steps.find((s) => s.name === "b")!.retryCount).toBe(4);
    expect(callsFor(t.calls, id, "c")).toHaveLength(1);
    // Reviving a resting saga takes its released lease, but nothing was in flight: no recovery.
    const events = await sagaHistory(client, id);
    expect(eventsOfType(events, EventType.STEP_RECOVERED)).toHaveLength(0);
  });

  it("RetryStep runs the failed step again with the new config", async () => {
    const { saga } = await client.createSaga({
      name: "retry-step",
      steps: [
        { name: "a", action: "record", config: { sku: "A-1" } },
        { name: "b", action: "flaky", config: { failTimes: 99 }, dependsOn: ["a"], retryPolicy: ONE_ATTEMPT },
        { name: "c", action: "record", dependsOn: ["b"] },
      ],
    });
    const id = saga!.id;
    await heldFailed(client, id);
    expect(callsFor(t.calls, id, "b")[0]!.config).toEqual({ failTimes: 99 });

    const { saga: answer } = await client.retryStep({
      id,
      step: "b",
      config: { failTimes: 0, note: "fixed by operator", sku: "{{steps.a.output.sku}}" },
    });
    expect(SagaStatus[answer!.status]).toBe("RUNNING");
    expect(stepStatus(answer!, "b")).toBe("RUNNING");
    expect(answer!.steps.find((s) => s.name === "b")!.config).toEqual({
      failTimes: 0,
      note: "fixed by operator",
      sku: "{{steps.a.output.sku}}",
    });

    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    const bCalls = callsFor(t.calls, id, "b");
    expect(bCalls).toHaveLength(2);
    expect(bCalls[1]!.config).toEqual({ failTimes: 0, note: "fixed by operator", sku: "A-1" });
    // A new attempt, not a replay of attempt 1 under the same idempotency key.
    expect(bCalls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(callsFor(t.calls, id, "a")).toHaveLength(1);
    expect(callsFor(t.calls, id, "c")).toHaveLength(1);
  });

  it("SkipStep lets dependents run and read the stand-in output", async () => {
    const { saga } = await client.createSaga({
      name: "skip-step",
      steps: [
        { name: "a", action: "record" },
        { name: "x", action: "fail", config: { retryable: false }, dependsOn: ["a"] },
        { name: "y", action: "record", dependsOn: ["x"], config: { id: "{{steps.x.output.id}}", label: "order {{steps.x.output.id}}" } },
      ],
    });
    const id = saga!.id;
    await heldFailed(client, id);

    const { saga: answer } = await client.skipStep({ id, step: "x", output: { id: "stand-in-42" } });
    expect(SagaStatus[answer!.status]).toBe("RUNNING");
    expect(stepStatus(answer!, "x")).toBe("SKIPPED");
    expect(answer!.outputs.x).toEqual({ id: "stand-in-42" });

    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    expect(stepStatus(done, "x")).toBe("SKIPPED");
    expect(callsFor(t.calls, id, "x"), "a skipped step must not run again").toHaveLength(1);
    const [y] = callsFor(t.calls, id, "y");
    expect(y?.config).toEqual({ id: "stand-in-42", label: "order stand-in-42" });
    expect(callsFor(t.calls, id, "a")).toHaveLength(1);
  });

  it("RollbackSaga compensates the completed steps, newest first", async () => {
    const { saga } = await client.createSaga({
      name: "rollback",
      steps: [
        { name: "a", action: "record", compensate: { action: "record", config: { undo: "a" } } },
        { name: "b", action: "record", dependsOn: ["a"], compensate: { action: "record", config: { undo: "b" } } },
        { name: "c", action: "fail", config: { retryable: false }, dependsOn: ["b"], compensate: { action: "record", config: { undo: "c" } } },
      ],
    });
    const id = saga!.id;
    await heldFailed(client, id);
    // HOLD: nothing is compensated until the operator says so.
    expect(t.calls.filter((c) => c.sagaId === id && c.phase === "compensate")).toHaveLength(0);

    const { saga: answer } = await client.rollbackSaga({ id });
    expect(SagaStatus[answer!.status]).toBe("COMPENSATING");
    expect(stepStatus(answer!, "b")).toBe("COMPENSATING");
    expect(stepStatus(answer!, "a")).toBe("COMPLETED");

    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("COMPENSATED");
    expect(done.steps.map((s) => [s.name, StepStatus[s.status]])).toEqual([
      ["a", "COMPENSATED"],
      ["b", "COMPENSATED"],
      ["c", "FAILED"],
    ]);
    const compensations = t.calls.filter((c) => c.sagaId === id && c.phase === "compensate");
    expect(compensations.map((c) => c.config.undo)).toEqual(["b", "a"]);
    expect(compensations[1]!.startedAt).toBeGreaterThanOrEqual(compensations[0]!.endedAt!);
  });

  it("answers FAILED_PRECONDITION (naming the state) for RetrySaga on a saga that is not FAILED", async () => {
    const { saga } = await client.createSaga({ name: "done", steps: [{ name: "a", action: "record" }] });
    await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    const err = await expectCode(client.retrySaga({ id: saga!.id }), Code.FailedPrecondition);
    expect(err.rawMessage).toContain("COMPLETED");
  });
});
