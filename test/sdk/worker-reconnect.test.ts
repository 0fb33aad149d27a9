import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { sleep, useFakeServer } from "./harness.js";

describe("worker reconnects", () => {
  const env = useFakeServer();

  it("subscribes again after the server drops the stream, and keeps taking tasks", async () => {
    const fake = env.fake();
    const worker = env.worker({ actions: { act: () => ({ ok: 1 }) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.endStreams(new ConnectError("replica restarting", Code.Unavailable));
    await fake.waitFor(() => fake.calls.subscribe.length === 2 && fake.openStreams === 1, "second subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 1, "complete");
    expect(fake.calls.register).toHaveLength(1);
    expect(worker.logger.lines.some((l) => l.level === "warn" && /subscribe stream failed/.test(l.message))).toBe(true);
  });

  it("subscribes again at once when the server sends Reconnect", async () => {
    const fake = env.fake();
    const worker = env.worker({ actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.push({ case: "reconnect", value: { reason: "stream age" } });
    await fake.waitFor(() => fake.calls.subscribe.length === 2 && fake.openStreams === 1, "second subscribe");
    expect(fake.calls.subscribe.map((s) => s.sessionId)).toEqual(["session-1", "session-1"]);
  });

  it("after NOT_FOUND registers again with the same instance_id and subscribes with the new session", async () => {
    const fake = env.fake();
    const worker = env.worker({ instanceId: "w-resume", actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.expireSessions();
    fake.endStreams();
    await fake.waitFor(() => fake.openStreams === 1 && fake.calls.subscribe.at(-1)!.sessionId === "session-2", "new session");
    expect(fake.calls.register.map((r) => r.instanceId)).toEqual(["w-resume", "w-resume"]);
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 1, "complete");
    expect(fake.calls.ack.at(-1)!.sessionId).toBe("session-2");
    await fake.waitFor(() => fake.calls.heartbeat.at(-1)?.sessionId === "session-2", "heartbeats on the new session");
  });

  it("re-registers when a heartbeat answers NOT_FOUND, and the stream moves to the new session", async () => {
    const fake = env.fake();
    const worker = env.worker({ actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.expireSessions(); // the stream stays open; only the next heartbeat learns of it
    await fake.waitFor(() => fake.calls.register.length === 2, "register again");
    await fake.waitFor(() => fake.calls.subscribe.at(-1)?.sessionId === "session-2", "resubscribe");
  });

  it("treats a stream without any message for the idle timeout as dead", async () => {
    const fake = env.fake();
    const worker = env.worker({ streamIdleTimeoutMs: 150, actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.calls.subscribe.length >= 2, "resubscribe after idle", 3000);
    expect(worker.logger.lines.some((l) => /idle/.test(l.message))).toBe(true);
  });

  it("keepalives keep a quiet stream open", async () => {
    const fake = env.fake();
    const worker = env.worker({ streamIdleTimeoutMs: 150, actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    for (let i = 0; i < 8; i++) {
      fake.push({ case: "keepalive", value: {} });
      await sleep(50);
    }
    expect(fake.calls.subscribe).toHaveLength(1);
  });

  it("retries a result call after a transient error and sends it once it succeeds", async () => {
    const fake = env.fake();
    let failures = 1;
    fake.hooks.complete = () => {
      if (failures-- > 0) throw new ConnectError("overloaded", Code.Unavailable);
    };
    const worker = env.worker({ actions: { act: () => ({ n: 1 }) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 2, "second complete");
    expect(fake.calls.complete.map((c) => c.token)).toEqual(["t1", "t1"]);
  });

  it("drops a result the server refuses as STALE_ATTEMPT instead of retrying it", async () => {
    const fake = env.fake();
    fake.hooks.complete = () => {
      throw new ConnectError("STALE_ATTEMPT", Code.FailedPrecondition);
    };
    const worker = env.worker({ actions: { act: () => ({}) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => worker.logger.lines.some((l) => /superseded/.test(l.message)), "stale logged");
    await sleep(300);
    expect(fake.calls.complete).toHaveLength(1);
    // The slot is free again: heartbeats no longer list the task.
    await fake.waitFor(() => fake.calls.heartbeat.at(-1)?.tasks.length === 0, "idle heartbeat");
  });
});
