import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, TaskState } from "../../src/client/index.js";
import { eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, RawWorker, connectWorker, sagaUntil } from "./worker-harness.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
});
afterAll(async () => {
  await t?.close();
});

const worker = (actions: string[], slots = 10) => connectWorker(t.workers(), "w-delivery", actions, slots);

const get = async (id: string) => (await t.client().getSaga({ id })).saga!;
const events = (id: string) => sagaHistory(t.client(), id);

describe("delivery", () => {
  it("an offer nobody acknowledges is offered again without using an attempt", async () => {
    const w = await worker(["ack-late"]);
    const { saga } = await t.client().createSaga({ name: "ack", steps: [{ name: "a", action: "ack-late" }] });
    const first = await w.nextTask(1);
    expect(first).toMatchObject({ attempt: 1, delivery: 1 });
    const second = await w.nextTask(2); // after the 1 s ack timeout
    expect(second).toMatchObject({ attempt: 1, delivery: 2 });
    expect(second.token).not.toBe(first.token);
    expect(await w.ack(first)).toEqual([first.token]); // the old offer is gone
    expect(await w.ack(second)).toEqual([]);
    await w.complete(second, { ok: true });
    const done = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.COMPLETED);
    expect(done.steps[0]!.retryCount).toBe(1);
    await w.close();
  });

  it("a session whose heartbeats stop loses its task to another worker, same attempt, with STEP_RECOVERED", async () => {
    const lost = await worker(["lose-me"]);
    const { saga } = await t.client().createSaga({ name: "lost", steps: [{ name: "a", action: "lose-me" }] });
    const task = await lost.nextTask();
    await lost.ack(task);
    await lost.close(); // and never heartbeat: the session dies after 3 × 300 ms
    const rescuer = await worker(["lose-me"]);
    const again = await rescuer.nextTask();
    expect(again).toMatchObject({ attempt: 1, delivery: 2, idempotencyKey: task.idempotencyKey });
    await rescuer.ack(again);
    expect((await get(saga!.id)).steps[0]).toMatchObject({ worker: rescuer.instanceId, taskRequeues: 1, taskState: TaskState.RUNNING });
    await rescuer.complete(again, { by: "rescuer" });
    await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.COMPLETED);
    const recovered = eventsOfType(await events(saga!.id), EventType.STEP_RECOVERED);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.message).toMatch(new RegExp(`worker ${lost.instanceId} stopped heartbeating \\(requeue 1 of at most 2\\)`));
    // The lost worker's late result is refused: its delivery was superseded.
    await expect(lost.complete(task, { by: "lost" })).rejects.toThrow(/no longer current/);
    await rescuer.close();
  });

  it("requeues after lost workers are capped; then the step fails with WORKER_LOST", async () => {
    const { saga } = await t.client().createSaga({ name: "cap", steps: [{ name: "a", action: "poison" }] });
    for (let i = 1; i <= 3; i++) {
      const w = await worker(["poison"]);
      const task = await w.nextTask();
      expect(task.delivery).toBe(i);
      await w.ack(task);
      await w.close();
      if (i < 3) await sagaUntil(t.client(), saga!.id, (s) => s.steps[0]!.taskRequeues === i && s.steps[0]!.taskState === TaskState.QUEUED);
    }
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]).toMatchObject({ status: StepStatus.FAILED, errorKind: "WORKER_LOST", retryCount: 1 });
    expect(failed.steps[0]!.error).toMatch(/lost 3 times \(at most 2 requeues\)/);
  });

  it("offers only go to free slots, and a result frees one", async () => {
    const w = await worker(["slotted"], 2);
    const { saga } = await t.client().createSaga({ name: "slots", steps: ["a", "b", "c", "d"].map((name) => ({ name, action: "slotted" })) });
    const [a, b] = [await w.nextTask(1), await w.nextTask(2)];
    await w.ack(a, b);
    // Heartbeats keep the session; no third offer while both slots are taken.
    for (let i = 0; i < 4; i++) {
      await w.heartbeat([a, b]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(w.tasks).toHaveLength(2);
    await w.complete(a, {});
    const c = await w.nextTask(3);
    await w.ack(c);
    expect(w.tasks).toHaveLength(3);
    await w.complete(b, {});
    await w.complete(c, {});
    const d = await w.nextTask(4);
    await w.ack(d);
    await w.complete(d, {});
    await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.COMPLETED);
    await w.close();
  });

  it("a draining session gets no new tasks but may finish the ones it holds", async () => {
    const w = await worker(["drained"]);
    const { saga } = await t.client().createSaga({
      name: "drain",
      steps: [{ name: "a", action: "drained" }, { name: "b", action: "drained", dependsOn: ["a"] }],
    });
    const a = await w.nextTask();
    await w.ack(a);
    expect((await t.workers().drain({ sessionId: w.sessionId })).inFlight).toBe(1);
    await w.waitFor(() => w.messages.some((m) => m.message.case === "drain"));
    await w.complete(a, {});
    await new Promise((r) => setTimeout(r, 300));
    expect(w.tasks).toHaveLength(1); // b was not offered to the draining session
    expect((await get(saga!.id)).steps[1]!.taskState).toBe(TaskState.QUEUED);
    const next = await worker(["drained"]);
    const b = await next.nextTask();
    expect(b.step).toBe("b");
    await next.ack(b);
    await next.complete(b, {});
    await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.COMPLETED);
    const listed = (await t.workers().listWorkers({ action: "drained" })).workers;
    expect(listed.find((x) => x.instanceId === w.instanceId)?.draining).toBe(true);
    await w.close();
    await next.close();
  });
});

