import { durationMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { deferred, useFakeServer } from "./harness.js";

describe("worker in poll mode", () => {
  const env = useFakeServer();

  it("long-polls for free slots, acks and completes tasks, and never subscribes", async () => {
    const fake = env.fake();
    const gate = deferred();
    let running = 0;
    let max = 0;
    const worker = env.worker({
      mode: "poll",
      pollWaitMs: 1_000,
      slots: 2,
      actions: {
        act: async () => {
          max = Math.max(max, ++running);
          await gate.promise;
          running--;
          return { polled: true };
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.calls.poll.length >= 1, "first poll");
    const first = fake.calls.poll[0]!;
    expect(first).toMatchObject({ sessionId: "session-1", maxTasks: 2 });
    expect(durationMs(first.wait!)).toBe(1_000);
    for (let i = 1; i <= 3; i++) fake.offer({ token: `t${i}`, action: "act" }, "poll");
    await fake.waitFor(() => running === 2, "two running");
    gate.resolve();
    await fake.waitFor(() => fake.calls.complete.length === 3, "all complete");
    expect(max).toBe(2);
    expect(fake.calls.ack.flatMap((a) => a.tokens).sort()).toEqual(["t1", "t2", "t3"]);
    expect(fake.calls.subscribe).toHaveLength(0);
    // Each poll asks for no more than the slots free at that moment.
    expect(fake.calls.poll.every((p) => p.maxTasks >= 1 && p.maxTasks <= 2)).toBe(true);
  });

  it("registers again after a poll answers NOT_FOUND", async () => {
    const fake = env.fake();
    const worker = env.worker({ mode: "poll", instanceId: "poller", actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.calls.poll.length >= 1, "first poll");
    fake.expireSessions();
    await fake.waitFor(() => fake.calls.poll.at(-1)?.sessionId === "session-2", "poll on a new session");
    expect(fake.calls.register.map((r) => r.instanceId)).toEqual(["poller", "poller"]);
  });
});
