import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { expectCode, ms } from "../helpers/rpc.js";
import { callsFor, eventsOfType, sagaHistory, sagaStatusPath } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { RESTING, waitForStatus, waitUntil } from "../helpers/wait.js";

describe("CancelSaga", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol: "grpc" });
  });
  afterAll(() => srv.close());

  it("aborts the running step, starts nothing new, compensates what completed and ends CANCELLED", async () => {
    const { saga } = await client.createSaga({
      name: "cancel-running",
      steps: [
        { name: "reserve", action: "record", compensate: { action: "record", config: { undo: "reserve" } } },
        { name: "pay", action: "hang", dependsOn: ["reserve"], compensate: { action: "record", config: { undo: "pay" } } },
        { name: "ship", action: "record", dependsOn: ["pay"] },
      ],
    });
    const id = saga!.id;
    await waitUntil(() => callsFor(t.calls, id, "pay").length === 1, "pay started");
    const pay = callsFor(t.calls, id, "pay")[0]!;
    expect(pay.endedAt).toBeNull();

    const { saga: answer } = await client.cancelSaga({ id, reason: "customer changed their mind" });
    expect(["CANCELLING", "CANCELLED"]).toContain(SagaStatus[answer!.status]);
    expect(answer!.error).toContain("customer changed their mind");

    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("CANCELLED");
    // `hang` only returns by rejecting on its abort signal.
    expect(pay.endedAt, "the running action's signal was not aborted").not.toBeNull();
    expect(done.steps.map((s) => [s.name, StepStatus[s.status]])).toEqual([
      ["reserve", "COMPENSATED"],
      ["pay", "CANCELLED"],
      ["ship", "PENDING"],
    ]);
    expect(callsFor(t.calls, id, "ship")).toHaveLength(0);
    expect(callsFor(t.calls, id, "pay")).toHaveLength(1);
    // Only completed steps are compensated: reserve, not the aborted pay.
    expect(callsFor(t.calls, id, "reserve", "compensate")).toHaveLength(1);
    expect(callsFor(t.calls, id, "pay", "compensate")).toHaveLength(0);
    // The compensation started only after the aborted attempt was over.
    expect(callsFor(t.calls, id, "reserve", "compensate")[0]!.startedAt).toBeGreaterThanOrEqual(pay.endedAt!);

    const history = await sagaHistory(client, id);
    expect(sagaStatusPath(history)).toEqual(["RUNNING", "CANCELLING", "CANCELLED"]);
    const cancelled = eventsOfType(history, EventType.STEP_CANCELLED, "pay");
    expect(cancelled).toHaveLength(1);
    // Nothing started after the cancel was committed.
    const cancelSeq = eventsOfType(history, EventType.SAGA_STATUS_CHANGED).find((e) => e.sagaStatus === SagaStatus.CANCELLING)!.sequence;
    expect(eventsOfType(history, EventType.STEP_STARTED).filter((e) => e.sequence > cancelSeq)).toHaveLength(0);
  });

  it("abandons a scheduled retry instead of running it", async () => {
    const BACKOFF_MS = 600;
    const { saga } = await client.createSaga({
      name: "cancel-retry",
      steps: [
        {
          name: "flaky",
          action: "flaky",
          config: { failTimes: 1 },
          retryPolicy: { maxAttempts: 3, initialInterval: ms(BACKOFF_MS), maxInterval: ms(BACKOFF_MS) },
        },
      ],
    });
    const id = saga!.id;
    let dueAt = 0;
    await waitUntil(async () => {
      const step = (await client.getSaga({ id })).saga!.steps[0]!;
      if (step.status !== StepStatus.RETRY_SCHEDULED || !step.nextAttemptTime) return false;
      dueAt = timestampMs(step.nextAttemptTime);
      return true;
    }, "retry scheduled");

    const { saga: answer } = await client.cancelSaga({ id });
    expect(["CANCELLING", "CANCELLED"]).toContain(SagaStatus[answer!.status]);
    expect(StepStatus[answer!.steps[0]!.status]).toBe("CANCELLED");
    expect(answer!.steps[0]!.nextAttemptTime).toBeUndefined();
    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status]).toBe("CANCELLED");
    // Wait until a little past the time the retry was due: it never ran.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAt - Date.now()) + 200));
    expect(callsFor(t.calls, id, "flaky")).toHaveLength(1);
  });

  it("answers FAILED_PRECONDITION for a COMPLETED saga and changes nothing", async () => {
    const { saga } = await client.createSaga({ name: "cancel-done", steps: [{ name: "a", action: "record", compensate: { action: "record" } }] });
    const id = saga!.id;
    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status]).toBe("COMPLETED");
    const err = await expectCode(client.cancelSaga({ id }), Code.FailedPrecondition);
    expect(err.rawMessage).toContain("COMPLETED");
    const after = (await client.getSaga({ id })).saga!;
    expect(SagaStatus[after.status]).toBe("COMPLETED");
    expect(after.sequence).toBe(done.sequence);
    expect(callsFor(t.calls, id, "a", "compensate")).toHaveLength(0);
  });
});
