import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SagaEvent } from "../../src/domain/types.js";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startEngineReplica, sagaDraft, waitForRest, type EngineReplica } from "../helpers/engine-harness.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";

/**
 * A commit that Postgres applied but whose answer never reached the client (the connection broke
 * between COMMIT and the reply). The first time `shouldBreak` matches a commit's events, the
 * commit is applied and then reported as a lost connection, which the engine treats as transient.
 */
class AmbiguousCommitStore extends SagaStore {
  shouldBreak: ((events: readonly SagaEvent[]) => boolean) | null = null;
  broken = 0;
  /** Commits refused by the sequence fence (the retry of the applied commit must be one). */
  refused = 0;

  override async commit(...args: Parameters<SagaStore["commit"]>): ReturnType<SagaStore["commit"]> {
    const result = await super.commit(...args);
    if (!result.ok) this.refused++;
    if (this.shouldBreak?.(args[3])) {
      this.shouldBreak = null;
      this.broken++;
      throw new Error("Connection terminated unexpectedly");
    }
    return result;
  }
}

/**
 * The driver retries the ambiguous commit, the sequence fence refuses it (it already happened),
 * and the driver reloads: the input it was deciding is now a no-op, but the reloaded state has
 * new steps RUNNING that this replica, the lease holder, must run. Before the fix the no-op
 * returned without acting on the reloaded state, and the saga hung with a renewed lease forever.
 * The lease is long (renewal, which now also reconciles, cannot fire during the test), so this
 * checks the driver itself acts on what it reloads.
 */
describe("ambiguous commit followed by a reload", () => {
  const t = createTestActions();
  let db: TestDatabase;
  let store: AmbiguousCommitStore;
  let replica: EngineReplica;
  beforeEach(async () => {
    db = await createTestDatabase();
    store = new AmbiguousCommitStore(db.pool);
    replica = startEngineReplica({ store, replicaId: "replica-a", actions: t.actions, leaseTtlMs: 60_000 });
  });
  afterEach(async () => {
    await replica?.stop();
    await db?.drop();
  });

  it("runs the steps the applied commit started, once each, and completes the saga", async () => {
    store.shouldBreak = (events) => events.some((e) => e.type === "STEP_COMPLETED" && e.step === "a");
    const created = await replica.engine.create(
      sagaDraft(replica.registry, "ambiguous", [
        { name: "a", action: "record" },
        { name: "b", action: "record", dependsOn: ["a"] },
        { name: "c", action: "record", dependsOn: ["a"] },
      ]),
    );
    const id = created.id;

    const done = await waitForRest(store, id, 3_000);
    expect(store.broken, "the ambiguous commit was not exercised").toBe(1);
    expect(store.refused, "the retried commit should have been refused by the fence").toBeGreaterThanOrEqual(1);
    expect(done.status).toBe("COMPLETED");
    expect(done.steps.map((s) => s.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
    expect(callsFor(t.calls, id, "a")).toHaveLength(1);
    expect(callsFor(t.calls, id, "b")).toHaveLength(1);
    expect(callsFor(t.calls, id, "c")).toHaveLength(1);

    // The applied commit counted once: one STEP_COMPLETED for a, and one for each dependent.
    const events = await store.readEvents(id, 0, 1_000);
    const completed = events.filter((e) => e.type === "STEP_COMPLETED").map((e) => e.step);
    expect(completed.sort()).toEqual(["a", "b", "c"]);
    expect(replica.engine.activeSagaCount()).toBe(0);
  });
});
