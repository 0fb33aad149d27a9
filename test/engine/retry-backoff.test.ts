import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backoff, EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { ms } from "../helpers/rpc.js";
import { callsFor, eventTimeMs, eventsOfType, nextAttemptMs, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

/**
 * Node timers run on libuv's cached, millisecond-truncated loop clock, so a timer can fire up to
 * ~2 ms early as measured by performance.now() or Date.now(); lower bounds on real gaps allow that
 * much and no more.
 */
const TIMER_SLACK_MS = 2;

describe("retry with exponential backoff (real time)", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
  });
  afterAll(() => srv.close());

  it("retries a flaky step after 50 ms, then 100 ms, and completes on attempt 3", async () => {
    const client = srv.client({ protocol: "connect" });
    const { saga } = await client.createSaga({
      name: "backoff",
      steps: [
        {
          name: "flaky",
          action: "flaky",
          config: { failTimes: 2 },
          retryPolicy: { maxAttempts: 3, backoff: Backoff.EXPONENTIAL, initialInterval: ms(50), multiplier: 2, maxInterval: ms(10_000) },
        },
      ],
    });
    const id = saga!.id;
    const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED]);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    expect(done.steps[0]!.retryCount).toBe(3);
    expect(done.outputs.flaky).toEqual({ attempt: 3 });

    const calls = callsFor(t.calls, id, "flaky");
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([`${id}/flaky`]));

    const history = await sagaHistory(client, id);
    const scheduled = eventsOfType(history, EventType.STEP_RETRY_SCHEDULED, "flaky");
    expect(scheduled.map((e) => e.attempt)).toEqual([1, 2]);
    expect(scheduled.map((e) => StepStatus[e.stepStatus])).toEqual(["RETRY_SCHEDULED", "RETRY_SCHEDULED"]);
    expect(scheduled.map((e) => e.errorKind)).toEqual(["FLAKY", "FLAKY"]);
    // next_attempt_time = time the failure was recorded + 50 ms × 2^(failed attempts - 1); jitter is 0.
    const waits = scheduled.map((e) => nextAttemptMs(e) - eventTimeMs(e));
    expect(waits[0]).toBeGreaterThanOrEqual(49);
    expect(waits[0]).toBeLessThanOrEqual(51);
    expect(waits[1]).toBeGreaterThanOrEqual(99);
    expect(waits[1]).toBeLessThanOrEqual(101);

    // The attempts really waited: each starts at least one backoff after the previous one started
    // (and after it failed), but not much later (the retry timer is the latency path, not polling).
    const [first, second, third] = calls;
    expect(second!.startedAt - first!.startedAt).toBeGreaterThanOrEqual(50 - TIMER_SLACK_MS);
    expect(third!.startedAt - second!.startedAt).toBeGreaterThanOrEqual(100 - TIMER_SLACK_MS);
    expect(second!.startedAt - first!.endedAt!).toBeGreaterThanOrEqual(50 - TIMER_SLACK_MS);
    expect(third!.startedAt - second!.endedAt!).toBeGreaterThanOrEqual(100 - TIMER_SLACK_MS);
    expect(third!.startedAt - second!.endedAt!).toBeLessThan(100 + 1_000);

    // Each STEP_STARTED of a retry is stamped no earlier than the next_attempt_time announced for it.
    const started = eventsOfType(history, EventType.STEP_STARTED, "flaky");
    expect(started.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(eventTimeMs(started[1]!)).toBeGreaterThanOrEqual(nextAttemptMs(scheduled[0]!) - TIMER_SLACK_MS);
    expect(eventTimeMs(started[2]!)).toBeGreaterThanOrEqual(nextAttemptMs(scheduled[1]!) - TIMER_SLACK_MS);
  });
});

describe("retry with a one-hour backoff (fake clock)", () => {
  const HOUR = 3_600_000;
  const t = createTestActions();
  const clock = new FakeClock();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions, clock });
  });
  afterAll(() => srv.close());

  it("runs the second attempt only once the clock has moved on by the backoff", async () => {
    const client = srv.client({ protocol: "grpc" });
    const { saga } = await client.createSaga({
      name: "hour-backoff",
      steps: [
        {
          name: "flaky",
          action: "flaky",
          config: { failTimes: 1 },
          retryPolicy: { maxAttempts: 2, backoff: Backoff.FIXED, initialInterval: ms(HOUR), maxInterval: ms(HOUR) },
        },
      ],
    });
    const id = saga!.id;
    const scheduledStep = async () => {
      const s = (await client.getSaga({ id })).saga!;
      return s.steps[0]!.status === StepStatus.RETRY_SCHEDULED ? s : null;
    };
    await waitUntil(async () => (await scheduledStep()) !== null, "first attempt failed and a retry is scheduled");
    const failedAt = clock.now();
    const waiting = (await scheduledStep())!;
    expect(waiting.steps[0]!.nextAttemptTime).toBeDefined();

    // Real time passing does nothing; neither does fake time short of the hour.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(callsFor(t.calls, id, "flaky")).toHaveLength(1);
    clock.advance(HOUR - 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(callsFor(t.calls, id, "flaky")).toHaveLength(1);
    expect(StepStatus[(await client.getSaga({ id })).saga!.steps[0]!.status]).toBe("RETRY_SCHEDULED");

    // The last millisecond of the hour: attempt 2 runs right away.
    const advancedAt = performance.now();
    clock.advance(1);
    const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED], 5_000);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    const calls = callsFor(t.calls, id, "flaky");
    expect(calls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(calls[1]!.startedAt - advancedAt).toBeLessThan(1_000);

    const history = await sagaHistory(client, id);
    const [scheduled] = eventsOfType(history, EventType.STEP_RETRY_SCHEDULED, "flaky");
    expect(eventTimeMs(scheduled!)).toBe(failedAt);
    expect(nextAttemptMs(scheduled!)).toBe(failedAt + HOUR);
    const started = eventsOfType(history, EventType.STEP_STARTED, "flaky");
    expect(eventTimeMs(started[1]!)).toBe(failedAt + HOUR);
  });
});
