import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

/** Plenty of attempts with a short backoff: any retry that happens shows up quickly. */
const GENEROUS = { maxAttempts: 5, initialInterval: ms(10) };

describe("errors that must not be retried", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
  });
  afterAll(() => srv.close());

  it("fails the step and the saga at once when the action says retryable: false", async () => {
    const client = srv.client({ protocol: "grpc" });
    const { saga } = await client.createSaga({
      name: "non-retryable",
      steps: [
        { name: "prepare", action: "record" },
        { name: "charge", action: "fail", config: { kind: "CARD_DECLINED", retryable: false }, dependsOn: ["prepare"], retryPolicy: GENEROUS },
        { name: "ship", action: "record", dependsOn: ["charge"] },
      ],
    });
    const id = saga!.id;
    const failed = await waitForStatus(client, id, [SagaStatus.FAILED, SagaStatus.COMPLETED]);
    expect(SagaStatus[failed.status]).toBe("FAILED");
    const charge = failed.steps.find((s) => s.name === "charge")!;
    expect(StepStatus[charge.status]).toBe("FAILED");
    expect(charge.errorKind).toBe("CARD_DECLINED");
    expect(charge.retryCount).toBe(1);
    expect(failed.error).toContain("charge");
    expect(failed.error).toContain("failed on purpose");
    expect(StepStatus[failed.steps.find((s) => s.name === "ship")!.status]).toBe("PENDING");

    expect(callsFor(t.calls, id, "charge")).toHaveLength(1);
    expect(callsFor(t.calls, id, "ship")).toHaveLength(0);
    const history = await sagaHistory(client, id);
    expect(eventsOfType(history, EventType.STEP_RETRY_SCHEDULED)).toHaveLength(0);
    const [stepFailed] = eventsOfType(history, EventType.STEP_FAILED, "charge");
    expect(stepFailed?.attempt).toBe(1);
    expect(stepFailed?.errorKind).toBe("CARD_DECLINED");
  });

  it("fails at once on an error kind listed in retry_policy.non_retryable_errors", async () => {
    const client = srv.client({ protocol: "connect" });
    const { saga } = await client.createSaga({
      name: "listed-kind",
      steps: [
        {
          name: "call",
          action: "fail",
          // The action itself calls the error retryable; the policy overrides it.
          config: { kind: "HTTP_4XX", retryable: true },
          retryPolicy: { ...GENEROUS, nonRetryableErrors: ["HTTP_409", "HTTP_4XX"] },
        },
      ],
    });
    const id = saga!.id;
    const failed = await waitForStatus(client, id, [SagaStatus.FAILED, SagaStatus.COMPLETED]);
    expect(SagaStatus[failed.status]).toBe("FAILED");
    expect(StepStatus[failed.steps[0]!.status]).toBe("FAILED");
    expect(failed.steps[0]!.errorKind).toBe("HTTP_4XX");
    expect(failed.error).toContain("call");
    expect(callsFor(t.calls, id, "call")).toHaveLength(1);
  });

  it("still retries an error kind the list does not name", async () => {
    const client = srv.client({ protocol: "connect" });
    const { saga } = await client.createSaga({
      name: "unlisted-kind",
      steps: [
        {
          name: "call",
          action: "fail",
          config: { kind: "HTTP_5XX" },
          retryPolicy: { maxAttempts: 3, initialInterval: ms(10), nonRetryableErrors: ["HTTP_4XX"] },
        },
      ],
    });
    const id = saga!.id;
    const failed = await waitForStatus(client, id, [SagaStatus.FAILED, SagaStatus.COMPLETED]);
    expect(SagaStatus[failed.status]).toBe("FAILED");
    expect(callsFor(t.calls, id, "call").map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(failed.error).toContain("after 3 attempts");
  });
});
