import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { TaskContext } from "../../src/sdk/index.js";
import { sleep, useFakeServer } from "./harness.js";

/** A handler that runs until its signal fires, then rejects with the signal's reason. */
function untilAborted(seen: TaskContext[]) {
  return (ctx: TaskContext) => {
    seen.push(ctx);
    return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)));
  };
}

describe("worker cancels and heartbeats", () => {
  const env = useFakeServer();

  it("a cancel pushed on the stream aborts ctx.signal and is answered with ReportCancelled", async () => {
    const fake = env.fake();
    const seen: TaskContext[] = [];
    const worker = env.worker({ actions: { act: untilAborted(seen) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => seen.length === 1, "task started");
    expect(seen[0]!.signal.aborted).toBe(false);
    fake.push({ case: "cancel", value: { token: "t1", reason: "saga cancelled" } });
    await fake.waitFor(() => fake.calls.cancelled.length === 1, "report cancelled");
    expect(fake.calls.cancelled[0]).toMatchObject({ token: "t1", message: "saga cancelled" });
    expect(seen[0]!.signal.reason).toMatchObject({ name: "AbortError", abortCause: "cancelled" });
    expect(fake.calls.fail).toHaveLength(0);
  });

  it("a cancel in a heartbeat answer aborts the task; unknown tokens abort it without any report", async () => {
    const fake = env.fake();
    const seen: TaskContext[] = [];
    fake.hooks.heartbeat = (req) => {
      const tokens = req.tasks.map((t) => t.token);
      return {
        cancel: tokens.includes("t-cancel") ? [{ token: "t-cancel", reason: "attempt timed out" }] : [],
        unknownTokens: tokens.filter((t) => t === "t-unknown"),
      };
    };
    const worker = env.worker({ actions: { act: untilAborted(seen) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t-cancel", action: "act" });
    fake.offer({ token: "t-unknown", action: "act" });
    await fake.waitFor(() => seen.length === 2 && seen.every((ctx) => ctx.signal.aborted), "both aborted");
    await fake.waitFor(() => fake.calls.cancelled.length === 1, "report cancelled");
    expect(fake.calls.cancelled[0]).toMatchObject({ token: "t-cancel", message: "attempt timed out" });
    expect(seen.map((ctx) => (ctx.signal.reason as { abortCause: string }).abortCause).sort()).toEqual(["cancelled", "superseded"]);
    // The superseded task leaves the heartbeats and is never reported.
    const beats = fake.calls.heartbeat.length;
    await fake.waitFor(() => fake.calls.heartbeat.length >= beats + 2, "two more heartbeats");
    expect(fake.calls.heartbeat.at(-1)!.tasks).toEqual([]);
    expect([...fake.calls.complete, ...fake.calls.fail, ...fake.calls.cancelled].map((r) => r.token)).toEqual(["t-cancel"]);
  });

  it("heartbeats every interval list the running tokens and carry recorded progress once", async () => {
    const fake = env.fake();
    let ctx: TaskContext | undefined;
    const worker = env.worker({
      actions: {
        act: async (c) => {
          ctx = c;
          await new Promise((resolve) => c.signal.addEventListener("abort", resolve));
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.calls.heartbeat.length >= 1, "an idle heartbeat");
    expect(fake.calls.heartbeat[0]!.sessionId).toBe("session-1");
    expect(fake.calls.heartbeat[0]!.tasks).toEqual([]);
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => ctx !== undefined, "task started");
    ctx!.heartbeat({ rows: 10 });
    await fake.waitFor(() => fake.calls.heartbeat.some((h) => h.tasks[0]?.progress !== undefined), "progress");
    const withProgress = fake.calls.heartbeat.findIndex((h) => h.tasks[0]?.progress !== undefined);
    expect(fake.calls.heartbeat[withProgress]!.tasks.map((t) => [t.token, t.progress])).toEqual([["t1", { rows: 10 }]]);
    await fake.waitFor(() => fake.calls.heartbeat.length >= withProgress + 3, "later heartbeats");
    const later = fake.calls.heartbeat.slice(withProgress + 1);
    expect(later.every((h) => h.tasks.length === 1 && h.tasks[0]!.token === "t1" && h.tasks[0]!.progress === undefined)).toBe(true);
    // The interval comes from RegisterWorker (100 ms): 3 beats take at least ~200 ms, not 5 s.
    const start = fake.calls.heartbeat.length;
    const t0 = Date.now();
    await fake.waitFor(() => fake.calls.heartbeat.length >= start + 3, "three beats");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("progress recorded half an interval after the last beat goes out at once, not at the next beat", async () => {
    const fake = env.fake();
    fake.heartbeatIntervalMs = 1_000;
    let ctx: TaskContext | undefined;
    const worker = env.worker({
      actions: {
        act: async (c) => {
          ctx = c;
          await new Promise((resolve) => c.signal.addEventListener("abort", resolve));
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => ctx !== undefined, "task started");
    await sleep(600);
    const beats = fake.calls.heartbeat.length;
    ctx!.heartbeat({ step: 1 });
    const t0 = Date.now();
    await fake.waitFor(() => fake.calls.heartbeat.length > beats, "early heartbeat");
    expect(Date.now() - t0).toBeLessThan(300);
    expect(fake.calls.heartbeat.at(-1)!.tasks).toEqual([expect.objectContaining({ token: "t1", progress: { step: 1 } })]);
    // Right after a beat, more progress waits for the next one instead of beating again.
    ctx!.heartbeat({ step: 2 });
    await sleep(150);
    expect(fake.calls.heartbeat.length).toBe(beats + 1);
  });

  it("beats at half a running task's heartbeat timeout when that is sooner than the interval", async () => {
    const fake = env.fake();
    fake.heartbeatIntervalMs = 2_000;
    const worker = env.worker({
      actions: { act: (c) => new Promise((resolve) => c.signal.addEventListener("abort", resolve)) },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act", heartbeatTimeout: durationFromMs(200) });
    await fake.waitFor(() => fake.calls.heartbeat.filter((h) => h.tasks.length === 1).length >= 3, "three task beats", 1_500);
  });

  it("rejects a progress value that is not a JSON object in the handler's own call", async () => {
    const fake = env.fake();
    const worker = env.worker({
      actions: {
        act: (ctx) => {
          ctx.heartbeat([1, 2] as never);
          return { unreachable: true };
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.fail.length === 1, "fail");
    expect(fake.calls.fail[0]!.message).toMatch(/progress must be a JSON object/);
  });
});
