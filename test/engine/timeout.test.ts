import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

const TIMEOUT_MS = 100;

describe("attempt timeout", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
  });
  afterAll(() => srv.close());

  it("aborts each attempt of a hanging step after the timeout and fails it with TIMEOUT", async () => {
    const client = srv.client({ protocol: "grpc" });
    const { saga } = await client.createSaga({
      name: "timeout",
      steps: [
        {
          name: "hang",
          action: "hang",
          retryPolicy: { maxAttempts: 2, timeout: ms(TIMEOUT_MS), initialInterval: ms(10) },
        },
      ],
    });
    const id = saga!.id;
    const failed = await waitForStatus(client, id, [SagaStatus.FAILED, SagaStatus.COMPLETED]);
    expect(SagaStatus[failed.status]).toBe("FAILED");
    const step = failed.steps[0]!;
    expect(StepStatus[step.status]).toBe("FAILED");
    expect(step.errorKind).toBe("TIMEOUT");
    expect(step.retryCount).toBe(2);
    expect(failed.error).toContain("hang");

    const calls = callsFor(t.calls, id, "hang");
    expect(calls.map((c) => c.attempt)).toEqual([1, 2]);
    for (const call of calls) {
      // `hang` only ever returns by rejecting when its signal aborts: an end time proves the abort.
      expect(call.endedAt, `attempt ${call.attempt} was never aborted`).not.toBeNull();
      const ran = call.endedAt! - call.startedAt;
      // Per attempt, not cumulative: each ran about one timeout (Node timers may fire ~2 ms early).
      expect(ran).toBeGreaterThanOrEqual(TIMEOUT_MS - 2);
      expect(ran).toBeLessThan(TIMEOUT_MS + 1_000);
    }

    const history = await sagaHistory(client, id);
    const retry = eventsOfType(history, EventType.STEP_RETRY_SCHEDULED, "hang");
    expect(retry.map((e) => [e.attempt, e.errorKind])).toEqual([[1, "TIMEOUT"]]);
    const final = eventsOfType(history, EventType.STEP_FAILED, "hang");
    expect(final.map((e) => [e.attempt, e.errorKind])).toEqual([[2, "TIMEOUT"]]);
  });
});
