/**
 * A breaker with a one-hour open time, on a fake clock: the deferred step's durable next attempt
 * time is the breaker's probe time on the engine's clock (cockatiel itself measures with
 * Date.now(), which never moves here), the step waits on the breaker and not on a timer of its
 * own, the probe runs when the clock reaches the probe time, and the observer hears of the
 * deferral.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { CIRCUIT_OPEN } from "../../src/domain/types.js";
import type { AttemptOutcome, EngineObserver } from "../../src/engine/engine-observer.js";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { sagaDraft, startEngineReplica, stepOf, storedSaga, waitForRest, type EngineReplica } from "../helpers/engine-harness.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { waitUntil } from "../helpers/wait.js";

const HOUR = 3_600_000;

describe("a breaker open for an hour, on a fake clock", () => {
  const clock = new FakeClock();
  const target = { down: true, attempts: [] as number[] };
  const finished: Array<[string, string, AttemptOutcome, number]> = [];
  const observer: EngineObserver = {
    committed() {},
    attemptFinished: (action, phase, outcome, durationMs) => finished.push([action, phase, outcome, durationMs]),
  };
  const action: Action = {
    name: "target",
    async run(ctx) {
      target.attempts.push(ctx.attempt);
      if (target.down) throw new ActionError("down", { kind: "UNAVAILABLE", retryable: true });
      return {};
    },
  };
  let db: TestDatabase;
  let replica: EngineReplica;
  beforeEach(async () => {
    db = await createTestDatabase();
    replica = startEngineReplica({
      store: new SagaStore(db.pool),
      replicaId: "replica-a",
      actions: [action],
      clock,
      breaker: { failures: 1, openMs: HOUR },
      observer,
    });
  });
  afterEach(async () => {
    await replica?.stop();
    await db?.drop();
  });

  it("defers until the probe time, then the probe runs the same attempt and completes the saga", async () => {
    const { id } = await replica.engine.create(
      sagaDraft(replica.registry, "fake-clock-breaker", [
        { name: "call", action: "target", retryPolicy: { maxAttempts: 3, backoff: "FIXED", initialIntervalMs: 10 } },
      ]),
    );
    // Attempt 1 fails and opens the breaker; its retry (10 ms later) is deferred.
    await waitUntil(async () => stepOf(await storedSaga(replica.store, id), "call").status === "RETRY_SCHEDULED", "attempt 1 failed");
    const openedAt = clock.now();
    clock.advance(10);
    await waitUntil(async () => stepOf(await storedSaga(replica.store, id), "call").errorKind === CIRCUIT_OPEN, "attempt 2 deferred");
    const waiting = stepOf(await storedSaga(replica.store, id), "call");
    expect(waiting).toMatchObject({ status: "RETRY_SCHEDULED", attempt: 1, nextAttemptAt: openedAt + HOUR });
    expect(target.attempts).toEqual([1]);
    expect(replica.engine.circuits.list()).toMatchObject([{ key: "target", state: "OPEN", waitingSteps: 1, nextProbeAt: openedAt + HOUR }]);
    // The step waits on the breaker: the only timer left is the breaker's probe wake-up.
    expect(clock.pending()).toContain(openedAt + HOUR);
    expect(finished.map(([a, p, o]) => `${a} ${p} ${o}`)).toEqual(["target action failed", "target action deferred"]);
    expect(finished[1]![3]).toBe(0);

    target.down = false;
    clock.advance(HOUR - 11);
    expect(target.attempts).toEqual([1]); // a millisecond before the probe time: nothing
    clock.advance(1);
    const done = await waitForRest(replica.store, id);
    expect(done.status).toBe("COMPLETED");
    expect(target.attempts).toEqual([1, 2]);
    expect(stepOf(done, "call").attempt).toBe(2);
    expect(replica.engine.circuits.list()).toMatchObject([{ state: "CLOSED", waitingSteps: 0, totalSuccesses: 1, totalRejected: 1 }]);
  });
});
