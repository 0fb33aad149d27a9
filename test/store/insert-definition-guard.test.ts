import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDefaultRegistry } from "../../src/actions/registry.js";
import type { DefinitionState } from "../../src/domain/definition-record.js";
import { newSaga } from "../../src/domain/new-saga.js";
import type { DefinitionGuard } from "../../src/domain/validate-saga.js";
import { DefinitionStore } from "../../src/store/definition-store.js";
import { EVENTS_CHANNEL, SagaStore } from "../../src/store/saga-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { sagaDraft } from "../helpers/engine-harness.js";
import { waitUntil } from "../helpers/wait.js";

const registry = createDefaultRegistry([]);
const NOW = Date.parse("2030-01-01T00:00:00Z");

describe("a saga from a definition is written only while its version is as it was rendered", () => {
  let db: TestDatabase;
  let sagas: SagaStore;
  let definitions: DefinitionStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One statement in flight: writes issued together wait for it and go as one batch.
    sagas = new SagaStore(db.pool, { maxBatch: 16, maxInFlight: 1 });
    definitions = new DefinitionStore(db.pool);
  });
  afterAll(() => db?.drop());

  async function register(name: string, variant: string, state: DefinitionState = "ACTIVE"): Promise<number> {
    const spec = { steps: [{ name: variant, action: "noop" }] };
    const { record } = await definitions.register({ name, spec, specHash: variant, labels: {}, stepCount: 1, createdBy: "t" }, 0, NOW);
    if (state !== "ACTIVE") await definitions.setState(name, record.version, state, NOW);
    return record.version;
  }

  /** Inserts a saga of `name`@`version` under `guard`; its outcome, and whether a row exists. */
  async function insert(name: string, version: number, guard: DefinitionGuard | null, id = randomUUID()) {
    const { state, created } = newSaga(id, { ...sagaDraft(registry, "guarded", [{ name: "a", action: "noop" }]), definitionRef: { name, version } }, NOW, "test");
    const outcome = await sagas.insertSaga(state, [created], null, null, guard);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM saga_steps WHERE saga_id = $1", [id]);
    return { outcome, stored: (await sagas.loadSaga(id)) !== null, steps: (rows[0] as { n: number }).n };
  }

  it("writes it when the version is in the state seen and, if asked for as the latest, still the latest", async () => {
    await register("fresh", "1");
    expect(await insert("fresh", 1, { state: "ACTIVE", latest: true })).toEqual({ outcome: "created", stored: true, steps: 1 });
    await register("fresh", "2", "DEPRECATED");
    expect(await insert("fresh", 2, { state: "DEPRECATED", latest: true })).toMatchObject({ outcome: "created", stored: true });
    // Asked for by number, an older version still starts.
    expect(await insert("fresh", 1, { state: "ACTIVE", latest: false })).toMatchObject({ outcome: "created", stored: true });
  });

  it("refuses it, writing nothing, when a newer version took over as the latest", async () => {
    await register("moved", "1");
    await register("moved", "2");
    expect(await insert("moved", 1, { state: "ACTIVE", latest: true })).toEqual({ outcome: "definition-changed", stored: false, steps: 0 });
  });

  it("refuses it when the version's state changed, or is DISABLED, or the version does not exist", async () => {
    await register("states", "1", "DEPRECATED");
    expect(await insert("states", 1, { state: "ACTIVE", latest: false })).toMatchObject({ outcome: "definition-changed", stored: false });
    await definitions.setState("states", 1, "DISABLED", NOW);
    // Seen as it was (DEPRECATED) or as it is: a DISABLED version never starts a saga.
    expect(await insert("states", 1, { state: "DEPRECATED", latest: false })).toMatchObject({ outcome: "definition-changed", stored: false });
    expect(await insert("states", 1, { state: "DISABLED", latest: false })).toMatchObject({ outcome: "definition-changed", stored: false });
    expect(await insert("states", 7, { state: "ACTIVE", latest: false })).toMatchObject({ outcome: "definition-changed", stored: false });
    expect(await insert("nameless", 1, { state: "ACTIVE", latest: true })).toMatchObject({ outcome: "definition-changed", stored: false });
  });

  it("tells a repeated id from a refused definition, and leaves sagas without a guard unchecked", async () => {
    await register("repeat", "1");
    const id = randomUUID();
    expect((await insert("repeat", 1, { state: "ACTIVE", latest: true }, id)).outcome).toBe("created");
    expect((await insert("repeat", 1, { state: "ACTIVE", latest: true }, id)).outcome).toBe("exists");
    const { state, created } = newSaga(randomUUID(), sagaDraft(registry, "inline", [{ name: "a", action: "noop" }]), NOW, "test");
    expect(await sagas.insertSaga(state, [created], null, null)).toBe("created");
    // Without a guard a definition's saga is not checked either (the caller took its version as is).
    expect(await insert("no-such-definition", 1, null)).toMatchObject({ outcome: "created", stored: true });
  });

  it("decides each saga of one batched statement on its own, and notifies only the ones written", async () => {
    await register("batch-ok", "1");
    await register("batch-moved", "1");
    await register("batch-moved", "2");
    const repeated = randomUUID();
    expect((await insert("batch-ok", 1, { state: "ACTIVE", latest: true }, repeated)).outcome).toBe("created");
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on("notification", (n) => notified.push(n.payload!.split(":")[0]!));
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    const statements: number[] = [];
    const query = db.pool.query.bind(db.pool);
    db.pool.query = ((...args: Parameters<typeof query>) => {
      const config = args[0] as { name?: string; values?: [string] };
      if (config?.name === "sagad_insert_sagas") statements.push((JSON.parse(config.values![0]) as unknown[]).length);
      return query(...args);
    }) as typeof db.pool.query;
    try {
      // The first write goes alone (one statement in flight); the five after it wait and go together.
      const { state, created } = newSaga(randomUUID(), sagaDraft(registry, "first", [{ name: "a", action: "noop" }]), NOW, "test");
      const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), repeated];
      const results = await Promise.all([
        sagas.insertSaga(state, [created], null, null),
        insert("batch-ok", 1, { state: "ACTIVE", latest: true }, ids[0]),
        insert("batch-moved", 1, { state: "ACTIVE", latest: true }, ids[1]),
        insert("batch-moved", 2, { state: "ACTIVE", latest: true }, ids[2]),
        insert("batch-ok", 1, { state: "DEPRECATED", latest: false }, ids[3]),
        insert("batch-ok", 1, { state: "ACTIVE", latest: true }, ids[4]),
      ]);
      expect(statements).toEqual([1, 5]);
      const [, ...guarded] = results as [unknown, ...Awaited<ReturnType<typeof insert>>[]];
      expect(guarded.map((r) => r.outcome)).toEqual(["created", "definition-changed", "created", "definition-changed", "exists"]);
      expect(guarded.map((r) => r.stored)).toEqual([true, false, true, false, true]);
      const expected = [state.id, ids[0]!, ids[2]!].sort();
      await waitUntil(() => notified.length >= expected.length, "the notifications of the written sagas", 5_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect([...notified].sort()).toEqual(expected);
    } finally {
      db.pool.query = query;
      await listener.end();
    }
  });
});
