/**
 * ListCircuits over both protocols: the answering replica's id, its breakers ordered by key, and
 * the fields that are unset until they mean something (opened time, next probe time).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitState, SagaStatus } from "../../src/client/index.js";
import { PROTOCOLS } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

describe("ListCircuits", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions, replicaId: "replica-circuits", breaker: { failures: 5, openMs: 10_000 } });
  });
  afterAll(() => srv?.close());

  it("a replica that has called nothing has no breakers", async () => {
    expect(await srv.client().listCircuits({})).toMatchObject({ replicaId: "replica-circuits", circuits: [] });
  });

  it.each(PROTOCOLS)("over %s: one breaker per action used, ordered by key", async (protocol) => {
    const client = srv.client({ protocol });

    const { saga } = await client.createSaga({
      name: "circuits",
      steps: [
        { name: "r", action: "record" },
        { name: "n", action: "noop" },
        { name: "f", action: "fail", config: { retryable: false } },
      ],
    });
    expect((await waitForStatus(client, saga!.id, SagaStatus.FAILED)).status).toBe(SagaStatus.FAILED);

    const { replicaId, circuits } = await client.listCircuits({});
    expect(replicaId).toBe("replica-circuits");
    expect(circuits.map((c) => c.key)).toEqual(["fail", "noop", "record"]);
    for (const c of circuits) {
      expect(c).toMatchObject({ action: c.key, state: CircuitState.CLOSED, consecutiveFailures: 0, totalFailures: 0n, totalRejected: 0n, waitingSteps: 0, lastError: "" });
      expect(c.openedTime).toBeUndefined();
      expect(c.nextProbeTime).toBeUndefined();
    }
    // A non-retryable error is the target answering: a success for its breaker.
    const fail = circuits.find((c) => c.key === "fail")!;
    expect(fail.totalSuccesses).toBe(BigInt(t.calls.filter((c) => c.action === "fail").length));
    expect(fail.totalSuccesses).toBeGreaterThan(0n);
  });
});
