import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { EventType, FailurePolicy, SagaStatus, StepStatus } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { RESTING, waitForStatus } from "../helpers/wait.js";

describe("a compensation that fails for good", () => {
  const t = createTestActions();
  /** The downstream service the `undo` action calls; the test brings it back up between rounds. */
  const refundService = { up: false, calls: [] as { attempt: number; key: string; up: boolean }[] };
  const undo: Action = {
    name: "undo",
    async run(ctx) {
      refundService.calls.push({ attempt: ctx.attempt, key: ctx.idempotencyKey, up: refundService.up });
      if (!refundService.up) throw new ActionError("refund service unavailable", { kind: "UNAVAILABLE", retryable: true });
      return { refunded: true };
    },
  };
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: [...t.actions, undo] });
  });
  afterAll(() => srv.close());

  it("leaves the saga COMPENSATION_FAILED, and a second RollbackSaga finishes the job", async () => {
    const client = srv.client({ protocol: "grpc" });
    const { saga } = await client.createSaga({
      name: "refund",
      failurePolicy: FailurePolicy.COMPENSATE,
      steps: [
        {
          name: "charge",
          action: "record",
          compensate: { action: "undo", retryPolicy: { maxAttempts: 2, initialInterval: ms(10) } },
        },
        { name: "reserve", action: "record", dependsOn: ["charge"], compensate: { action: "record", config: { undo: "reserve" } } },
        { name: "ship", action: "fail", config: { retryable: false }, dependsOn: ["reserve"] },
      ],
    });
    const id = saga!.id;

    // Round 1: reserve is undone, then charge's compensation fails both of its attempts.
    const stuck = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[stuck.status]).toBe("COMPENSATION_FAILED");
    expect(stuck.steps.map((s) => [s.name, StepStatus[s.status]])).toEqual([
      ["charge", "COMPENSATION_FAILED"],
      ["reserve", "COMPENSATED"],
      ["ship", "FAILED"],
    ]);
    const charge = stuck.steps[0]!;
    expect(charge.errorKind).toBe("UNAVAILABLE");
    expect(stuck.error).toContain("charge");
    expect(refundService.calls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(refundService.calls.every((c) => c.key === `${id}/charge/compensate`)).toBe(true);
    const round1 = await sagaHistory(client, id);
    expect(eventsOfType(round1, EventType.COMPENSATION_RETRY_SCHEDULED, "charge").map((e) => e.attempt)).toEqual([1]);
    expect(eventsOfType(round1, EventType.COMPENSATION_FAILED, "charge").map((e) => e.attempt)).toEqual([2]);

    // Round 2: the service is back; the operator rolls back again.
    refundService.up = true;
    const { saga: answer } = await client.rollbackSaga({ id });
    expect(SagaStatus[answer!.status]).toBe("COMPENSATING");
    expect(StepStatus[answer!.steps[0]!.status]).toBe("COMPENSATING");
    expect(answer!.error).toBe("");

    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("COMPENSATED");
    expect(done.steps.map((s) => [s.name, StepStatus[s.status]])).toEqual([
      ["charge", "COMPENSATED"],
      ["reserve", "COMPENSATED"],
      ["ship", "FAILED"],
    ]);
    expect(refundService.calls).toHaveLength(3);
    expect(refundService.calls[2]).toMatchObject({ up: true, key: `${id}/charge/compensate` });
    // A new round is a new attempt: numbering goes on, so (key, attempt) never repeats a call
    // the target has already seen, while the round still gets its full budget of attempts.
    expect(refundService.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    // Only what was left is retried: reserve's compensation and the actions do not run again.
    expect(callsFor(t.calls, id, "reserve", "compensate")).toHaveLength(1);
    expect(callsFor(t.calls, id, "charge")).toHaveLength(1);
    expect(callsFor(t.calls, id, "reserve")).toHaveLength(1);
  });

  it("fails for good at once on a non-retryable compensation error", async () => {
    const client = srv.client({ protocol: "connect" });
    const { saga } = await client.createSaga({
      name: "undo-forbidden",
      failurePolicy: FailurePolicy.COMPENSATE,
      steps: [
        {
          name: "a",
          action: "record",
          compensate: { action: "fail", config: { kind: "FORBIDDEN", retryable: false }, retryPolicy: { maxAttempts: 5, initialInterval: ms(10) } },
        },
        { name: "b", action: "fail", config: { retryable: false }, dependsOn: ["a"] },
      ],
    });
    const id = saga!.id;
    const stuck = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[stuck.status]).toBe("COMPENSATION_FAILED");
    expect(StepStatus[stuck.steps[0]!.status]).toBe("COMPENSATION_FAILED");
    expect(stuck.steps[0]!.errorKind).toBe("FORBIDDEN");
    expect(callsFor(t.calls, id, "a", "compensate")).toHaveLength(1);
  });
});
