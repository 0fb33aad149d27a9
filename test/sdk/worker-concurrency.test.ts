import { describe, expect, it } from "vitest";
import { deferred, useFakeServer } from "./harness.js";

/** A handler that counts how many run at once and finishes each when the test releases it. */
function gauge() {
  const g = { now: 0, max: 0, started: 0, release: deferred() };
  const handler = async (): Promise<void> => {
    g.started++;
    g.max = Math.max(g.max, ++g.now);
    await g.release.promise;
    g.now--;
  };
  return Object.assign(g, { handler });
}

describe("worker concurrency", () => {
  const env = useFakeServer();

  it("runs at most `slots` tasks at once, acks the ones that fit together and the rest as slots free", async () => {
    const fake = env.fake();
    const g = gauge();
    const worker = env.worker({ slots: 2, actions: { act: g.handler } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    for (let i = 1; i <= 5; i++) fake.offer({ token: `t${i}`, action: "act" });
    await fake.waitFor(() => g.started === 2, "two started");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(g.started).toBe(2);
    expect(fake.calls.ack.map((a) => a.tokens)).toEqual([["t1", "t2"]]);
    g.release.resolve();
    await fake.waitFor(() => fake.calls.complete.length === 5, "all complete");
    expect(g.max).toBe(2);
    expect(fake.calls.ack.flatMap((a) => a.tokens).sort()).toEqual(["t1", "t2", "t3", "t4", "t5"]);
  });

  it("keeps an action under its maxConcurrency while other actions use the remaining slots", async () => {
    const fake = env.fake();
    const slow = gauge();
    const fast = gauge();
    const worker = env.worker({ slots: 4, actions: { slow: { handler: slow.handler, maxConcurrency: 1 }, fast: fast.handler } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    for (let i = 1; i <= 3; i++) fake.offer({ token: `s${i}`, action: "slow" });
    for (let i = 1; i <= 3; i++) fake.offer({ token: `f${i}`, action: "fast" });
    await fake.waitFor(() => slow.started === 1 && fast.started === 3, "one slow, three fast");
    fast.release.resolve();
    slow.release.resolve();
    await fake.waitFor(() => fake.calls.complete.length === 6, "all complete");
    expect(slow.max).toBe(1);
    expect(fast.max).toBe(3);
  });

  it("does not run a task whose ack the server refused, and frees its slot", async () => {
    const fake = env.fake();
    const g = gauge();
    g.release.resolve();
    fake.hooks.ack = (req) => ({ rejectedTokens: req.tokens.filter((t) => t === "gone") });
    const worker = env.worker({ slots: 1, actions: { act: g.handler } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "gone", action: "act" });
    fake.offer({ token: "t2", action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 1, "complete");
    expect(fake.calls.complete[0]!.token).toBe("t2");
    expect(g.started).toBe(1);
    expect(fake.calls.fail).toHaveLength(0);
  });
});
