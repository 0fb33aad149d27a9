import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { describeSaga, sagaDraft, startEngineReplica, stepOf, storedSaga, waitForRest, type EngineReplica } from "../helpers/engine-harness.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitUntil } from "../helpers/wait.js";

const TIMEOUT_MS = 100;

/**
 * One concurrency slot: step "long" holds it (a gate the test opens), and step "queued", which has
 * an attempt timeout, waits for it. Time spent waiting for the slot is not the action's time:
 * before the fix the timeout ran from launch, so a queued attempt failed with TIMEOUT (and burned
 * an attempt of its budget) without its action ever being called. Attempt timeouts run on a fake
 * clock, so "a long wait" is one `advance` and nothing depends on real timing.
 */
describe("attempt timeout with every concurrency slot taken", () => {
  const clock = new FakeClock();
  const t = createTestActions();
  let db: TestDatabase;
  let replica: EngineReplica;
  beforeEach(async () => {
    db = await createTestDatabase();
    replica = startEngineReplica({ store: new SagaStore(db.pool), replicaId: "replica-a", actions: t.actions, clock, maxConcurrentSteps: 1 });
  });
  afterEach(async () => {
    await replica?.stop();
    await db?.drop();
  });

  /** Creates the saga and waits until "long" holds the only slot and "queued" waits for it. */
  async function startWithSlotTaken(queuedAction: string): Promise<string> {
    const created = await replica.engine.create(
      sagaDraft(replica.registry, "slot", [
        { name: "long", action: "gate" },
        { name: "queued", action: queuedAction, retryPolicy: { maxAttempts: 1, timeoutMs: TIMEOUT_MS } },
      ]),
    );
    const id = created.id;
    expect(stepOf(created, "long").status).toBe("RUNNING");
    expect(stepOf(created, "queued").status).toBe("RUNNING");
    await waitUntil(() => callsFor(t.calls, id, "long").length === 1, "long took the slot");
    expect(callsFor(t.calls, id, "queued")).toHaveLength(0);
    return id;
  }

  it("does not time out an attempt while it waits for a slot", async () => {
    const id = await startWithSlotTaken("record");
    // Ten timeouts pass while "queued" waits.
    clock.advance(10 * TIMEOUT_MS);
    t.release(id, "long");

    const done = await waitForRest(replica.store, id);
    expect(done.status, `${describeSaga(done)} ${stepOf(done, "queued").errorKind ?? ""}`).toBe("COMPLETED");
    const queued = stepOf(done, "queued");
    expect(queued.errorKind).toBeNull();
    expect(queued.attempt).toBe(1);
    expect(callsFor(t.calls, id, "queued").map((c) => c.attempt)).toEqual([1]);
    const events = await replica.store.readEvents(id, 0, 1_000);
    expect(events.filter((e) => e.errorKind === "TIMEOUT")).toEqual([]);
  });

  it("counts the timeout from when the action starts", async () => {
    const id = await startWithSlotTaken("hang");
    clock.advance(10 * TIMEOUT_MS);
    t.release(id, "long");
    await waitUntil(() => callsFor(t.calls, id, "queued").length === 1, "queued got the slot and started", 3_000);
    const call = callsFor(t.calls, id, "queued")[0]!;

    clock.advance(TIMEOUT_MS - 1);
    // A timeout firing here would abort the action at once; waiting for long's result to be
    // committed (a round trip to Postgres) gives that abort ample time to show.
    await waitUntil(async () => stepOf(await storedSaga(replica.store, id), "long").status === "COMPLETED", "long recorded");
    expect(call.endedAt, "the attempt timed out before its timeout had passed").toBeNull();
    expect(stepOf(await storedSaga(replica.store, id), "queued").status).toBe("RUNNING");

    clock.advance(1);
    const done = await waitForRest(replica.store, id);
    expect(done.status).toBe("FAILED");
    expect(stepOf(done, "queued").status).toBe("FAILED");
    expect(stepOf(done, "queued").errorKind).toBe("TIMEOUT");
    expect(call.endedAt, "the hanging action was not aborted").not.toBeNull();
  });
});
