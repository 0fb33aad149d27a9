import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import {
  describeSaga,
  sagaDraft,
  startEngineReplica,
  stepOf,
  storedSaga,
  waitForRest,
  type EngineReplica,
} from "../helpers/engine-harness.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitUntil } from "../helpers/wait.js";

const BACKOFF_MS = 1_000;

/**
 * Replica A drives a saga whose step y waits for a retry; an operator on replica B skips y, which
 * starts its dependent z in the same commit (the lease stays with A, so A must run z). A's retry
 * timer for y fires just before B's notification reaches A: the retry's commit loses the sequence
 * fence, A reloads, and "retry y" no longer applies. Before the fix A returned from that no-op
 * without acting on the reloaded state, and then ignored the notification because it was no
 * longer behind: z stayed RUNNING in Postgres and nobody ran it.
 *
 * Both replicas are engines on one database without LISTEN, so the test delivers the notification
 * itself, in exactly the losing order; one fake clock fires the retry timer on demand and keeps
 * lease renewal (which now also reconciles) out of the picture.
 */
describe("operator SkipStep on another replica racing the owner's retry timer", () => {
  const clock = new FakeClock();
  const onA = createTestActions();
  const onB = createTestActions();
  let db: TestDatabase;
  let a: EngineReplica;
  let b: EngineReplica;
  beforeEach(async () => {
    db = await createTestDatabase();
    a = startEngineReplica({ store: new SagaStore(db.pool), replicaId: "replica-a", actions: onA.actions, clock });
    b = startEngineReplica({ store: new SagaStore(db.pool), replicaId: "replica-b", actions: onB.actions, clock });
  });
  afterEach(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it("runs the dependent step the skip started and completes the saga", async () => {
    const created = await a.engine.create(
      sagaDraft(a.registry, "remote-skip", [
        { name: "y", action: "fail", retryPolicy: { maxAttempts: 5, backoff: "FIXED", initialIntervalMs: BACKOFF_MS } },
        { name: "z", action: "record", dependsOn: ["y"] },
      ]),
    );
    const id = created.id;
    // y's first attempt failed and A armed its retry timer.
    let retryAt = Number.NaN;
    await waitUntil(async () => {
      const y = stepOf(await storedSaga(a.store, id), "y");
      retryAt = y.nextAttemptAt ?? Number.NaN;
      return y.status === "RETRY_SCHEDULED" && clock.pending().includes(retryAt);
    }, "y's retry scheduled on replica A");
    expect(retryAt - clock.now()).toBe(BACKOFF_MS);

    // The operator's call lands on B, which does not drive the saga: A's lease is live.
    const skipped = await b.engine.operate(id, { type: "skipStep", step: "y", output: { skipped: true } }, "SkipStep");
    expect(stepOf(skipped, "y").status).toBe("SKIPPED");
    expect(stepOf(skipped, "z").status).toBe("RUNNING");
    expect((await a.store.loadSaga(id))!.leaseOwner).toBe("replica-a");
    expect(b.engine.activeSagaCount()).toBe(0);

    // A's retry timer fires, then B's commit is notified to A (as A's LISTEN connection would).
    clock.advance(BACKOFF_MS);
    a.engine.onNotification(id, skipped.sequence);

    let done: Awaited<ReturnType<typeof waitForRest>>;
    try {
      done = await waitForRest(a.store, id, 3_000);
    } catch (err) {
      throw new Error(`z was never run by the lease holder: ${(err as Error).message}`);
    }
    expect(done.status, describeSaga(done)).toBe("COMPLETED");
    expect(stepOf(done, "y").status).toBe("SKIPPED");
    expect(stepOf(done, "z").status).toBe("COMPLETED");
    expect(stepOf(done, "y").output).toEqual({ skipped: true });
    expect(stepOf(done, "z").output).toEqual({ step: "z", attempt: 1 });
    // z ran once, on the lease holder; y's retry never ran.
    expect(callsFor(onA.calls, id, "z")).toHaveLength(1);
    expect(callsFor(onB.calls, id, "z")).toHaveLength(0);
    expect(callsFor(onA.calls, id, "y").map((c) => c.attempt)).toEqual([1]);
    expect(a.engine.activeSagaCount()).toBe(0);
  });
});
