import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import {
  deferred,
  describeSaga,
  sagaDraft,
  startEngineReplica,
  stepOf,
  waitForRest,
  type EngineReplica,
} from "../helpers/engine-harness.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";

/** Once armed, the next insert commits and then holds its answer until the test opens the gate. */
class HeldInsertStore extends SagaStore {
  private gate: { reached: () => void; open: Promise<void> } | null = null;

  holdNextInsert(open: Promise<void>): Promise<void> {
    const reached = deferred();
    this.gate = { reached: reached.resolve, open };
    return reached.promise;
  }

  override async insertSaga(...args: Parameters<SagaStore["insertSaga"]>): ReturnType<SagaStore["insertSaga"]> {
    const result = await super.insertSaga(...args);
    const gate = this.gate;
    if (gate) {
      this.gate = null;
      gate.reached();
      await gate.open;
    }
    return result;
  }
}

// Far longer than the test: the saga can only reach replica B in time if A gives its lease back.
const LEASE_TTL_MS = 60_000;

/**
 * A CreateSaga whose insert (saga, first steps RUNNING, lease to this replica) commits while the
 * replica shuts down. Before the fix the create then started a driver on the stopped engine: the
 * action ran after stop() had returned, and the lease was never given back, so no other replica
 * could take the saga until it expired.
 */
describe("CreateSaga committing while the engine stops", () => {
  const onA = createTestActions();
  const onB = createTestActions();
  let db: TestDatabase;
  let store: HeldInsertStore;
  let a: EngineReplica;
  let b: EngineReplica;
  beforeEach(async () => {
    db = await createTestDatabase();
    store = new HeldInsertStore(db.pool);
    a = startEngineReplica({ store, replicaId: "replica-a", actions: onA.actions, leaseTtlMs: LEASE_TTL_MS });
    b = startEngineReplica({
      store: new SagaStore(db.pool),
      replicaId: "replica-b",
      actions: onB.actions,
      leaseTtlMs: LEASE_TTL_MS,
      pollIntervalMs: 50,
    });
  });
  afterEach(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it("runs nothing on the stopped replica and hands the saga to another one at once", async () => {
    const openInsert = deferred();
    const inserted = store.holdNextInsert(openInsert.promise);
    const creating = a.engine.create(sagaDraft(a.registry, "late", [{ name: "s", action: "record" }]));
    await inserted;
    // Shutdown completes while the create is still on its way back from Postgres.
    await a.stop(0);
    openInsert.resolve();
    const created = await creating;
    const id = created.id;
    expect(created.status).toBe("RUNNING");

    let done: Awaited<ReturnType<typeof waitForRest>>;
    try {
      done = await waitForRest(b.store, id, 3_000);
    } catch (err) {
      throw new Error(`replica B never got the saga (A kept its lease?): ${(err as Error).message}`);
    }
    expect(callsFor(onA.calls, id, "s"), "an action ran on the replica after it stopped").toHaveLength(0);
    expect(a.engine.activeSagaCount()).toBe(0);
    expect(done.status, describeSaga(done)).toBe("COMPLETED");
    expect(stepOf(done, "s").status).toBe("COMPLETED");
    expect(callsFor(onB.calls, id, "s")).toHaveLength(1);
    // B took the step over as one left in flight: the same attempt, recorded as recovered.
    expect(callsFor(onB.calls, id, "s")[0]!.attempt).toBe(1);
    const events = await b.store.readEvents(id, 0, 1_000);
    expect(events.filter((e) => e.type === "STEP_RECOVERED" && e.step === "s")).toHaveLength(1);
  });
});
