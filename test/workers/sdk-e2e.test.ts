import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus } from "../../src/client/index.js";
import { ActionError, createWorker, type TaskContext, type Worker } from "../../src/sdk/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, sagaUntil } from "./worker-harness.js";

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
  token = (await t.issueToken(["workers"], "sdk-e2e")).token;
});
afterAll(async () => {
  await t?.close();
});


describe("sagad/worker against a real sagad", () => {
  const workers: Worker[] = [];
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });

  for (const mode of ["subscribe", "poll"] as const) {
    it(`runs a saga's steps and compensations (${mode})`, async () => {
      const seen: TaskContext[] = [];
      const prefix = `sdk-${mode}`;
      const worker = createWorker({
        url: t.server.url,
        token,
        mode,
        pollWaitMs: 1_000,
        instanceId: `${prefix}-worker`,
        actions: {
          [`${prefix}-reserve`]: async (ctx) => {
            seen.push(ctx);
            return { reservation: `r-${ctx.config.sku}` };
          },
          [`${prefix}-charge`]: async (ctx) => {
            seen.push(ctx);
            if (ctx.attempt === 1) throw new ActionError("gateway hiccup", { kind: "GATEWAY", retryable: true });
            throw new ActionError("card declined", { kind: "DECLINED", retryable: false });
          },
          [`${prefix}-release`]: async (ctx) => {
            seen.push(ctx);
            return undefined;
          },
        },
      });
      workers.push(worker);
      await worker.start();
      const { saga } = await t.client().createSaga({
        name: prefix,
        failurePolicy: 2, // COMPENSATE
        vars: { sku: "A-1" },
        steps: [
          { name: "reserve", action: `${prefix}-reserve`, config: { sku: "{{vars.sku}}" }, compensate: { action: `${prefix}-release`, config: { r: "{{steps.reserve.output.reservation}}" } } },
          { name: "charge", action: `${prefix}-charge`, dependsOn: ["reserve"], retryPolicy: { maxAttempts: 3, initialInterval: { nanos: 10_000_000 } } },
        ],
      });
      const done = await sagaUntil(t.client(), saga!.id, SagaStatus.COMPENSATED);
      expect(done.steps.map((s) => StepStatus[s.status])).toEqual(["COMPENSATED", "FAILED"]);
      expect(done.steps[1]).toMatchObject({ errorKind: "DECLINED", retryCount: 2 });
      expect(seen.map((c) => `${c.step}:${c.phase}:${c.attempt}`)).toEqual(["reserve:action:1", "charge:action:1", "charge:action:2", "reserve:compensate:1"]);
      expect(seen[3]!.config).toEqual({ r: "r-A-1" });
      expect(seen[3]!.idempotencyKey).toBe(`${saga!.id}/reserve/compensate`);
    });
  }

  it("a cancel aborts the handler's signal and the step ends CANCELLED", async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const worker = createWorker({
      url: t.server.url,
      token,
      actions: {
        "sdk-wait-forever": (ctx) =>
          new Promise((_, reject) => {
            started();
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      },
    });
    workers.push(worker);
    await worker.start();
    const { saga } = await t.client().createSaga({ name: "sdk-cancel", steps: [{ name: "w", action: "sdk-wait-forever" }] });
    await running;
    await t.client().cancelSaga({ id: saga!.id, reason: "operator" });
    const done = await sagaUntil(t.client(), saga!.id, SagaStatus.CANCELLED);
    expect(done.steps[0]).toMatchObject({ status: StepStatus.CANCELLED, errorKind: "CANCELLED" });
  });

  it("stop() drains: the running task finishes and is recorded, nothing new is taken", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const worker = createWorker({
      url: t.server.url,
      token,
      instanceId: "sdk-drain",
      actions: {
        "sdk-drain-step": async () => {
          calls++;
          await gate;
          return { n: calls };
        },
      },
    });
    await worker.start();
    const { saga } = await t.client().createSaga({
      name: "sdk-drain",
      steps: [{ name: "a", action: "sdk-drain-step" }, { name: "b", action: "sdk-drain-step", dependsOn: ["a"] }],
    });
    while (calls === 0) await new Promise((r) => setTimeout(r, 10));
    const stopped = worker.stop();
    await new Promise((r) => setTimeout(r, 100));
    release();
    await stopped;
    const { saga: after } = await t.client().getSaga({ id: saga!.id });
    expect(after!.steps.map((s) => StepStatus[s.status])).toEqual(["COMPLETED", "RUNNING"]);
    expect(calls).toBe(1);
  });
});
