/**
 * The breaker acceptance test over a real server: an action that fails fast opens its breaker;
 * the steps that would call it wait (RETRY_SCHEDULED, CIRCUIT_OPEN) without burning attempts;
 * ListCircuits shows the breaker OPEN with its next probe time and the waiting steps; when the
 * target recovers, one probe closes the breaker, the waiting steps are released gradually, and
 * every saga completes. STEP_DEFERRED events reach a live WatchSaga.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { Backoff, CircuitState, EventType, SagaStatus, StepStatus, type SagaClient, type SagaEvent } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { eventsOfType, nextAttemptMs, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

const FAILURES = 3;
const OPEN_MS = 1_500;
const SAGAS = 6;
/** Timers may fire up to ~2 ms early as performance.now() sees it (libuv's cached loop clock). */
const TIMER_SLACK_MS = 2;

interface TargetCall {
  sagaId: string;
  attempt: number;
  startedAt: number;
  endedAt: number | null;
  ok: boolean;
}

/** A remote service stand-in: fails fast (retryably) while down, answers after 20 ms once up. */
function createTarget() {
  const calls: TargetCall[] = [];
  const state = { down: true };
  const action: Action = {
    name: "target",
    async run(ctx) {
      const call: TargetCall = { sagaId: ctx.sagaId, attempt: ctx.attempt, startedAt: performance.now(), endedAt: null, ok: !state.down };
      calls.push(call);
      try {
        if (state.down) throw new ActionError("target is down (503)", { kind: "UNAVAILABLE", retryable: true });
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { served: ctx.attempt };
      } finally {
        call.endedAt = performance.now();
      }
    },
  };
  return { action, calls, state };
}

