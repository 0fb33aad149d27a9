import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { sagaDraft, startEngineReplica, stepOf, waitForRest, type EngineReplica } from "../helpers/engine-harness.js";
import { callsFor } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitUntil } from "../helpers/wait.js";

/**
 * A replica restarted under the same id (a StatefulSet pod) finds sagas whose lease still names
 * it, left by its dead predecessor with attempts in flight. An operator call reaching it first
 * must record the re-run as a recovery (STEP_RECOVERED), as any takeover does, not run the
 * attempt again silently.
 */
describe("a replica restarted under the same id", () => {
  const before = createTestActions();
  const after = createTestActions();
  let db: TestDatabase;
  let dead: EngineReplica;
  let restarted: EngineReplica | undefined;
  beforeEach(async () => {
    db = await createTestDatabase();
    dead = startEngineReplica({ store: new SagaStore(db.pool), replicaId: "pod-0", actions: before.actions, start: false });
  });
  afterEach(async () => {
    await restarted?.stop();
    await dead?.stop();
    await db?.drop();
  });

  it("records STEP_RECOVERED for the attempt its predecessor left in flight, then runs it", async () => {
    const created = await dead.engine.create(
      sagaDraft(dead.registry, "same-id", [
        { name: "g", action: "gate" },
        { name: "p", action: "record", dependsOn: ["g"] },
      ]),
    );
    const id = created.id;
    await waitUntil(() => callsFor(before.calls, id, "g").length === 1, "g started before the crash");
    // The predecessor is gone without releasing anything; its lease (pod-0) has not expired.
    const store = new SagaStore(db.pool);
    restarted = startEngineReplica({ store, replicaId: "pod-0", actions: after.actions, start: false });
    expect((await store.loadSaga(id))!.leaseOwner).toBe("pod-0");

    await restarted.engine.operate(id, { type: "skipStep", step: "p", output: {} }, "SkipStep");
    await waitUntil(() => callsFor(after.calls, id, "g").length === 1, "the restarted replica ran g again");
    after.release(id, "g");
    const done = await waitForRest(store, id);
    expect(done.status).toBe("COMPLETED");
    expect(stepOf(done, "g").attempt).toBe(1);
    const events = await store.readEvents(id, 0, 1_000);
    expect(events.filter((e) => e.type === "STEP_RECOVERED" && e.step === "g").map((e) => e.attempt)).toEqual([1]);
    expect(callsFor(after.calls, id, "g").map((c) => c.attempt)).toEqual([1]);
  });
});
