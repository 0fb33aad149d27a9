import { readFileSync } from "node:fs";
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { TaskPhase } from "../../src/gen/saga/v1/worker_pb.js";
import { ActionError, type TaskContext } from "../../src/sdk/index.js";
import { useFakeServer } from "./harness.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

describe("worker tasks", () => {
  const env = useFakeServer();

  it("registers, subscribes, acks a pushed task and completes it with the handler's output", async () => {
    const fake = env.fake();
    let seen: TaskContext | undefined;
    const worker = env.worker({
      instanceId: "w-1",
      slots: 3,
      labels: { region: "eu" },
      actions: {
        "charge-card": async (ctx) => {
          seen = ctx;
          return { chargeId: "ch_1", amount: ctx.input.amount };
        },
        refund: { handler: () => undefined, maxConcurrency: 2 },
      },
    });
    await worker.start();
    expect(fake.calls.register).toHaveLength(1);
    expect(fake.registerHeaders[0]).toEqual({ contentType: "application/proto", authorization: "Bearer sagad_test" });
    const reg = fake.calls.register[0]!;
    expect(reg.instanceId).toBe("w-1");
    expect(reg.slots).toBe(3);
    expect(reg.labels).toEqual({ region: "eu" });
    expect(reg.sdk).toBe(`sagad-ts/${pkg.version}`);
    expect(reg.actions.map((a) => [a.name, a.maxConcurrency])).toEqual([
      ["charge-card", 0],
      ["refund", 2],
    ]);
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    expect(fake.calls.subscribe[0]!.sessionId).toBe("session-1");

    const token = fake.offer({
      token: "t1",
      action: "charge-card",
      phase: TaskPhase.COMPENSATION,
      config: { amount: 42 },
      vars: { customer: "c1" },
      outputs: { reserve: { id: "r1" } },
      attempt: 2,
      delivery: 3,
      idempotencyKey: "s1/charge/compensate",
      lastProgress: { page: 7 },
    });
    await fake.waitFor(() => fake.calls.complete.length === 1, "complete");
    expect(fake.calls.ack.map((a) => [a.sessionId, a.tokens])).toEqual([["session-1", [token]]]);
    const complete = fake.calls.complete[0]!;
    expect(complete.token).toBe(token);
    expect(toJson(ValueSchema, complete.output!)).toEqual({ chargeId: "ch_1", amount: 42 });
    expect(seen).toMatchObject({
      config: { amount: 42 },
      vars: { customer: "c1" },
      outputs: { reserve: { id: "r1" } },
      sagaId: "s1",
      sagaName: "order",
      step: "charge",
      action: "charge-card",
      phase: "compensate",
      attempt: 2,
      delivery: 3,
      idempotencyKey: "s1/charge/compensate",
      lastProgress: { page: 7 },
    });
    expect(seen!.input).toBe(seen!.config);
    expect(seen!.signal.aborted).toBe(false);
  });

  it("sends {} for undefined, wraps a non-object and fails non-JSON output as INVALID_OUTPUT", async () => {
    const fake = env.fake();
    const results: Record<string, unknown> = { a: undefined, b: 42, c: { at: new Date(0) } };
    const worker = env.worker({ actions: { act: (ctx) => results[ctx.step] } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    for (const step of Object.keys(results)) fake.offer({ token: step, step, action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 2 && fake.calls.fail.length === 1, "results");
    const outputs = Object.fromEntries(fake.calls.complete.map((c) => [c.token, toJson(ValueSchema, c.output!)]));
    expect(outputs).toEqual({ a: {}, b: { value: 42 } });
    expect(fake.calls.fail[0]).toMatchObject({ token: "c", errorKind: "INVALID_OUTPUT", retryable: false });
  });

  it("maps an ActionError to FailTask with its kind, retryable and retry_after", async () => {
    const fake = env.fake();
    const worker = env.worker({
      actions: {
        act: () => {
          throw new ActionError("card declined", { kind: "CARD_DECLINED", retryable: false, retryAfterMs: 1500 });
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.fail.length === 1, "fail");
    const fail = fake.calls.fail[0]!;
    expect(fail).toMatchObject({ token: "t1", errorKind: "CARD_DECLINED", message: "card declined", retryable: false });
    expect(durationMs(fail.retryAfter!)).toBe(1500);
    expect(fake.calls.complete).toHaveLength(0);
  });

  it("maps any other throw to a retryable ERROR without retry_after", async () => {
    const fake = env.fake();
    const worker = env.worker({
      actions: {
        act: async () => {
          throw new Error("socket hang up");
        },
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.fail.length === 1, "fail");
    expect(fake.calls.fail[0]).toMatchObject({ errorKind: "ERROR", message: "socket hang up", retryable: true });
    expect(fake.calls.fail[0]!.retryAfter).toBeUndefined();
  });

  it("aborts the signal and fails TIMEOUT when the attempt's timeout runs out", async () => {
    const fake = env.fake();
    let reason: unknown;
    const worker = env.worker({
      actions: {
        act: (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject((reason = ctx.signal.reason) as Error)),
          ),
      },
    });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act", timeout: durationFromMs(50) });
    await fake.waitFor(() => fake.calls.fail.length === 1, "fail");
    expect(fake.calls.fail[0]).toMatchObject({ errorKind: "TIMEOUT", retryable: true });
    expect(reason).toMatchObject({ name: "AbortError", abortCause: "timeout" });
  });

  it("speaks gRPC when asked to", async () => {
    const fake = env.fake();
    const worker = env.worker({ protocol: "grpc", actions: { act: () => ({ ok: true }) } });
    await worker.start();
    await fake.waitFor(() => fake.openStreams === 1, "subscribe");
    fake.offer({ token: "t1", action: "act" });
    await fake.waitFor(() => fake.calls.complete.length === 1, "complete");
    expect(toJson(ValueSchema, fake.calls.complete[0]!.output!)).toEqual({ ok: true });
    expect(fake.registerHeaders[0]).toEqual({ contentType: "application/grpc+proto", authorization: "Bearer sagad_test" });
  });
});
