import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus } from "../../src/client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, RawWorker, sagaUntil } from "./worker-harness.js";

let db: TestDatabase;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  a = await startTestServer({ database: db, replicaId: "replica-a", workers: FAST_WORKERS });
  b = await startTestServer({ database: db, replicaId: "replica-b", workers: FAST_WORKERS });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});


describe("workers and replicas", () => {
  it("a worker on replica A runs a saga driven by replica B, and its result sent to B applies", async () => {
    const w = new RawWorker(a.workers(), "w-on-a", ["cross"]);
    await w.register();
    w.subscribe();
    const { saga } = await b.client().createSaga({ name: "cross", steps: [{ name: "x", action: "cross" }, { name: "y", action: "cross", dependsOn: ["x"] }] });
    const x = await w.nextTask(1);
    await w.ack(x);
    await b.workers().completeTask({ token: x.token, output: undefined });
    const y = await w.nextTask(2);
    expect(y.step).toBe("y");
    await w.ack(y);
    await b.workers().completeTask({ token: y.token });
    const done = await sagaUntil(a.client(), saga!.id, SagaStatus.COMPLETED);
    expect(done.steps.map((s) => s.status)).toEqual([StepStatus.COMPLETED, StepStatus.COMPLETED]);
    const listed = (await b.workers().listWorkers({})).workers.find((x) => x.instanceId === "w-on-a");
    expect(listed).toMatchObject({ replicaId: "replica-a", slots: 10 });
    await w.close();
  });

  it("a worker whose replica goes away resumes its session on another and finishes its task", async () => {
    const c = await startTestServer({ database: db, replicaId: "replica-c", workers: FAST_WORKERS });
    const w = new RawWorker(c.workers(), "w-moves", ["moving"]);
    const sessionId = await w.register();
    w.subscribe();
    const { saga } = await c.client().createSaga({ name: "moves", steps: [{ name: "m", action: "moving" }] });
    const task = await w.nextTask();
    await w.ack(task);
    await w.close();
    await c.close(); // the replica holding both the stream and the saga's lease
    const moved = new RawWorker(b.workers(), "w-moves", ["moving"]);
    expect(await moved.register()).toBe(sessionId); // same instance, session still alive: resumed
    moved.running.add(task);
    moved.subscribe();
    await b.workers().completeTask({ token: task.token });
    const done = await sagaUntil(b.client(), saga!.id, SagaStatus.COMPLETED);
    expect(done.steps[0]!.retryCount).toBe(1);
    await moved.close();
  });
});
