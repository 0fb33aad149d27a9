import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, FailurePolicy, SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { callsFor, eventsOfType, overlapMs, sagaHistory, sagaStatusPath } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { RESTING, waitForStatus } from "../helpers/wait.js";

/** How long each branch compensation takes; long enough that serial and parallel differ clearly. */
const UNDO_MS = 250;

describe("failure policy COMPENSATE", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol: "connect" });
  });
  afterAll(() => srv.close());

  it("compensates a chain in reverse order (c, b, a) and ends COMPENSATED without resting in FAILED", async () => {
    const undo = (step: string) => ({ action: "record", config: { undo: step, id: `{{steps.${step}.output.step}}` } });
    const { saga } = await client.createSaga({
      name: "chain",
      failurePolicy: FailurePolicy.COMPENSATE,
      steps: [
        { name: "a", action: "record", compensate: undo("a") },
        { name: "b", action: "record", dependsOn: ["a"], compensate: undo("b") },
        { name: "c", action: "record", dependsOn: ["b"], compensate: undo("c") },
        { name: "d", action: "fail", config: { retryable: false }, dependsOn: ["c"], compensate: undo("d") },
      ],
    });
    const id = saga!.id;
    const done = await waitForStatus(client, id, RESTING);
    expect(SagaStatus[done.status], done.error).toBe("COMPENSATED");
    expect(done.steps.map((s) => [s.name, StepStatus[s.status]])).toEqual([
      ["a", "COMPENSATED"],
      ["b", "COMPENSATED"],
      ["c", "COMPENSATED"],
      ["d", "FAILED"],
    ]);

    const compensations = t.calls.filter((c) => c.sagaId === id && c.phase === "compensate");
    expect(compensations.map((c) => c.step)).toEqual(["c", "b", "a"]);
    // One after the other: each starts only after the previous one ended.
    for (let i = 1; i < compensations.length; i++) {
      expect(compensations[i]!.startedAt).toBeGreaterThanOrEqual(compensations[i - 1]!.endedAt!);
    }
    for (const call of compensations) {
      expect(call.idempotencyKey).toBe(`${id}/${call.step}/compensate`);
      expect(call.idempotencyKey.endsWith("/compensate")).toBe(true);
      expect(call.attempt).toBe(1);
      // The compensation reads the compensated step's own output.
      expect(call.config).toEqual({ undo: call.step, id: call.step });
    }
    // The actions themselves used the plain key.
    expect(callsFor(t.calls, id, "a")[0]!.idempotencyKey).toBe(`${id}/a`);

    const history = await sagaHistory(client, id);
    expect(sagaStatusPath(history)).toEqual(["RUNNING", "COMPENSATING", "COMPENSATED"]);
    expect(eventsOfType(history, EventType.COMPENSATION_COMPLETED).map((e) => e.step)).toEqual(["c", "b", "a"]);
  });

  describe("independent branches", () => {
    let id: string;
    let status: string;
    let error: string;
    beforeAll(async () => {
      const slowUndo = { action: "slow", config: { ms: UNDO_MS } };
      const { saga } = await client.createSaga({
        name: "branches",
        failurePolicy: FailurePolicy.COMPENSATE,
        steps: [
          { name: "p1", action: "record", compensate: slowUndo },
          { name: "p2", action: "record", dependsOn: ["p1"], compensate: slowUndo },
          { name: "q1", action: "record", compensate: slowUndo },
          { name: "q2", action: "record", dependsOn: ["q1"], compensate: slowUndo },
          { name: "join", action: "fail", config: { retryable: false }, dependsOn: ["p2", "q2"] },
        ],
      });
      id = saga!.id;
      const done = await waitForStatus(client, id, RESTING);
      status = SagaStatus[done.status];
      error = done.error;
    });
    const firstUndo = (step: string) => {
      const call = callsFor(t.calls, id, step, "compensate")[0];
      if (!call) throw new Error(`step ${step} was never compensated`);
      return call;
    };

    it("compensate in parallel, each branch newest first, and end COMPENSATED", () => {
      expect(status, error).toBe("COMPENSATED");
      const [p1, p2, q1, q2] = [firstUndo("p1"), firstUndo("p2"), firstUndo("q1"), firstUndo("q2")];
      // Within a branch: reverse dependency order.
      expect(p1.startedAt).toBeGreaterThanOrEqual(p2.endedAt!);
      expect(q1.startedAt).toBeGreaterThanOrEqual(q2.endedAt!);
      // Across branches: at the same time (serially they would not overlap at all).
      expect(overlapMs(p2, q2)).toBeGreaterThan(UNDO_MS / 2);
      expect(overlapMs(p1, q1)).toBeGreaterThan(UNDO_MS / 2);
    });

    it("run each compensation exactly once", () => {
      const perStep = Object.fromEntries(["p1", "p2", "q1", "q2"].map((s) => [s, callsFor(t.calls, id, s, "compensate").map((c) => c.attempt)]));
      expect(perStep).toEqual({ p1: [1], p2: [1], q1: [1], q2: [1] });
    });
  });
});
