import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Backoff,
  EventType,
  FailurePolicy,
  SagaStatus,
  StepStatus,
  type Saga,
  type SagaClient,
} from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";
import { collectWatch, eventsOf, expectCode, expectConsecutive, ONE_ATTEMPT, PROTOCOLS } from "../helpers/rpc.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const step = (saga: Saga, name: string) => {
  const found = saga.steps.find((s) => s.name === name);
  if (!found) throw new Error(`saga ${saga.id} has no step ${name}`);
  return found;
};

describe.each(PROTOCOLS)("every RPC over %s", (protocol) => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  const callsOf = (sagaId: string, stepName: string, phase: "action" | "compensate" = "action") =>
    t.callsOf(stepName, phase).filter((c) => c.sagaId === sagaId);

  /** A saga whose only step fails for good at once, so it rests FAILED under HOLD. */
  async function failedSaga(name: string, extra: { maxRetries?: number; action?: string } = {}): Promise<Saga> {
    const { saga } = await client.createSaga({
      name,
      maxRetries: extra.maxRetries ?? 0,
      steps: [{ name: "f", action: extra.action ?? "flaky", config: { failTimes: 1 }, retryPolicy: ONE_ATTEMPT }],
    });
    return waitForStatus(client, saga!.id, SagaStatus.FAILED);
  }

  it("CreateSaga returns the committed saga with defaults filled in, then runs it", async () => {
    const { saga } = await client.createSaga({
      name: `create-${protocol}`,
      definition: "checkout@v3",
      requestId: `create-${protocol}-1`,
      vars: { region: "eu-west" },
      labels: { team: "payments", proto: protocol },
      steps: [
        { name: "a", action: "record", config: { n: 1 } },
        { name: "b", action: "record", dependsOn: ["a"], config: { region: "{{vars.region}}", from: "{{steps.a.output.step}}" } },
      ],
    });
    expect(saga).toBeDefined();
    expect(saga!.id).toMatch(UUID);
    expect(saga!.name).toBe(`create-${protocol}`);
    expect(saga!.definition).toBe("checkout@v3");
    expect(saga!.requestId).toBe(`create-${protocol}-1`);
    expect(saga!.vars).toEqual({ region: "eu-west" });
    expect(saga!.labels).toEqual({ team: "payments", proto: protocol });
    expect(saga!.failurePolicy).toBe(FailurePolicy.HOLD);
    expect(saga!.maxRetries).toBe(3);
    expect(saga!.retryCount).toBe(0);
    // Created and its first step started in the same commit.
    expect([SagaStatus.PENDING, SagaStatus.RUNNING]).toContain(saga!.status);
    expect(saga!.sequence).toBeGreaterThanOrEqual(1n);
    expect(saga!.createTime).toBeDefined();
    expect(saga!.completeTime).toBeUndefined();
    expect(saga!.steps.map((s) => s.name)).toEqual(["a", "b"]);
    expect(step(saga!, "b").dependsOn).toEqual(["a"]);
    expect(step(saga!, "b").status).toBe(StepStatus.PENDING);
    expect(step(saga!, "b").config).toEqual({ region: "{{vars.region}}", from: "{{steps.a.output.step}}" });
    const policy = step(saga!, "a").retryPolicy!;
    expect(policy.maxAttempts).toBe(3);
    expect(policy.backoff).toBe(Backoff.EXPONENTIAL);
    expect(policy.initialInterval).toMatchObject({ seconds: 1n, nanos: 0 });

    const done = await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    expect(step(done, "b").output).toEqual({ region: "eu-west", from: "a", step: "b", attempt: 1 });
  });

  it("GetSaga returns the saga with its steps, outputs and times", async () => {
    const { saga: created } = await client.createSaga({
      name: `get-${protocol}`,
      steps: [
        { name: "one", action: "record", config: { v: "x" } },
        { name: "two", action: "noop", dependsOn: ["one"], config: { copied: "{{steps.one.output.v}}" } },
      ],
    });
    await waitForStatus(client, created!.id, SagaStatus.COMPLETED);
    const { saga } = await client.getSaga({ id: created!.id });
    expect(saga!.id).toBe(created!.id);
    expect(saga!.status).toBe(SagaStatus.COMPLETED);
    expect(saga!.steps.map((s) => [s.name, s.status, s.retryCount])).toEqual([
      ["one", StepStatus.COMPLETED, 1],
      ["two", StepStatus.COMPLETED, 1],
    ]);
    expect(saga!.outputs).toEqual({ one: { v: "x", step: "one", attempt: 1 }, two: { copied: "x" } });
    expect(saga!.sequence).toBeGreaterThan(created!.sequence);
    expect(saga!.completeTime).toBeDefined();
    expect(step(saga!, "one").startTime).toBeDefined();
    expect(step(saga!, "one").completeTime).toBeDefined();
    // Ids are case-insensitive UUIDs.
    const { saga: upper } = await client.getSaga({ id: created!.id.toUpperCase() });
    expect(upper!.id).toBe(created!.id);
  });

  it("ListSagas returns matching sagas newest first, without steps", async () => {
    const label = { list: `${protocol}-${Date.now()}` };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { saga } = await client.createSaga({ name: `list-${protocol}`, labels: label, steps: [{ name: "s", action: "noop" }] });
      ids.push(saga!.id);
    }
    const { sagas, nextPageToken } = await client.listSagas({ labels: label });
    expect(sagas.map((s) => s.id)).toEqual([...ids].reverse());
    expect(nextPageToken).toBe("");
    for (const s of sagas) {
      expect(s.name).toBe(`list-${protocol}`);
      expect(s.labels).toEqual(label);
      expect(s.steps).toEqual([]);
      expect(s.outputs).toEqual({});
    }
    const first = await client.listSagas({ labels: label, pageSize: 2 });
    expect(first.sagas.map((s) => s.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextPageToken).not.toBe("");
    const second = await client.listSagas({ labels: label, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.sagas.map((s) => s.id)).toEqual([ids[0]]);
    expect(second.nextPageToken).toBe("");
  });

  it("DeleteSaga removes a resting saga and its history", async () => {
    const { saga } = await client.createSaga({ name: `delete-${protocol}`, steps: [{ name: "s", action: "noop" }] });
    await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    const res = await client.deleteSaga({ id: saga!.id });
    expect(res.id).toBe(saga!.id);
    await expectCode(client.getSaga({ id: saga!.id }), Code.NotFound);
    await expectCode(collectWatch(client, { id: saga!.id, afterSequence: 0n }), Code.NotFound);
    const { rows } = await srv.db.pool.query("SELECT count(*)::int AS n FROM saga_events WHERE saga_id = $1", [saga!.id]);
    expect(rows[0].n).toBe(0);
  });

  it("RetrySaga resumes a FAILED saga and answers with the committed transition", async () => {
    const failed = await failedSaga(`retry-saga-${protocol}`, { maxRetries: 2, action: "fail" });
    expect(step(failed, "f").status).toBe(StepStatus.FAILED);
    expect(failed.error).toContain("step f failed");
    const { saga } = await client.retrySaga({ id: failed.id });
    expect(saga!.id).toBe(failed.id);
    expect(saga!.status).toBe(SagaStatus.RUNNING);
    expect(saga!.retryCount).toBe(1);
    expect(saga!.error).toBe("");
    expect(saga!.sequence).toBeGreaterThan(failed.sequence);
    expect(step(saga!, "f").status).not.toBe(StepStatus.FAILED);
    // A new round with a fresh budget of one attempt; attempt numbers keep counting.
    const again = await waitForStatus(client, failed.id, SagaStatus.FAILED);
    expect(again.retryCount).toBe(1);
    expect(step(again, "f").status).toBe(StepStatus.FAILED);
    expect(again.error).toContain("step f failed");
    expect(callsOf(failed.id, "f").map((c) => c.attempt)).toEqual([1, 2]);
  });

  it("RollbackSaga compensates a FAILED saga's completed steps", async () => {
    const { saga: created } = await client.createSaga({
      name: `rollback-${protocol}`,
      steps: [
        { name: "a", action: "record", compensate: { action: "record", config: { undo: "{{steps.a.output.step}}" } } },
        { name: "b", action: "fail", dependsOn: ["a"], retryPolicy: ONE_ATTEMPT },
      ],
    });
    const failed = await waitForStatus(client, created!.id, SagaStatus.FAILED);
    expect(step(failed, "a").status).toBe(StepStatus.COMPLETED);
    const { saga } = await client.rollbackSaga({ id: created!.id });
    expect([SagaStatus.COMPENSATING, SagaStatus.COMPENSATED]).toContain(saga!.status);
    expect(saga!.sequence).toBeGreaterThan(failed.sequence);
    const done = await waitForStatus(client, created!.id, SagaStatus.COMPENSATED);
    expect(step(done, "a").status).toBe(StepStatus.COMPENSATED);
    expect(step(done, "b").status).toBe(StepStatus.FAILED);
    const compensations = callsOf(created!.id, "a", "compensate");
    expect(compensations).toHaveLength(1);
    expect(compensations[0]!.config).toEqual({ undo: "a" });
  });

  it("CancelSaga stops a RUNNING saga, aborts its running action and ends CANCELLED", async () => {
    const { saga: created } = await client.createSaga({
      name: `cancel-${protocol}`,
      steps: [
        { name: "done", action: "record", compensate: { action: "noop" } },
        { name: "held", action: "gate", dependsOn: ["done"] },
        { name: "never", action: "record", dependsOn: ["held"] },
      ],
    });
    const id = created!.id;
    await waitUntil(() => callsOf(id, "held").length === 1, "gate step started");
    const { saga } = await client.cancelSaga({ id, reason: "customer changed their mind" });
    expect(saga!.status).toBe(SagaStatus.CANCELLING);
    expect(saga!.error).toContain("customer changed their mind");
    const end = await waitForStatus(client, id, SagaStatus.CANCELLED);
    expect(step(end, "held").status).toBe(StepStatus.CANCELLED);
    expect(step(end, "done").status).toBe(StepStatus.COMPENSATED);
    expect(step(end, "never").status).toBe(StepStatus.PENDING);
    expect(callsOf(id, "never")).toHaveLength(0);
    expect(end.completeTime).toBeDefined();
  });

  it("RetryStep runs a FAILED step again with a replaced config", async () => {
    const failed = await failedSaga(`retry-step-${protocol}`);
    const { saga } = await client.retryStep({ id: failed.id, step: "f", config: { failTimes: 0 } });
    expect(saga!.status).toBe(SagaStatus.RUNNING);
    expect(step(saga!, "f").status).toBe(StepStatus.RUNNING);
    // Attempts started so far: the failed one and the one RetryStep just started.
    expect(step(saga!, "f").retryCount).toBe(2);
    expect(step(saga!, "f").config).toEqual({ failTimes: 0 });
    const done = await waitForStatus(client, failed.id, SagaStatus.COMPLETED);
    expect(step(done, "f").output).toEqual({ attempt: 2 });
    expect(callsOf(failed.id, "f").map((c) => c.config)).toEqual([{ failTimes: 1 }, { failTimes: 0 }]);
  });

  it("SkipStep skips a FAILED step; dependents read the stand-in output", async () => {
    const { saga: created } = await client.createSaga({
      name: `skip-${protocol}`,
      steps: [
        { name: "a", action: "fail", retryPolicy: ONE_ATTEMPT },
        { name: "b", action: "record", dependsOn: ["a"], config: { got: "{{steps.a.output.v}}" } },
      ],
    });
    await waitForStatus(client, created!.id, SagaStatus.FAILED);
    const { saga } = await client.skipStep({ id: created!.id, step: "a", output: { v: "stand-in" } });
    expect(step(saga!, "a").status).toBe(StepStatus.SKIPPED);
    expect(step(saga!, "a").output).toEqual({ v: "stand-in" });
    expect(saga!.status).toBe(SagaStatus.RUNNING);
    const done = await waitForStatus(client, created!.id, SagaStatus.COMPLETED);
    expect(step(done, "b").output).toEqual({ got: "stand-in", step: "b", attempt: 1 });
    expect(done.outputs["a"]).toEqual({ v: "stand-in" });
  });

  it("WatchSaga streams a snapshot, then every event to the resting state", async () => {
    const { saga } = await client.createSaga({
      name: `watch-${protocol}`,
      steps: [
        { name: "g", action: "gate" },
        { name: "n", action: "noop", dependsOn: ["g"] },
      ],
    });
    const id = saga!.id;
    const stream = client.watchSaga({ id })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.done).toBe(false);
    expect(first.value!.kind.case).toBe("snapshot");
    const snapshot = first.value!.kind.value as Saga;
    expect(snapshot.id).toBe(id);
    t.release(id, "g");
    const rest = [];
    for (let r = await stream.next(); !r.done; r = await stream.next()) rest.push(r.value);
    const events = eventsOf(rest);
    expect(events).toHaveLength(rest.length);
    expectConsecutive(events, snapshot.sequence + 1n);
    expect(events.at(-1)!.type).toBe(EventType.SAGA_STATUS_CHANGED);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    expect(events.filter((e) => e.type === EventType.STEP_COMPLETED).map((e) => e.step)).toEqual(["g", "n"]);
    const { saga: final } = await client.getSaga({ id });
    expect(events.at(-1)!.sequence).toBe(final!.sequence);
  });
});
