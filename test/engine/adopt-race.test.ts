import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LoadedSaga } from "../../src/store/saga-store.js";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import {
  deferred,
  sagaDraft,
  startEngineReplica,
  stepOf,
  waitForRest,
  type EngineReplica,
} from "../helpers/engine-harness.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitUntil } from "../helpers/wait.js";

/**
 * Holds the next saga load at a gate once armed (the takeover's load, the first one the claiming
 * replica makes), and counts claim polls: a poll only starts after the previous poll's takeovers
 * have finished, so a new poll proves the held takeover ran to its end.
 */
class GatedLoadStore extends SagaStore {
  private gate: { reached: () => void; open: Promise<void> } | null = null;
  claimPolls = 0;

  /** Resolves `reached` when the next load has its answer; that load returns once `open` resolves. */
  holdNextLoad(open: Promise<void>): Promise<void> {
    const reached = deferred();
    this.gate = { reached: reached.resolve, open };
    return reached.promise;
  }

  override async loadSaga(id: string): Promise<LoadedSaga | null> {
    const loaded = await super.loadSaga(id);
    const gate = this.gate;
    if (gate) {
      this.gate = null;
      gate.reached();
      await gate.open;
    }
    return loaded;
  }

  override async claimSagas(...args: Parameters<SagaStore["claimSagas"]>): ReturnType<SagaStore["claimSagas"]> {
    this.claimPolls++;
    return super.claimSagas(...args);
  }
}

/**
 * Replica B's claim poll takes over a saga another replica left (its step g was in flight), and
 * while the takeover loads the saga an operator call on B (SkipStep of a later step) commits and
 * starts driving it. Before the fix the takeover then started a second driver for the same saga,
 * and g's attempt ran twice at once on one replica.
 */
describe("takeover racing an operator call on the same replica", () => {
  const onGhost = createTestActions();
  const onB = createTestActions();
  let db: TestDatabase;
  let ghost: EngineReplica;
  let b: EngineReplica | undefined;
  let store: GatedLoadStore;
  beforeEach(async () => {
    db = await createTestDatabase();
    ghost = startEngineReplica({ store: new SagaStore(db.pool), replicaId: "ghost", actions: onGhost.actions, start: false });
    store = new GatedLoadStore(db.pool);
  });
  afterEach(async () => {
    await ghost?.stop();
    await b?.stop();
    await db?.drop();
  });

  it("drives the saga with one driver and runs the in-flight attempt once", async () => {
    const created = await ghost.engine.create(
      sagaDraft(ghost.registry, "adopt-race", [
        { name: "g", action: "gate" },
        { name: "p", action: "record", dependsOn: ["g"] },
      ]),
    );
    const id = created.id;
    await waitUntil(() => callsFor(onGhost.calls, id, "g").length === 1, "g started on the ghost replica");
    // The ghost goes away with g in flight (left RUNNING) and its lease free for anyone to claim.
    await ghost.stop(0);
    expect((await store.loadSaga(id))!.leaseOwner).toBeNull();

    const openLoad = deferred();
    const takeoverLoading = store.holdNextLoad(openLoad.promise);
    b = startEngineReplica({ store, replicaId: "replica-b", actions: onB.actions, pollIntervalMs: 50 });
    await takeoverLoading;
    expect((await store.loadSaga(id))!.leaseOwner).toBe("replica-b");
    const pollsBefore = store.claimPolls;

    // The operator call on B commits and starts a driver while the takeover's load is held.
    const skipped = await b.engine.operate(id, { type: "skipStep", step: "p", output: {} }, "SkipStep");
    expect(stepOf(skipped, "p").status).toBe("SKIPPED");
    await waitUntil(() => callsFor(onB.calls, id, "g").length === 1, "the operator's driver ran g");

    openLoad.resolve();
    await waitUntil(() => store.claimPolls > pollsBefore, "the takeover finished and the next claim poll began");
    expect(callsFor(onB.calls, id, "g"), "g's attempt started twice on replica B").toHaveLength(1);
    expect(b.engine.activeSagaCount()).toBe(1);

    onB.release(id, "g");
    const done = await waitForRest(store, id);
    expect(done.status).toBe("COMPLETED");
    expect(stepOf(done, "g").status).toBe("COMPLETED");
    expect(stepOf(done, "g").attempt).toBe(1);
    expect(callsFor(onB.calls, id, "g")).toHaveLength(1);
    expect(callsFor(onB.calls, id, "p")).toHaveLength(0);
    const events = await store.readEvents(id, 0, 1_000);
    expect(events.filter((e) => e.type === "STEP_COMPLETED" && e.step === "g")).toHaveLength(1);
    expect(events.filter((e) => e.type === "STEP_STARTED" && e.step === "g")).toHaveLength(1);
    // The takeover is in the history even though the operator call started the driver first.
    expect(events.filter((e) => e.type === "STEP_RECOVERED" && e.step === "g")).toHaveLength(1);
    expect(b.engine.activeSagaCount()).toBe(0);
  });
});