describe("an action failing fast opens its breaker; recovery closes it", () => {
  const target = createTarget();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: [target.action], breaker: { failures: FAILURES, openMs: OPEN_MS } });
    client = srv.client({ protocol: "grpc" });
  });
  afterAll(() => srv?.close());

  const circuit = async () => {
    const res = await client.listCircuits({});
    return res.circuits.find((c) => c.key === "target");
  };

  it("defers without burning attempts, shows the breaker, and finishes every saga after recovery", async () => {
    const ids: string[] = [];
    let lastSequence = 0n;
    for (let i = 0; i < SAGAS; i++) {
      const { saga } = await client.createSaga({
        name: `breaker-${i}`,
        steps: [
          { name: "call", action: "target", retryPolicy: { maxAttempts: 10, backoff: Backoff.FIXED, initialInterval: ms(20) } },
        ],
      });
      ids.push(saga!.id);
      lastSequence = saga!.sequence;
    }
    // A watch of the last saga from right after its create: every event after it, live, to the end.
    const watched: Promise<SagaEvent[]> = (async () => {
      const events: SagaEvent[] = [];
      for await (const msg of client.watchSaga({ id: ids[SAGAS - 1]!, afterSequence: lastSequence }, { signal: AbortSignal.timeout(20_000) })) {
        if (msg.kind.case === "event") events.push(msg.kind.value);
      }
      return events;
    })();

    // Every step ends up waiting for the breaker.
    await waitUntil(async () => (await circuit())?.waitingSteps === SAGAS, `all ${SAGAS} steps wait for the breaker`);
    const open = (await circuit())!;
    const callsWhileDown = target.calls.length;
    expect(callsWhileDown).toBeGreaterThanOrEqual(FAILURES);
    expect(target.calls.every((c) => !c.ok)).toBe(true);
    const { replicaId } = await client.listCircuits({});
    expect(replicaId).toBe(srv.server.engine.replicaId);
    expect(open).toMatchObject({
      key: "target",
      action: "target",
      state: CircuitState.OPEN,
      consecutiveFailures: callsWhileDown,
      totalFailures: BigInt(callsWhileDown),
      totalSuccesses: 0n,
      waitingSteps: SAGAS,
      lastError: "target is down (503)",
    });
    expect(open.totalRejected).toBeGreaterThanOrEqual(BigInt(SAGAS));
    const openedAt = timestampMs(open.openedTime!);
    const probeAt = timestampMs(open.nextProbeTime!);
    expect(probeAt - openedAt).toBe(OPEN_MS);

    // Each step: RETRY_SCHEDULED until the probe time, attempt count = the calls it really made.
    for (const id of ids) {
      const step = (await client.getSaga({ id })).saga!.steps[0]!;
      const made = target.calls.filter((c) => c.sagaId === id);
      expect(step.status).toBe(StepStatus.RETRY_SCHEDULED);
      expect(step.errorKind).toBe("CIRCUIT_OPEN");
      expect(step.error).toContain('circuit "target" is open');
      expect(timestampMs(step.nextAttemptTime!)).toBe(probeAt);
      expect(step.retryCount).toBe(made.length);
      expect(made.map((c) => c.attempt)).toEqual(made.map((_, i) => i + 1));
    }

    // Nothing calls the target while the breaker is open: recover it before the probe is due.
    expect(Date.now()).toBeLessThan(probeAt);
    expect(target.calls.length).toBe(callsWhileDown);
    target.state.down = false;

    for (const id of ids) {
      const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED], 15_000);
      expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    }

    // One probe, alone, no earlier than the probe time; then the others, released over two ticks
    // (1, 2, 2 of the 5 left) after the probe closed the breaker.
    const after = target.calls.slice(callsWhileDown);
    expect(after).toHaveLength(SAGAS);
    expect(after.every((c) => c.ok)).toBe(true);
    const [probe, ...released] = after;
    for (const c of released) expect(c.startedAt).toBeGreaterThanOrEqual(probe!.endedAt!);
    const lastStart = Math.max(...released.map((c) => c.startedAt));
    expect(lastStart - probe!.endedAt!).toBeGreaterThanOrEqual(200 - TIMER_SLACK_MS);

    const closed = (await circuit())!;
    expect(closed).toMatchObject({ state: CircuitState.CLOSED, consecutiveFailures: 0, totalSuccesses: BigInt(SAGAS), waitingSteps: 0 });
    expect(closed.nextProbeTime).toBeUndefined();
    expect(closed.openedTime).toBeDefined();

    // The histories: no attempt number is burned by a deferral, and the breaker's probe and its
    // release after closing show in the STEP_STARTED that ended each step's wait.
    const wokenBy: string[] = [];
    for (const id of ids) {
      const history = await sagaHistory(client, id);
      const made = target.calls.filter((c) => c.sagaId === id).map((c) => c.attempt);
      const done = (await client.getSaga({ id })).saga!.steps[0]!;
      expect(done.retryCount).toBe(made.length);
      expect(made).toEqual(made.map((_, i) => i + 1));
      const started = eventsOfType(history, EventType.STEP_STARTED, "call");
      const deferredEvents = eventsOfType(history, EventType.STEP_DEFERRED, "call");
      expect(deferredEvents.length).toBeGreaterThanOrEqual(1);
      // Every STEP_STARTED is either a real call or given back by the STEP_DEFERRED right after it.
      expect(started.length).toBe(made.length + deferredEvents.length);
      expect(new Set(started.map((e) => e.attempt))).toEqual(new Set(made));
      for (const d of deferredEvents) {
        const before = history[history.indexOf(d) - 1]!;
        expect(before.type).toBe(EventType.STEP_STARTED);
        expect(d.attempt).toBe(before.attempt - 1);
        expect(d).toMatchObject({ stepStatus: StepStatus.RETRY_SCHEDULED, errorKind: "CIRCUIT_OPEN" });
        expect(d.message).toMatch(/deferred: circuit "target" is (open|half-open)/);
        expect(nextAttemptMs(d)).toBeGreaterThan(0);
      }
      const lastDeferral = deferredEvents.at(-1)!;
      const resumed = history.slice(history.indexOf(lastDeferral)).find((e) => e.type === EventType.STEP_STARTED)!;
      wokenBy.push(/\((probe|released): circuit "target"/.exec(resumed.message)?.[1] ?? resumed.message);
    }
    expect(wokenBy.sort()).toEqual(["probe", ...Array.from({ length: SAGAS - 1 }, () => "released")]);

    const live = await watched;
    const liveDeferred = eventsOfType(live, EventType.STEP_DEFERRED, "call");
    expect(liveDeferred.length).toBeGreaterThanOrEqual(1);
    expect(liveDeferred[0]!.message).toContain(`next probe at ${new Date(probeAt).toISOString()}`);
    expect(live.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
  });
});
