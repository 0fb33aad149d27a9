import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, TaskPhase, TaskState } from "../../src/client/index.js";
import { eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { errorInfo, expectCode, ms } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, RawWorker, connectWorker, sagaUntil, toValue } from "./worker-harness.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
});
afterAll(async () => {
  await t?.close();
});

const worker = (actions: string[]) => connectWorker(t.workers(), "w-results", actions);
const get = async (id: string) => (await t.client().getSaga({ id })).saga!;

describe("results", () => {
  it("a retryable failure is retried after at least retry_after; a non-retryable one fails the step", async () => {
    const w = await worker(["flaky"]);
    const { saga } = await t.client().createSaga({
      name: "flaky",
      steps: [{ name: "a", action: "flaky", retryPolicy: { maxAttempts: 3, initialInterval: ms(10), backoff: 1 } }],
    });
    const first = await w.nextTask(1);
    await w.ack(first);
    const failedAt = Date.now();
    await t.workers().failTask({ token: first.token, errorKind: "RATE_LIMITED", message: "slow down", retryable: true, retryAfter: ms(500) });
    const scheduled = await sagaUntil(t.client(), saga!.id, (s) => s.steps[0]!.status === StepStatus.RETRY_SCHEDULED);
    expect(scheduled.steps[0]!.errorKind).toBe("RATE_LIMITED");
    expect(timestampMs(scheduled.steps[0]!.nextAttemptTime!) - failedAt).toBeGreaterThanOrEqual(450);
    const second = await w.nextTask(2);
    expect(second.attempt).toBe(2);
    await w.ack(second);
    await t.workers().failTask({ token: second.token, errorKind: "CARD_DECLINED", message: "declined", retryable: false, details: { code: "05" } });
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]).toMatchObject({ status: StepStatus.FAILED, errorKind: "CARD_DECLINED", error: 'declined {"code":"05"}', retryCount: 2 });
    await w.close();
  });

  it("an output that is not a JSON object fails the step as non-retryable, and the call says so", async () => {
    const w = await worker(["listy"]);
    const { saga } = await t.client().createSaga({ name: "listy", steps: [{ name: "a", action: "listy", retryPolicy: { maxAttempts: 5 } }] });
    const task = await w.nextTask();
    await w.ack(task);
    const err = await expectCode(t.workers().completeTask({ token: task.token, output: toValue([1, 2]) }), Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/output: the worker's output is not a JSON object \(got an array\).*recorded as failed/);
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]).toMatchObject({ errorKind: "OUTPUT_NOT_OBJECT", retryCount: 1 });
    await w.close();
  });

  it("a token that is not ours is INVALID_ARGUMENT naming the field; a stale one is STALE_ATTEMPT", async () => {
    const forged = await expectCode(t.workers().completeTask({ token: "sgt1.eyJ4IjoxfQ.AAAA" }), Code.InvalidArgument);
    expect(forged.rawMessage).toMatch(/^token: not a task token/);
    const w = await worker(["stale"]);
    const { saga } = await t.client().createSaga({ name: "stale", steps: [{ name: "a", action: "stale" }] });
    const task = await w.nextTask();
    await w.ack(task);
    await t.client().cancelSaga({ id: saga!.id, reason: "test" });
    await t.workers().reportCancelled({ token: task.token, message: "stopped" });
    await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.CANCELLED);
    const stale = await expectCode(t.workers().failTask({ token: task.token, errorKind: "X", retryable: true }), Code.FailedPrecondition);
    expect(errorInfo(stale)?.reason).toBe("STALE_ATTEMPT");
    expect((await get(saga!.id)).steps[0]!.status).toBe(StepStatus.CANCELLED);
    await w.close();
  });

  it("a cancel is pushed on the stream and repeated in every heartbeat answer until reported", async () => {
    const w = await worker(["long-op"]);
    const { saga } = await t.client().createSaga({ name: "cancel-push", steps: [{ name: "a", action: "long-op" }] });
    const task = await w.nextTask();
    await w.ack(task);
    await t.client().cancelSaga({ id: saga!.id, reason: "customer left" });
    const pushed = await w.waitFor(() => w.messages.find((m) => m.message.case === "cancel"));
    expect(pushed.message.value).toMatchObject({ token: task.token, reason: "cancelled: customer left" });
    for (let i = 0; i < 2; i++) {
      const answer = await w.heartbeat([task]);
      expect(answer.cancel.map((c) => c.token)).toEqual([task.token]);
    }
    expect((await t.workers().reportCancelled({ token: task.token })).alreadyRecorded).toBe(false);
    const cancelled = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.CANCELLED);
    expect(cancelled.steps[0]).toMatchObject({ status: StepStatus.CANCELLED, errorKind: "CANCELLED" });
    expect((await w.heartbeat([task])).unknownTokens).toEqual([task.token]);
    expect((await t.workers().reportCancelled({ token: task.token })).alreadyRecorded).toBe(true);
    await w.close();
  });

  it("a success after a cancel is recorded, and the step is compensated on a worker too", async () => {
    const w = await worker(["book", "unbook"]);
    const { saga } = await t.client().createSaga({
      name: "late-success",
      steps: [{ name: "a", action: "book", compensate: { action: "unbook", config: { booking: "{{steps.a.output.id}}" } } }],
    });
    const task = await w.nextTask(1);
    await w.ack(task);
    await t.client().cancelSaga({ id: saga!.id, reason: "too late" });
    await w.complete(task, { id: "b-7" });
    const undo = await w.nextTask(2);
    expect(undo).toMatchObject({ phase: TaskPhase.COMPENSATION, action: "unbook", attempt: 1, idempotencyKey: `${saga!.id}/a/compensate` });
    expect(undo.config).toEqual({ booking: "b-7" });
    expect((await get(saga!.id)).steps[0]!.taskState).toBe(TaskState.OFFERED);
    await w.ack(undo);
    await w.complete(undo, {});
    const done = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.CANCELLED);
    expect(done.steps[0]!.status).toBe(StepStatus.COMPENSATED);
    const history = await sagaHistory(t.client(), saga!.id);
    expect(eventsOfType(history, EventType.STEP_COMPLETED)).toHaveLength(1);
    expect(eventsOfType(history, EventType.COMPENSATION_COMPLETED)).toHaveLength(1);
    await w.close();
  });

  it("the start-to-close timeout fails the attempt however many heartbeats arrive, and cancels the task", async () => {
    const w = await worker(["slowpoke"]);
    const { saga } = await t.client().createSaga({
      name: "timeout",
      steps: [{ name: "a", action: "slowpoke", retryPolicy: { maxAttempts: 1, timeout: ms(300) } }],
    });
    const task = await w.nextTask();
    expect(task.timeout).toMatchObject({ nanos: 300_000_000 });
    await w.ack(task); // heartbeats go on in the background
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]).toMatchObject({ errorKind: "TIMEOUT", error: "attempt 1 timed out after 300ms" });
    await w.waitFor(() => w.messages.find((m) => m.message.case === "cancel" && m.message.value.reason === "attempt timed out"));
    expect((await w.heartbeat([task])).cancel.map((c) => c.reason)).toEqual(["attempt timed out"]);
    expect(errorInfo(await expectCode(w.complete(task, {}), Code.FailedPrecondition))?.reason).toBe("STALE_ATTEMPT");
    await w.close();
  });

  it("the heartbeat timeout fails an attempt whose worker stops listing it", async () => {
    const w = await worker(["quiet"]);
    const { saga } = await t.client().createSaga({
      name: "hb-timeout",
      steps: [{ name: "a", action: "quiet", retryPolicy: { maxAttempts: 1, heartbeatTimeout: ms(300) } }],
    });
    const task = await w.nextTask();
    await w.ack(task);
    w.running.delete(task); // the session stays alive, but this task is no longer listed
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]!.errorKind).toBe("HEARTBEAT_TIMEOUT");
    await w.close();
  });

  it("the schedule-to-start timeout fails an attempt no worker takes", async () => {
    const { saga } = await t.client().createSaga({
      name: "nobody",
      steps: [{ name: "a", action: "nobody-serves-this", retryPolicy: { maxAttempts: 1, scheduleToStartTimeout: ms(300) } }],
    });
    expect((await get(saga!.id)).steps[0]!.taskState).toBe(TaskState.QUEUED);
    const failed = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.FAILED);
    expect(failed.steps[0]!.errorKind).toBe("SCHEDULE_TO_START_TIMEOUT");
    expect(failed.steps[0]!.error).toMatch(/no worker started attempt 1 within 300ms/);
  });

  it("progress reported by heartbeats is handed to the next attempt", async () => {
    const w = await worker(["resumable"]);
    const { saga } = await t.client().createSaga({
      name: "progress",
      steps: [{ name: "a", action: "resumable", retryPolicy: { maxAttempts: 2, initialInterval: ms(10) } }],
    });
    const first = await w.nextTask(1);
    expect(first.lastProgress).toBeUndefined();
    await w.ack(first);
    await w.heartbeat([first], { rows: 500 });
    await t.workers().failTask({ token: first.token, errorKind: "BLIP", retryable: true });
    const second = await w.nextTask(2);
    expect(second.lastProgress).toEqual({ rows: 500 });
    await w.ack(second);
    await w.complete(second, {});
    await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.COMPLETED);
    await w.close();
  });
});

describe("cancel before any worker", () => {
  it("a queued task of a cancelled saga ends at once, with no worker needed", async () => {
    const { saga } = await t.client().createSaga({
      name: "cancel-queued",
      steps: [{ name: "a", action: "nobody-runs-this" }, { name: "b", action: "noop", compensate: { action: "noop" } }],
    });
    await sagaUntil(t.client(), saga!.id, (s) => s.steps[1]!.status === StepStatus.COMPLETED);
    await t.client().cancelSaga({ id: saga!.id, reason: "no worker came" });
    const done = await sagaUntil(t.client(), saga!.id, (s) => s.status === SagaStatus.CANCELLED, 3_000);
    expect(done.steps[0]).toMatchObject({ status: StepStatus.CANCELLED, errorKind: "CANCELLED" });
    expect(done.steps[0]!.error).toMatch(/aborted: cancelled: no worker came \(before a worker started attempt 1\)/);
    expect(done.steps[1]!.status).toBe(StepStatus.COMPENSATED);
    // A worker connecting later gets nothing.
    const late = await worker(["nobody-runs-this"]);
    await new Promise((r) => setTimeout(r, 200));
    expect(late.tasks).toEqual([]);
    await late.close();
  });
});
