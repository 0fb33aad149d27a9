/**
 * Where breakers apply, over a real server: per host for the http action (one failing service
 * does not stop calls to another), to compensations (a deferred compensation keeps its budget),
 * and to an action that ignores its abort signal (the attempt timeout still ends the probe, so the
 * breaker cannot stay half-open for good).
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { Backoff, CircuitState, EventType, FailurePolicy, SagaStatus, StepStatus } from "../../src/client/index.js";
import { startHttpRecorder, type HttpRecorder } from "../helpers/http-recorder.js";
import { ms } from "../helpers/rpc.js";
import { eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

const FAST_RETRIES = { maxAttempts: 10, backoff: Backoff.FIXED, initialInterval: ms(20) };

let srv: TestServer | undefined;
const recorders: HttpRecorder[] = [];
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  await Promise.all(recorders.splice(0).map((r) => r.close()));
});

async function circuits() {
  return (await srv!.client().listCircuits({})).circuits;
}

describe("http breakers are per host", () => {
  it("a failing host opens only its own breaker; sagas calling the other host keep completing", async () => {
    srv = await startTestServer({ breaker: { failures: 2, openMs: 60_000 } });
    const client = srv.client();
    const down = await startHttpRecorder();
    const up = await startHttpRecorder();
    recorders.push(down, up);
    down.reply = () => ({ status: 503 });
    const downKey = `http ${new URL(down.url).host}`;
    const upKey = `http ${new URL(up.url).host}`;
    const create = async (url: string, name: string) =>
      (await client.createSaga({ name, steps: [{ name: "call", action: "http", config: { url: `${url}/x` }, retryPolicy: FAST_RETRIES }] })).saga!.id;

    const failing = [await create(down.url, "down-1"), await create(down.url, "down-2"), await create(down.url, "down-3")];
    await waitUntil(async () => (await circuits()).find((c) => c.key === downKey)?.waitingSteps === failing.length, "every step for the failing host waits");

    // Sagas for the healthy host, started while the other breaker is open, run straight through.
    const healthy = [await create(up.url, "up-1"), await create(up.url, "up-2"), await create(up.url, "up-3")];
    for (const id of healthy) expect((await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED])).status).toBe(SagaStatus.COMPLETED);

    const byKey = new Map((await circuits()).map((c) => [c.key, c]));
    expect([...byKey.keys()].sort()).toEqual([downKey, upKey].sort());
    expect(byKey.get(downKey)).toMatchObject({ action: "http", state: CircuitState.OPEN, waitingSteps: 3, totalSuccesses: 0n });
    expect(byKey.get(downKey)!.lastError).toContain("-> 503");
    // The failing host got only the calls that opened its breaker (and those already in flight).
    expect(BigInt(down.calls.length)).toBe(byKey.get(downKey)!.totalFailures);
    expect(byKey.get(upKey)).toMatchObject({ action: "http", state: CircuitState.CLOSED, totalSuccesses: 3n, totalFailures: 0n, totalRejected: 0n });
    expect(up.calls).toHaveLength(3);
    for (const id of failing) {
      const step = (await client.getSaga({ id })).saga!.steps[0]!;
      expect(step).toMatchObject({ status: StepStatus.RETRY_SCHEDULED, errorKind: "CIRCUIT_OPEN" });
      expect(step.error).toContain(`circuit "${downKey}" is open`);
      expect(step.retryCount).toBe(down.calls.filter((c) => c.sagaId === id).length);
    }
  });
});

describe("compensations go through breakers too", () => {
  it("a deferred compensation waits COMPENSATING, keeps its attempt budget, and completes after recovery", async () => {
    const undo = { down: true, attempts: [] as number[] };
    const actions: Action[] = [
      {
        name: "undo",
        async run(ctx) {
          undo.attempts.push(ctx.attempt);
          if (undo.down) throw new ActionError("undo service is down", { kind: "UNAVAILABLE", retryable: true });
          return {};
        },
      },
      {
        name: "refuse",
        async run() {
          throw new ActionError("card declined", { kind: "DECLINED", retryable: false });
        },
      },
    ];
    srv = await startTestServer({ actions, breaker: { failures: 2, openMs: 800 } });
    const client = srv.client();
    const { saga } = await client.createSaga({
      name: "compensate-through-breaker",
      failurePolicy: FailurePolicy.COMPENSATE,
      steps: [
        {
          name: "reserve",
          action: "noop",
          compensate: { action: "undo", retryPolicy: { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: ms(20) } },
        },
        { name: "charge", action: "refuse", dependsOn: ["reserve"] },
      ],
    });
    const id = saga!.id;
    // Attempts 1 and 2 fail and open the breaker; attempt 3 is deferred, not made.
    await waitUntil(async () => (await circuits()).find((c) => c.key === "undo")?.waitingSteps === 1, "the compensation waits for the breaker");
    const waiting = (await client.getSaga({ id })).saga!;
    expect(waiting.status).toBe(SagaStatus.COMPENSATING);
    const reserve = waiting.steps.find((s) => s.name === "reserve")!;
    expect(reserve).toMatchObject({ status: StepStatus.COMPENSATING, retryCount: 2, errorKind: "CIRCUIT_OPEN" });
    const probeAt = timestampMs((await circuits()).find((c) => c.key === "undo")!.nextProbeTime!);
    expect(timestampMs(reserve.nextAttemptTime!)).toBe(probeAt);
    expect(undo.attempts).toEqual([1, 2]);

    undo.down = false;
    const done = await waitForStatus(client, id, [SagaStatus.COMPENSATED, SagaStatus.COMPENSATION_FAILED]);
    // Three attempts allowed, three made: a deferral that burned one would have ended COMPENSATION_FAILED.
    expect(SagaStatus[done.status], done.error).toBe("COMPENSATED");
    expect(undo.attempts).toEqual([1, 2, 3]);
    expect(done.steps.find((s) => s.name === "reserve")!.retryCount).toBe(3);

    const deferredEvents = eventsOfType(await sagaHistory(client, id), EventType.STEP_DEFERRED, "reserve");
    expect(deferredEvents.length).toBeGreaterThanOrEqual(1);
    expect(deferredEvents[0]).toMatchObject({ stepStatus: StepStatus.COMPENSATING, attempt: 2, errorKind: "CIRCUIT_OPEN" });
    expect(deferredEvents[0]!.message).toMatch(/^compensation attempt 3 of step reserve deferred: circuit "undo" is open/);
  });
});

describe("a probe that ignores its abort signal", () => {
  it("still ends at the attempt timeout, so the breaker opens again instead of staying half-open", async () => {
    const hung: Array<() => void> = [];
    const deaf = { answering: false, calls: 0 };
    const actions: Action[] = [
      {
        name: "deaf",
        run() {
          deaf.calls++;
          if (deaf.answering) return Promise.resolve({ ok: true });
          // Never looks at ctx.signal; settles only when the test lets it go at the end.
          return new Promise((resolve) => hung.push(() => resolve({ late: true })));
        },
      },
    ];
    srv = await startTestServer({ actions, breaker: { failures: 1, openMs: 300 } });
    const client = srv.client();
    try {
      const { saga } = await client.createSaga({
        name: "deaf",
        steps: [{ name: "call", action: "deaf", retryPolicy: { maxAttempts: 10, backoff: Backoff.FIXED, initialInterval: ms(20), timeout: ms(100) } }],
      });
      const id = saga!.id;
      // Attempt 1 times out and opens the breaker; after 300 ms attempt 2 is the probe, hangs too,
      // and its timeout must end the probe: the breaker opens again.
      await waitUntil(async () => {
        const c = (await circuits()).find((x) => x.key === "deaf");
        return c?.totalFailures === 2n && c.state === CircuitState.OPEN;
      }, "the timed-out probe re-opened the breaker");
      expect(deaf.calls).toBe(2);
      expect((await client.getSaga({ id })).saga!.steps[0]!.retryCount).toBeGreaterThanOrEqual(2);

      deaf.answering = true;
      const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED]);
      expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
      expect(done.steps[0]!.retryCount).toBe(3);
      expect((await circuits()).find((x) => x.key === "deaf")).toMatchObject({ state: CircuitState.CLOSED, totalFailures: 2n, totalSuccesses: 1n });
    } finally {
      for (const let_go of hung) let_go();
    }
  });
});
