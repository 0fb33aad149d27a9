import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDefaultRegistry } from "../../src/actions/registry.js";
import { newSaga } from "../../src/domain/new-saga.js";
import { decide } from "../../src/domain/state-machine.js";
import type { SagaState } from "../../src/domain/types.js";
import { SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { sagaDraft, storedSaga } from "../helpers/engine-harness.js";

const OWNER = "batch-test";
const registry = createDefaultRegistry([]);
const env = (now: number) => ({ now, random: () => 0, actor: "engine" });

describe("batched transition commits", () => {
  let db: TestDatabase;
  let store: SagaStore;
  let statements: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    const original = db.pool.query.bind(db.pool);
    statements = 0;
    db.pool.query = ((...args: Parameters<typeof original>) => {
      const config = args[0] as { name?: string };
      if (config?.name === "sagad_commit_transitions") statements++;
      return original(...args);
    }) as typeof db.pool.query;
    store = new SagaStore(db.pool, { maxBatch: 16, maxInFlight: 1 });
  });
  afterAll(() => db?.drop());

  /** A saga created RUNNING with its first step started, leased to OWNER. */
  async function created(): Promise<SagaState> {
    const now = Date.now();
    const { state, created: event } = newSaga(randomUUID(), sagaDraft(registry, "batch", [{ name: "a", action: "noop" }]), now, "test");
    const d = decide(state, { type: "advance" }, env(now));
    expect(await store.insertSaga(d.state, [event, ...d.events], null, { owner: OWNER, until: now + 60_000 })).toBe("created");
    return d.state;
  }

  function complete(saga: SagaState) {
    return decide(saga, { type: "stepSucceeded", step: "a", attempt: 1, output: { ok: true } }, env(Date.now()));
  }

  it("commits many sagas' transitions in few statements, each with its own outcome", async () => {
    const sagas = await Promise.all(Array.from({ length: 40 }, () => created()));
    const before = statements;
    const results = await Promise.all(
      sagas.map((saga, i) => {
        const d = complete(saga);
        // Every fifth one is fenced out: decided from a sequence the saga is not at.
        const from = i % 5 === 0 ? { ...saga, sequence: saga.sequence + 7 } : saga;
        return store.commit(from, d.state, d.changedSteps, d.events, { kind: "owner", owner: OWNER, release: true });
      }),
    );
    expect(statements - before).toBeLessThanOrEqual(4); // 40 commits, at most 16 per statement, one in flight
    expect(statements - before).toBeGreaterThanOrEqual(3);
    for (const [i, result] of results.entries()) {
      const stored = await storedSaga(store, sagas[i]!.id);
      if (i % 5 === 0) {
        expect(result.ok).toBe(false);
        expect(stored.status).toBe("RUNNING");
        expect(stored.sequence).toBe(sagas[i]!.sequence);
      } else {
        expect(result).toEqual({ ok: true, leaseOwner: null });
        expect(stored.status).toBe("COMPLETED");
        expect(stored.steps[0]!.output).toEqual({ ok: true });
        expect((await store.readEvents(sagas[i]!.id, 0, 100)).map((e) => e.sequence)).toEqual(
          Array.from({ length: stored.sequence }, (_, k) => k + 1),
        );
      }
    }
  });

  it("never puts two transitions of one saga in one statement, and keeps their order", async () => {
    const saga = await created();
    const first = decide(saga, { type: "cancel", reason: "" }, { ...env(Date.now()), actor: "CancelSaga" });
    const second = complete(first.state);
    const lease = { kind: "owner", owner: OWNER, release: false } as const;
    const [a, b] = await Promise.all([
      store.commit(saga, first.state, first.changedSteps, first.events, lease),
      store.commit(first.state, second.state, second.changedSteps, second.events, lease),
    ]);
    expect(a.ok).toBe(true);
    expect(b.ok).toBe(true);
    expect((await storedSaga(store, saga.id)).sequence).toBe(second.state.sequence);
  });

  it("fails only the transition that cannot be written, not the rest of its batch", async () => {
    const sagas = await Promise.all(Array.from({ length: 6 }, () => created()));
    const results = await Promise.allSettled(
      sagas.map((saga, i) => {
        const d = complete(saga);
        // An event whose sequence collides with an existing one violates the primary key.
        const events = i === 2 ? d.events.map((e) => ({ ...e, sequence: 1 })) : d.events;
        return store.commit(saga, d.state, d.changedSteps, events, { kind: "owner", owner: OWNER, release: true });
      }),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    expect((await storedSaga(store, sagas[2]!.id)).status).toBe("RUNNING");
    expect((await storedSaga(store, sagas[3]!.id)).status).toBe("COMPLETED");
  });
});
