import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { TaskContext } from "../../src/sdk/index.js";
import { deferred, sleep, useFakeServer } from "./harness.js";

describe("worker stop", () => {
  const env = useFakeServer();

  it("drains: calls Drain, takes nothing new, lets the running task finish, then resolves", async () => {
    const fake = env.fake();
    const gate = deferred();
    const started: string[] = [];
    const worker = env.worker({
      stopGraceMs: 5_000,
      actions: {
        act: async (ctx) => {
          started.push(ctx.step);
          await gate.promise;
          return { finished: ctx.step };
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", step: "first", action: "act" });
    await fake.waitFor(() => started.length === 1, "first started");

    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await fake.waitFor(() => fake.calls.drain.length === 1, "drain");
    expect(fake.calls.drain[0]!.sessionId).toBe("session-1");
    fake.offer({ token: "t2", step: "second", action: "act" });
    await sleep(100);
    expect(stopped).toBe(false);
    // Heartbeats go on while the task runs, so its lease holds.
    const beats = fake.calls.heartbeat.length;
    await fake.waitFor(() => fake.calls.heartbeat.length > beats, "heartbeat while draining");
    expect(fake.calls.heartbeat.at(-1)!.tasks.map((t) => t.token)).toEqual(["t1"]);

    gate.resolve();
    await stopping;
    expect(started).toEqual(["first"]);
    expect(fake.calls.ack.flatMap((a) => a.tokens)).toEqual(["t1"]);
    expect(fake.calls.complete.map((c) => [c.token, toJson(ValueSchema, c.output!)])).toEqual([["t1", { finished: "first" }]]);
    await fake.waitFor(() => fake.openStreams === 0, "stream closed");
    const beatsAfterStop = fake.calls.heartbeat.length;
    await sleep(250);
    expect(fake.calls.heartbeat.length).toBe(beatsAfterStop);
  });

  it("aborts tasks still running after the grace and reports them as WORKER_STOPPED", async () => {
    const fake = env.fake();
    let ctx: TaskContext | undefined;
    const worker = env.worker({
      stopGraceMs: 100,
      actions: {
        act: (c) => {
          ctx = c;
          return new Promise((_, reject) => c.signal.addEventListener("abort", () => reject(c.signal.reason as Error)));
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => ctx !== undefined, "started");
    const t0 = Date.now();
    await worker.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(ctx!.signal.reason).toMatchObject({ abortCause: "shutdown" });
    expect(fake.calls.fail).toHaveLength(1);
    expect(fake.calls.fail[0]).toMatchObject({ token: "t1", errorKind: "WORKER_STOPPED", retryable: true });
  });

  it("stops taking tasks when the server drains the session on the stream", async () => {
    const fake = env.fake();
    let runs = 0;
    const worker = env.worker({ actions: { act: () => void runs++ } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.push({ case: "drain", value: {} });
    fake.offer({ token: "t1", action: "act" });
    await sleep(150);
    expect(runs).toBe(0);
    expect(fake.calls.ack).toHaveLength(0);
    expect(worker.logger.lines.some((l) => /draining/.test(l.message))).toBe(true);
  });

  it("a stop before start resolves without calling the server", async () => {
    const fake = env.fake();
    const worker = env.worker({ actions: { act: () => ({}) } });
    await worker.stop();
    await expect(worker.start()).rejects.toThrow(/stopped/);
    expect(fake.calls.register).toHaveLength(0);
  });

  it("SIGTERM through installSignalHandlers stops the worker", async () => {
    const fake = env.fake();
    const worker = env.worker({ actions: { act: () => ({}) } });
    const before = process.listenerCount("SIGTERM");
    worker.installSignalHandlers();
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    await worker.start();
    process.emit("SIGTERM");
    await fake.waitFor(() => fake.calls.drain.length === 1, "drain");
    await fake.waitFor(() => process.listenerCount("SIGTERM") === before, "handlers removed");
  });
});