describe("workers that only look alive", () => {
  it("a process restarted under the same instance id gets its predecessor's running task offered again", async () => {
    const before = await worker(["restarted"]);
    const { saga } = await t.client().createSaga({ name: "restart", steps: [{ name: "a", action: "restarted" }] });
    const task = await before.nextTask();
    await before.ack(task);
    await before.close();
    const after = new RawWorker(t.workers(), before.instanceId, ["restarted"]);
    expect(await after.register()).toBe(before.sessionId); // the session lives on; the task does not
    after.subscribe();
    const again = await after.nextTask();
    expect(again).toMatchObject({ attempt: 1, delivery: 2 });
    await after.ack(again);
    await after.complete(again, {});
    await sagaUntil(t.client(), saga!.id, SagaStatus.COMPLETED);
    const recovered = eventsOfType(await events(saga!.id), EventType.STEP_RECOVERED);
    expect(recovered.map((e) => e.message)).toEqual([
      `attempt 1 of step a offered again: worker ${before.instanceId} no longer lists it in its heartbeats (restarted?) (requeue 1 of at most 2)`,
    ]);
    await after.close();
  });

  it("a stream whose session expired is closed, and an offer nobody acknowledged goes to a worker that answers", async () => {
    const silent = await worker(["silenced"]);
    const { saga } = await t.client().createSaga({ name: "silenced", steps: [{ name: "a", action: "silenced" }] });
    await silent.nextTask(); // never acknowledged
    const answering = await worker(["silenced"]);
    const task = await answering.nextTask();
    // Delivery 2, unless the first offer expired before `answering` had subscribed (a loaded
    // machine): then, nobody else there, the silent session got it again first.
    expect(task.delivery).toBeGreaterThanOrEqual(2);
    silent.stopHeartbeats();
    // Its session expires while the stream still looks open: the replica ends the stream.
    await silent.waitFor(() => silent.ended, 5_000);
    await answering.ack(task);
    await answering.complete(task, {});
    await sagaUntil(t.client(), saga!.id, SagaStatus.COMPLETED);
    await silent.close();
    await answering.close();
  });
});
