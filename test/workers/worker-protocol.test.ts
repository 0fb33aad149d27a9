import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus, TaskPhase, TaskState } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { expectCode } from "../helpers/rpc.js";
import { FAST_WORKERS, RawWorker, sagaUntil } from "./worker-harness.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
});
afterAll(async () => {
  await t?.close();
});


describe("a worker step", () => {
  it("is offered on the stream, acknowledged, completed, and its output recorded", async () => {
    const worker = new RawWorker(t.workers(), "w-basic", ["charge-card"]);
    await worker.register();
    worker.subscribe();
    const { saga } = await t.client().createSaga({
      name: "order",
      vars: { amount: "42" },
      steps: [{ name: "charge", action: "charge-card", config: { amount: "{{vars.amount}}" } }],
    });
    const task = await worker.nextTask();
    expect(task).toMatchObject({ sagaId: saga!.id, step: "charge", action: "charge-card", attempt: 1, delivery: 1, phase: TaskPhase.ACTION });
    expect(task.config).toEqual({ amount: "42" });
    expect(task.idempotencyKey).toBe(`${saga!.id}/charge`);
    const offered = (await t.client().getSaga({ id: saga!.id })).saga!.steps[0]!;
    expect(offered.status).toBe(StepStatus.RUNNING);
    expect(offered.taskState).toBe(TaskState.OFFERED);
    expect(offered.worker).toBe("w-basic");

    expect(await worker.ack(task)).toEqual([]);
    expect((await t.client().getSaga({ id: saga!.id })).saga!.steps[0]!.taskState).toBe(TaskState.RUNNING);

    expect((await worker.complete(task, { chargeId: "ch_1" })).alreadyRecorded).toBe(false);
    const done = await sagaUntil(t.client(), saga!.id, SagaStatus.COMPLETED);
    expect(done.steps[0]!.output).toEqual({ chargeId: "ch_1" });
    expect(done.steps[0]!.taskState).toBe(TaskState.UNSPECIFIED);

    // The same report again is recognised; another one for the same token is stale.
    expect((await worker.complete(task, { chargeId: "ch_1" })).alreadyRecorded).toBe(true);
    const stale = await expectCode(worker.complete(task, { chargeId: "other" }), Code.FailedPrecondition);
    expect(stale.message).toMatch(/no longer current/);
    await worker.close();
  });
});
